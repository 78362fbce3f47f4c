// What a headless run (`--prompt`) shows: the agent's words, not its protocol. Claude Code's
// stream-json and Codex's `exec --json` are read line by line and only their text is printed
// (assistant messages, agent messages, errors); lines that are not JSON, or JSON in no shape
// known here (a generic agent's), go out as they are. The raw stream is `--output stream-json`.
import { plainText } from '../core/terminal-text.js'

type Json = Record<string, unknown>
const record = (v: unknown): Json | null => v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : null
const text = (v: unknown): string | null => typeof v === 'string' && v !== '' ? v : null

// Types of the two protocols that carry no words for a person (init, usage, tool traffic, …).
const SILENT = new Set(['system', 'user', 'result', 'stream_event', 'rate_limit_event', 'thread.started', 'turn.started', 'turn.completed', 'item.started', 'item.updated'])

/** The text a JSON line carries for a person; '' for a known line with none; null when the shape is unknown. */
export const textOfJsonLine = (o: Json): string | null => {
  const type = o.type
  if (typeof type !== 'string') return null
  if (type === 'assistant') {
    const content = record(o.message)?.content
    return Array.isArray(content) ? content.map(c => record(c)?.type === 'text' ? text(record(c)!.text) : null).filter(Boolean).join('\n') : ''
  }
  if (type === 'item.completed') {
    const item = record(o.item)
    if (item?.type === 'agent_message') return text(item.text) ?? ''
    if (item?.type === 'error') return text(item.message) ?? ''
    return ''
  }
  if (type === 'turn.failed') return text(record(o.error)?.message) ?? ''
  if (type === 'error') return text(o.message) ?? ''
  return SILENT.has(type) ? '' : null
}

/** A line's text for a person: null for protocol lines with none, else the text (a blank line stays blank). */
export const textOfLine = (line: string): string | null => {
  const trimmed = line.trim()
  if (trimmed.startsWith('{')) {
    try {
      const o = record(JSON.parse(trimmed))
      if (o) {
        const words = textOfJsonLine(o)
        if (words !== null) return words === '' ? null : words
      }
    } catch { /* not JSON: a line of text */ }
  }
  return plainText(line)
}

export interface TextPrinter {
  write(chunk: Uint8Array): void
  end(): void
  /** Everything this life printed or held back. */
  text(): string
}

/**
 * Prints the text of each complete line. With `repeatOf` (the previous life's text, for a
 * restart), text that repeats it is held back while it does, and printed only from where it
 * differs: a failure that repeats itself is told once.
 */
export const createTextPrinter = (write: (text: string) => void, { repeatOf = null }: { repeatOf?: string | null } = {}): TextPrinter => {
  let pending = Buffer.alloc(0)
  let all = ''
  let shown = 0
  let holding = repeatOf !== null
  const emit = (words: string) => {
    all += `${words}\n`
    if (holding && repeatOf!.startsWith(all)) return
    holding = false
    write(all.slice(shown))
    shown = all.length
  }
  const lines = (final: boolean) => {
    for (;;) {
      const at = pending.indexOf(0x0a)
      if (at === -1 && !(final && pending.length > 0)) return
      const line = pending.subarray(0, at === -1 ? pending.length : at).toString('utf8')
      pending = at === -1 ? Buffer.alloc(0) : pending.subarray(at + 1)
      const words = textOfLine(line)
      if (words !== null) emit(words)
    }
  }
  return {
    write (chunk) {
      pending = Buffer.concat([pending, chunk])
      lines(false)
    },
    end: () => lines(true),
    text: () => all,
  }
}
