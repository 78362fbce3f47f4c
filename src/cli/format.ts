// How results look: tables fitted to the terminal, colors only on a TTY (never with NO_COLOR or
// --no-color), short runner ids, durations, token counts, and messages as JSON (REST's shapes,
// or proto3 JSON with --output proto-json).
import { toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf'
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt'
import { ActivityState, RunnerStatus, type RunnerActivity } from '../gen/stratavore/v1/runner_pb.js'
import type { Io } from './io.js'
import { restJson } from './rest-json.js'

/** text: tables and lines; json: REST's shapes (rest-json.ts); proto-json: proto3 JSON. */
export type OutputFormat = 'text' | 'json' | 'proto-json'

export interface Out {
  /** Colors on stdout. */
  color: boolean
  width: number | undefined
  /** Either JSON form. */
  json: boolean
  format: OutputFormat
  print(text: string): void
  note(text: string): void
}

export const createOut = (io: Io, { format, noColor }: { format: OutputFormat, noColor: boolean }): Out => ({
  color: Boolean(io.stdout.isTTY) && !noColor && !io.env.NO_COLOR && io.env.TERM !== 'dumb',
  width: io.stdout.isTTY ? io.stdout.columns : undefined,
  json: format !== 'text',
  format,
  print: text => { io.stdout.write(text.endsWith('\n') ? text : `${text}\n`) },
  note: text => { io.stderr.write(`${text}\n`) },
})

const SGR = { red: 31, green: 32, yellow: 33, blue: 34, gray: 90, bold: 1 } as const
export type Color = keyof typeof SGR
export const paint = (out: Pick<Out, 'color'>, color: Color, text: string) => out.color ? `\x1b[${SGR[color]}m${text}\x1b[0m` : text

/**
 * A message as JSON: REST's shape, or with --output proto-json proto3 JSON (enum names, 64-bit
 * integers as strings, every field present).
 */
export const jsonOf = <D extends DescMessage>(out: Pick<Out, 'format'>, schema: D, message: MessageShape<D>) =>
  out.format === 'proto-json' ? toJson(schema, message, { alwaysEmitImplicit: true }) : restJson(schema, message)
export const printJson = (out: Out, value: unknown) => out.print(JSON.stringify(value, null, 2))

/** RUNNER_STATUS_RUNNING → running. */
export const enumWord = (name: string | undefined) => (name ?? 'unknown').replace(/^[A-Z]+_STATUS_|^CONVERSATION_MODE_|^ACTIVITY_STATE_/, '').toLowerCase()
export const runnerStatusWord = (s: RunnerStatus) => enumWord(RunnerStatus[s])

const STATUS_COLOR: Record<string, Color> = {
  running: 'green', active: 'green', pending: 'yellow', starting: 'yellow', paused: 'yellow', stopping: 'yellow',
  lost: 'red', failed: 'red', terminated: 'gray', idle: 'gray', archived: 'gray',
}
export const statusCell = (out: Out, word: string) => STATUS_COLOR[word] ? paint(out, STATUS_COLOR[word]!, word) : word

const ACTIVITY_COLOR: Record<string, Color> = {
  working: 'green', waiting_permission: 'yellow', waiting_input: 'yellow', rate_limited: 'yellow', error: 'red', idle: 'gray', unknown: 'gray',
}
/** The agent's activity in a table cell: its state, and for how long when it waits ("waiting_input 4m"). */
export const activityCell = (out: Out, activity: RunnerActivity | undefined, now: number): string => {
  if (!activity) return '-'
  const word = enumWord(ActivityState[activity.state])
  const since = dateOf(activity.since)?.getTime()
  const waited = word.startsWith('waiting') && since ? ` ${formatDuration(now - since)}` : ''
  return paint(out, ACTIVITY_COLOR[word] ?? 'gray', `${word}${waited}`)
}

export const ACTIVE_STATUSES = new Set([RunnerStatus.PENDING, RunnerStatus.STARTING, RunnerStatus.RUNNING, RunnerStatus.PAUSED])
export const FINISHED_STATUSES = new Set([RunnerStatus.TERMINATED, RunnerStatus.FAILED])

// Runner ids are UUIDv7: the first 12 hex digits are the creation millisecond, so runners
// launched together share long prefixes. Each table shows the shortest prefix (at least 8)
// that tells apart every id it was computed over, all the same length, as docker does with 12.
export const shortIdLength = (ids: string[], min = 8): number => {
  for (let length = min; length < 36; length++) {
    if (new Set(ids.map(id => id.slice(0, length))).size === ids.length) return length
  }
  return 36
}

export const formatDuration = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
  return `${Math.floor(s / 86_400)}d${Math.floor(s / 3600) % 24}h`
}

export const dateOf = (t: Timestamp | undefined) => t ? timestampDate(t) : undefined
export const ago = (t: Timestamp | undefined, now = Date.now()) => t ? `${formatDuration(now - timestampDate(t).getTime())} ago` : '-'

export const formatTokens = (n: bigint | number): string => {
  const v = Number(n)
  if (v >= 1_000_000) return `${(v / 1_000_000).toFixed(1)}M`
  if (v >= 10_000) return `${Math.round(v / 1000)}K`
  if (v >= 1000) return `${(v / 1000).toFixed(1)}K`
  return String(v)
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g
const visibleLength = (s: string) => s.replace(ANSI, '').length
const truncate = (s: string, width: number) => {
  if (visibleLength(s) <= width) return s
  const plain = s.replace(ANSI, '')
  return width <= 1 ? plain.slice(0, width) : `${plain.slice(0, width - 1)}…`
}

export interface Column { header: string, /** May be cut with … when the terminal is too narrow. */ flex?: boolean }

/**
 * Columns separated by two spaces; on a terminal narrower than the table, the flex columns
 * (paths, summaries) give up width first, down to 8 characters each.
 */
export const table = (out: Out, columns: Column[], rows: string[][]): string => {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map(r => visibleLength(r[i] ?? ''))))
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (columns.length - 1)
  if (out.width !== undefined) {
    for (let i = columns.length - 1; i >= 0 && total() > out.width; i--) {
      if (columns[i]!.flex) widths[i] = Math.max(8, widths[i]! - (total() - out.width))
    }
  }
  const line = (cells: string[]) => cells.map((cell, i) => {
    const text = truncate(cell, widths[i]!)
    return i === cells.length - 1 ? text : text + ' '.repeat(widths[i]! - visibleLength(text))
  }).join('  ').trimEnd()
  return [line(columns.map(c => paint(out, 'bold', c.header))), ...rows.map(line)].join('\n')
}
