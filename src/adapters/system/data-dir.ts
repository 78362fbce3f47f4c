// The data dir holds secrets (audit.key, the node identity, the embedded database's files):
// only the daemon's own user may read it. It is made 0700 and its files 0600, and on start a
// looser mode left by an older version, a restore or a hand-made directory is tightened with a
// warning. Entries owned by another user are refused rather than taken over: the daemon cannot
// know who else relies on them, and running as root must not make another user's files ours.
//
// Only the data dir and its top-level entries are checked. The pglite directory alone holds about
// a thousand files, and PGlite creates new ones 0666 whatever the umask, so their own modes can
// never be relied on: what keeps other users out of them is that nobody else may enter the
// directories above them (the data dir and pglite/, both 0700), which is what is checked.
import { mkdirSync, readdirSync, statSync, chmodSync, type Stats } from 'node:fs'
import { dirname, join } from 'node:path'
import { AppError } from '../../core/errors.js'

/** Creates the data dir, or a directory in it, 0700 if it is missing; its parents get the usual modes. */
export const ensureDataDir = (dir: string): void => {
  mkdirSync(dirname(dir), { recursive: true })
  try {
    mkdirSync(dir, { mode: 0o700 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
}

export interface Repair { path: string, from: string, to: string }

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0')

const refuse = (message: string, path: string) =>
  new AppError({ code: 'DATA_DIR_UNSAFE', kind: 'failed_precondition', message, details: { path } })

/**
 * Checks the data dir, if it exists, and tightens loose modes; returns what it changed, for the
 * caller to warn about. Throws DATA_DIR_UNSAFE when an entry is another user's or cannot be fixed.
 * `uid`: the daemon's user (a parameter so tests need not switch users).
 */
export const secureDataDir = (dir: string, uid: number | undefined = process.getuid?.()): Repair[] => {
  // No uids (Windows): modes mean nothing there either.
  if (uid === undefined) return []
  let top: Stats
  try {
    top = statSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [] // made 0700 when first needed
    throw refuse(`cannot check the data dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, dir)
  }
  if (!top.isDirectory()) throw refuse(`the data dir ${dir} is not a directory`, dir)
  const repairs: Repair[] = []
  const check = (path: string, stats: Stats) => {
    const what = path === dir ? `the data dir ${dir}` : `${path} in the data dir`
    if (stats.uid !== uid) {
      throw refuse(`${what} is owned by uid ${stats.uid}, not by this daemon's user (uid ${uid}); ` +
        'chown it to the daemon\'s user or point daemon.data_dir elsewhere', path)
    }
    if ((stats.mode & 0o077) === 0) return
    // Directories 0700, files 0600 or stricter: only the group and other bits are taken away.
    const to = stats.mode & 0o700
    try {
      chmodSync(path, to)
    } catch (err) {
      throw refuse(`${what} has mode ${octal(stats.mode)} and cannot be made ${octal(to)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, path)
    }
    repairs.push({ path, from: octal(stats.mode), to: octal(to) })
  }
  check(dir, top)
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    let stats: Stats
    // A symlink is judged by what it points to: that is what gets read and written.
    try { stats = statSync(path) } catch { continue } // gone meanwhile, or a dangling link
    check(path, stats)
  }
  return repairs
}
