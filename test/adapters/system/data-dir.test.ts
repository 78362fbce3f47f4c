// The data dir's modes and owners: created 0700, loose modes tightened (and reported), another
// user's entries refused. As root, files are chowned to `nobody`; as anyone else, the check is
// told the daemon runs as `nobody`, which makes the test's own files another user's.
import { chmodSync, chownSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ensureDataDir, secureDataDir } from '../../../src/adapters/system/data-dir.js'
import { tempDir } from '../../helpers/temp-dir.js'

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8)
const NOBODY = 65534
const uid = process.getuid!()

t.test('ensureDataDir makes the dir 0700 and leaves its parents alone', async t => {
  const root = tempDir(t)
  const dir = join(root, 'share', 'stratavore')
  ensureDataDir(dir)
  t.equal(modeOf(dir), '700')
  t.not(modeOf(join(root, 'share')), '700', 'a parent gets the usual mode')
  ensureDataDir(dir)
  t.equal(modeOf(dir), '700', 'a second call is harmless')
})

t.test('a missing data dir is fine (made 0700 when first needed)', async t => {
  t.same(secureDataDir(join(tempDir(t), 'nothing-yet'), uid), [])
})

t.test('loose modes of the dir and its top-level entries are tightened and reported', async t => {
  const dir = join(tempDir(t), 'data')
  mkdirSync(dir, { mode: 0o755 })
  chmodSync(dir, 0o755)
  writeFileSync(join(dir, 'audit.key'), 'k1=secret', { mode: 0o644 })
  writeFileSync(join(dir, 'node-identity.json'), '{}', { mode: 0o600 })
  writeFileSync(join(dir, 'read-only'), 'x', { mode: 0o444 })
  mkdirSync(join(dir, 'pglite'), { mode: 0o755 })
  writeFileSync(join(dir, 'pglite', 'PG_VERSION'), '17', { mode: 0o666 })
  chmodSync(join(dir, 'pglite', 'PG_VERSION'), 0o666)
  symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'))

  const repairs = secureDataDir(dir, uid)
  t.same(repairs.map(r => [r.path.slice(dir.length), r.from, r.to]).sort(), [
    ['', '0755', '0700'],
    ['/audit.key', '0644', '0600'],
    ['/pglite', '0755', '0700'],
    ['/read-only', '0444', '0400'],
  ])
  t.equal(modeOf(dir), '700')
  t.equal(modeOf(join(dir, 'audit.key')), '600')
  t.equal(modeOf(join(dir, 'read-only')), '400', 'only group and other bits are taken away')
  t.equal(modeOf(join(dir, 'pglite')), '700')
  t.equal(modeOf(join(dir, 'pglite', 'PG_VERSION')), '666', 'entries below the top level are not visited: their directory keeps others out')
  t.same(secureDataDir(dir, uid), [], 'nothing left to repair on the next start')
})

t.test('another user\'s data dir, or entry in it, is refused', async t => {
  const asRoot = uid === 0
  const [daemon, other] = asRoot ? [uid, NOBODY] : [NOBODY, uid]
  const refused = (what: string) => ({
    code: 'DATA_DIR_UNSAFE',
    message: `${what} is owned by uid ${other}, not by this daemon's user (uid ${daemon}); chown it to the daemon's user or point daemon.data_dir elsewhere`,
  })
  const dir = join(tempDir(t), 'data')
  mkdirSync(dir, { mode: 0o700 })
  const key = join(dir, 'audit.key')
  writeFileSync(key, 'k1=secret', { mode: 0o644 })
  if (asRoot) {
    chownSync(key, NOBODY, NOBODY)
    t.throws(() => secureDataDir(dir, daemon), refused(`${key} in the data dir`))
    t.equal(modeOf(key), '644', 'not touched')
    chownSync(dir, NOBODY, NOBODY)
  }
  chmodSync(dir, 0o755)
  t.throws(() => secureDataDir(dir, daemon), refused(`the data dir ${dir}`))
  t.equal(modeOf(dir), '755', 'not touched')
})

t.test('a data dir that is a file is refused', async t => {
  const file = join(tempDir(t), 'data')
  writeFileSync(file, '')
  t.throws(() => secureDataDir(file, uid), { code: 'DATA_DIR_UNSAFE', message: `the data dir ${file} is not a directory` })
})
