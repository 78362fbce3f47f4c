// What a runner's end says about itself: a one-line reason ("exited with code 1 at start: Not
// logged in · Please run /login") read from the last output of its process, the bounded tail
// of that output kept in the database, and whether two failures at start are the same failure
// (then restarting again would only repeat it).
import { plainText } from '../terminal-text.js'

/** The tail of a process's output kept when it ends: enough for the error an agent prints last. */
export const RUNNER_OUTPUT_BYTES = 64 * 1024
const REASON_WORDS = 200

export interface ExitInfo { code: number | null, signal: string | null }

export const keptOutput = (output: Uint8Array): Buffer => {
  const buffer = Buffer.from(output.buffer, output.byteOffset, output.byteLength)
  return Buffer.from(buffer.subarray(Math.max(0, buffer.length - RUNNER_OUTPUT_BYTES)))
}

export const describeExit = (exit: ExitInfo) => exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`

const shorten = (text: string) => {
  const one = text.replace(/\s+/g, ' ').trim()
  return one.length <= REASON_WORDS ? one : `${one.slice(0, REASON_WORDS - 1)}…`
}

const asText = (value: unknown): string | null => typeof value === 'string' && value.trim() !== '' ? value : null
const record = (value: unknown): Record<string, unknown> | null => value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : null

/**
 * The message of one JSON line of an agent's structured output, when it carries one: Claude's
 * stream-json `result` (and its error text), Codex's `error`, `turn.failed` and last
 * `agent_message`, or any `{error: …}` / `{message: …}`. Null for lines that say nothing.
 */
const messageOfJson = (line: string): string | null => {
  let parsed: unknown
  try { parsed = JSON.parse(line) } catch { return null }
  const o = record(parsed)
  if (!o) return null
  const item = record(o.item)
  const error = record(o.error)
  if (o.type === 'result') return asText(o.result) ?? asText(o.error) ?? (o.is_error === true ? asText(o.subtype) : null)
  if (o.type === 'turn.failed' || o.type === 'error') return asText(error?.message) ?? asText(o.message) ?? asText(o.error)
  if (o.type === 'item.completed' && item) return item.type === 'error' ? asText(item.message) : item.type === 'agent_message' ? asText(item.text) : null
  if (o.type === 'assistant' && asText(o.error)) {
    const content = Array.isArray(record(o.message)?.content) ? record(o.message)!.content as unknown[] : []
    return content.map(c => asText(record(c)?.text)).find(Boolean) ?? asText(o.error)
  }
  if (o.type !== undefined) return null
  return asText(error?.message) ?? asText(o.error) ?? asText(o.message)
}

/** The last thing the output says: its last line with words in it, read through JSON when it is JSON. */
export const lastWords = (output: Uint8Array): string | null => {
  const lines = plainText(output).split('\n')
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (!/[\p{L}\p{N}]/u.test(line)) continue
    if (line.startsWith('{')) {
      const message = messageOfJson(line)
      if (message) return shorten(message)
      // A JSON line with nothing to say (an init record, usage): look further up.
      try { JSON.parse(line); continue } catch { /* not JSON after all: it is text */ }
    }
    return shorten(line)
  }
  return null
}

/** The reason a runner's process ended, in one line. */
export const exitReason = (exit: ExitInfo, output: Uint8Array, { atStart }: { atStart: boolean }) => {
  const words = lastWords(output)
  return `${describeExit(exit)}${atStart ? ' at start' : ''}${words ? `: ${words}` : ''}`
}

/**
 * What makes two failures the same: the exit and the output's text, with what differs from one
 * life to the next (ids, counters, times) taken out.
 */
export const failureFingerprint = (exit: ExitInfo, output: Uint8Array): string =>
  `${exit.code}|${exit.signal}|${plainText(output)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, 'ID')
    .replace(/\d+/g, '0')
    .replace(/\s+/g, ' ')
    .trim()}`
