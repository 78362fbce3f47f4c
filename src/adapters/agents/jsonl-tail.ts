// Incremental reader for a JSONL file another process appends to (Claude transcripts, Codex
// rollouts, Aider analytics logs). It remembers the byte offset, keeps a partial last line until
// its newline arrives, and never throws: a missing file reads as nothing yet, a malformed line is
// skipped. It does not interpret records; the adapters do.
import { open, stat } from 'node:fs/promises'
import { statSync } from 'node:fs'

export interface JsonlTail {
  readonly path: string
  /** Parsed objects of the complete lines appended since the last read. */
  read(): Promise<Array<Record<string, unknown>>>
}

/** Size of a file now, 0 when it does not exist: the baseline for "written after this moment". */
export const sizeNow = (path: string): number => {
  try { return statSync(path).size } catch { return 0 }
}

// Reads at most this much per call so one poll cannot balloon memory on a huge transcript.
const CHUNK = 4 * 1024 * 1024

export const createJsonlTail = (path: string, startOffset = 0): JsonlTail => {
  let offset = startOffset
  let partial = Buffer.alloc(0)
  let reading: Promise<Array<Record<string, unknown>>> | null = null

  const readOnce = async (): Promise<Array<Record<string, unknown>>> => {
    let size: number
    try { size = (await stat(path)).size } catch { return [] }
    // A file that shrank was rewritten or truncated; start over rather than read garbage.
    if (size < offset) { offset = 0; partial = Buffer.alloc(0) }
    if (size === offset) return []
    const length = Math.min(size - offset, CHUNK)
    const buf = Buffer.alloc(length)
    let got = 0
    try {
      const handle = await open(path, 'r')
      try { got = (await handle.read(buf, 0, length, offset)).bytesRead } finally { await handle.close() }
    } catch { return [] }
    offset += got
    const data = Buffer.concat([partial, buf.subarray(0, got)])
    const lastNewline = data.lastIndexOf(0x0a)
    if (lastNewline < 0) { partial = data; return [] }
    partial = Buffer.from(data.subarray(lastNewline + 1))
    return parseLines(data.subarray(0, lastNewline).toString('utf8'))
  }

  return {
    path,
    // Serialised: two overlapping polls must not read the same bytes twice.
    read: () => {
      const next = (reading ?? Promise.resolve([])).then(() => readOnce())
      reading = next
      return next
    },
  }
}

export const parseLines = (text: string): Array<Record<string, unknown>> => {
  const out: Array<Record<string, unknown>> = []
  for (const line of text.split('\n')) {
    const record = parseJsonObject(line)
    if (record) out.push(record)
  }
  return out
}

/** One JSON object from a line, or null for blank lines, garbage and non-objects. */
export const parseJsonObject = (line: string): Record<string, unknown> | null => {
  const trimmed = line.trim()
  if (!trimmed.startsWith('{')) return null
  try {
    const value: unknown = JSON.parse(trimmed)
    return asRecord(value)
  } catch {
    return null
  }
}

export const asRecord = (value: unknown): Record<string, unknown> | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null

/** A non-negative finite number, else 0: usage fields from other programs are not trusted. */
export const count = (value: unknown): number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0

export const str = (value: unknown): string | null => typeof value === 'string' && value !== '' ? value : null
