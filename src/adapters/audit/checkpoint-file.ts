// `<data_dir>/audit-checkpoints.jsonl`: audit checkpoints (src/core/audit/checkpoint.ts) where a
// database role cannot rewrite them. Opened for append only, mode 0600, each line synced before
// append() resolves. It is read from its end, since only the newest valid line matters and the
// file only grows.
import { constants } from 'node:fs'
import { mkdir, open, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { CheckpointLog } from '../../core/ports.js'

export const CHECKPOINT_FILE = 'audit-checkpoints.jsonl'

const CHUNK_BYTES = 64 * 1024
const NEWLINE = 0x0a

const exists = async (path: string) => {
  try { await stat(path); return true } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

const syncDirectory = async (dir: string) => {
  const handle = await open(dir, constants.O_RDONLY)
  try { await handle.sync() } finally { await handle.close() }
}

/** The byte before `size`, or null for an empty file. */
const lastByte = async (path: string): Promise<number | null> => {
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    if (size === 0) return null
    const buffer = Buffer.alloc(1)
    await handle.read(buffer, 0, 1, size - 1)
    return buffer[0]!
  } finally { await handle.close() }
}

export const createCheckpointFile = (dataDir: string): CheckpointLog => {
  const path = join(dataDir, CHECKPOINT_FILE)
  return {
    location: path,

    async append (line) {
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const created = !await exists(path)
      // A line torn by a crash mid-write must not swallow the next one: start on a line of our own.
      const separator = !created && ![null, NEWLINE].includes(await lastByte(path)) ? '\n' : ''
      const handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600)
      try {
        await handle.write(`${separator}${line}\n`)
        await handle.sync()
      } finally { await handle.close() }
      // The new file's directory entry must be durable too, or a crash could lose the file.
      if (created) await syncDirectory(dirname(path))
    },

    async * newestFirst () {
      let handle
      try { handle = await open(path, 'r') } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
        throw err
      }
      try {
        let end = (await handle.stat()).size
        // Bytes right of the newest newline not yet passed: the start of a line lies further left.
        let partial = Buffer.alloc(0)
        while (end > 0) {
          const start = Math.max(0, end - CHUNK_BYTES)
          const chunk = Buffer.alloc(end - start)
          await handle.read(chunk, 0, chunk.length, start)
          end = start
          const data = Buffer.concat([chunk, partial])
          let right = data.length
          for (let i = data.length - 1; i >= 0; i--) {
            if (data[i] !== NEWLINE) continue
            const line = data.subarray(i + 1, right).toString('utf8')
            if (line.trim() !== '') yield line
            right = i
          }
          partial = data.subarray(0, right)
        }
        const first = partial.toString('utf8')
        if (first.trim() !== '') yield first
      } finally { await handle.close() }
    },
  }
}
