// A live agent's transcript on this host's disk: read slice by slice for the archive (with the
// conversation facts its complete lines hold), and an archived one written back before a resume,
// at the same path under the CLI's home that it had where it was read. Never throws on a
// transcript that is missing or garbled; a name that would leave the home is refused.
import { chown, mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path'
import { parseLines, sizeNow } from '../agents/jsonl-tail.js'
import type { TranscriptFacts } from '../agents/types.js'
import type { TranscriptRestore } from '../../core/supervisor/agent-runtime.js'
import type { TranscriptSlice } from '../../core/sessions/session.js'

const NO_FACTS = { messages: 0, summary: null, firstPrompt: null }

/** The transcript's name under the CLI's home, or null when it lies elsewhere. */
const nameUnder = (home: string, path: string): string | null => {
  const name = relative(home, path)
  return name === '' || isAbsolute(name) || name.split(sep).includes('..') ? null : name
}

export const createTranscriptReader = (home: string | null, pathNow: () => string | null, facts: TranscriptFacts | null) => {
  // A line split between two slices is parsed once its end arrives; a read from another offset
  // (a retry) starts over, and its first partial line is skipped as garbage.
  let carry = Buffer.alloc(0)
  let expected = -1

  return async (offset: number, maxBytes: number): Promise<TranscriptSlice | 'shrank' | null> => {
    const path = pathNow()
    if (!path || home === null) return null
    let size: number
    try { size = (await stat(path)).size } catch { return null }
    if (size < offset) return 'shrank'
    const buf = Buffer.alloc(Math.min(size - offset, maxBytes))
    let got = 0
    if (buf.length > 0) {
      const handle = await open(path, 'r')
      try { got = (await handle.read(buf, 0, buf.length, offset)).bytesRead } finally { await handle.close() }
    }
    const data = buf.subarray(0, got)
    if (facts) {
      const text = offset === expected ? Buffer.concat([carry, data]) : data
      const end = text.lastIndexOf(0x0a)
      for (const record of end < 0 ? [] : parseLines(text.subarray(0, end).toString('utf8'))) facts.add(record)
      carry = Buffer.from(text.subarray(end + 1))
      expected = offset + got
    }
    return { offset, data, name: nameUnder(home, path), ...(facts?.take() ?? NO_FACTS) }
  }
}

/** `home/name`, refusing a name that is absolute or climbs out of the home. */
export const restorePath = (home: string, name: string): string => {
  const clean = normalize(name)
  if (isAbsolute(clean) || clean.split(sep).includes('..') || clean === '.' || name.includes('\u0000')) {
    throw new Error(`the archived transcript's name ${JSON.stringify(name)} is not a path under the agent's home`)
  }
  return join(home, clean)
}

/** The directories mkdir -p would create for `dir`, outermost first. */
const missingDirs = async (dir: string): Promise<string[]> => {
  const missing: string[] = []
  for (let d = dir; ; d = dirname(d)) {
    try { await stat(d); break } catch { missing.unshift(d) }
    if (dirname(d) === d) break
  }
  return missing
}

/**
 * Writes the archive to `home/name` unless the file there already holds at least as much (this
 * host ran the session last). Written beside it and renamed, so the CLI never reads half a file;
 * owned by the agent's user when it runs as another one.
 */
export const restoreTranscript = async (home: string, restore: TranscriptRestore, owner?: { uid: number, gid: number }): Promise<boolean> => {
  const target = restorePath(home, restore.name)
  if (sizeNow(target) >= restore.bytes) return false
  const created = await missingDirs(dirname(target))
  await mkdir(dirname(target), { recursive: true, mode: 0o700 })
  if (owner) for (const dir of created) await chown(dir, owner.uid, owner.gid)
  const temporary = `${target}.stratavore-restore-${process.pid}`
  try {
    const handle = await open(temporary, 'w', 0o600)
    let written = 0
    try {
      for await (const chunk of restore.read()) {
        await handle.write(chunk)
        written += chunk.byteLength
      }
    } finally { await handle.close() }
    if (written !== restore.bytes) throw new Error(`the archive of ${restore.name} holds ${written} bytes, not the ${restore.bytes} recorded`)
    if (owner) await chown(temporary, owner.uid, owner.gid)
    await rename(temporary, target)
  } catch (err) {
    await rm(temporary, { force: true })
    throw err
  }
  return true
}
