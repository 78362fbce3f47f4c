// Reading a usage or rate limit out of what an agent CLI writes, structured fields first and
// the printed message only when nothing structured says when the limit resets. What each CLI
// writes was recorded from the real binaries against a mock model API (README, Usage limits):
//
// Claude Code 2.1.332, on a 429 it does not retry (`x-should-retry: false`) with the
// `anthropic-ratelimit-unified-*` headers:
//   stream-json  {"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":<epoch s>,…}}
//                {"type":"assistant",…,"error":"rate_limit","api_error":"usage_limit_reached","api_error_params":{"rate_limit_info":{"resetsAt":<epoch s>}}}
//                {"type":"result","is_error":true,"api_error":"usage_limit_reached","result":"You've hit your 5-hour limit · resets 7:29pm (UTC)"}
//   transcript   {"type":"assistant","isApiErrorMessage":true,"error":"rate_limit","apiError":"usage_limit_reached","apiErrorParams":{"rate_limit_info":{"resetsAt":…}},"quotaLimits":{"resetsAt":…}}
// A 429 it does retry shows only as `system/api_retry` events: the CLI is still working on it.
//
// Codex 0.169, on a 429 whose body says `usage_limit_reached`:
//   stdout   {"type":"turn.failed","error":{"message":"You’ve hit your usage limit. … try again at 7:29 PM."}}
//   rollout  {"type":"event_msg","payload":{"type":"token_count","rate_limits":{"primary":{"used_percent":100,"resets_at":<epoch s>},…}}}
//            {"type":"event_msg","payload":{"type":"task_complete","error":{"message":…,"codex_error_info":"usage_limit_exceeded"}}}
// Codex prints the reset in the local time of its process; the supervisor's zone is taken for it.
import { asRecord, str } from './jsonl-tail.js'

/** A limit the agent reported: when it resets, if it said. */
export interface UsageLimit {
  resetsAt: Date | null
  /** The CLI's own words, one line, for the event and the log. */
  message: string | null
  /** Where it was read: the CLI's structured stdout or its transcript (the runner's activity says so). */
  source: 'stream' | 'transcript'
}

const num = (v: unknown): number | null => typeof v === 'number' && Number.isFinite(v) ? v : null

/** Epoch seconds as a Date; null for what cannot be a time (0, negative, beyond year 9999). */
export const epochSeconds = (v: unknown): Date | null => {
  const n = num(v) ?? (typeof v === 'string' && /^\d{9,11}$/.test(v) ? Number(v) : null)
  return n !== null && n > 0 && n < 253_402_300_800 ? new Date(Math.round(n) * 1000) : null
}

const oneLine = (text: string | null): string | null => text === null ? null : text.replace(/\s+/g, ' ').trim().slice(0, 300) || null

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** The offset of `timeZone` from UTC at `at`, in ms (null: not a zone this runtime knows). */
const offsetMs = (at: Date, timeZone: string): number | null => {
  try {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    }).formatToParts(at).map(p => [p.type, p.value]))
    const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second))
    return wall - Math.floor(at.getTime() / 1000) * 1000
  } catch {
    return null
  }
}

/** A wall-clock time in a zone as an instant (DST gaps land an hour off, which is harmless here). */
const zonedTime = (y: number, mo: number, d: number, h: number, mi: number, timeZone: string): Date | null => {
  const guess = Date.UTC(y, mo, d, h, mi)
  const first = offsetMs(new Date(guess), timeZone)
  if (first === null) return null
  const second = offsetMs(new Date(guess - first), timeZone) ?? first
  return new Date(guess - second)
}

/** "7:29pm", "7pm", "7:29 PM", "19:29" → hours and minutes; null when it is none of those. */
const clockOf = (text: string): { h: number, m: number } | null => {
  const match = /^(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?$/i.exec(text.trim())
  if (!match) return null
  let h = Number(match[1])
  const m = Number(match[2] ?? 0)
  const meridiem = match[3]?.toLowerCase().replace(/\./g, '')
  if (m > 59) return null
  if (meridiem) {
    if (h < 1 || h > 12) return null
    h = (h % 12) + (meridiem === 'pm' ? 12 : 0)
  } else if (h > 23 || match[2] === undefined) return null
  return { h, m }
}

/**
 * The reset time a limit message states: Claude's "resets 7:29pm (UTC)" / "resets Dec 8, 7pm
 * (Europe/Paris)", Codex's "try again at 7:29 PM." / "try again at Dec 8th, 2026 7:29 PM.". A
 * time with no date is its next occurrence, or the minute just gone (the text drops the seconds). Null when the text names no time this
 * can read, or a zone this runtime does not know.
 */
export const resetFromText = (text: string, now: Date, localZone: string): Date | null => {
  const match = /(?:resets|try again at)\s+(?:(?<mon>[A-Za-z]{3})[a-z]*\.?\s+(?<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(?<year>\d{4}),?\s+)?(?:at\s+)?)?(?<clock>\d{1,2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?)(?:\s*\((?<zone>[A-Za-z_+\-/0-9]{1,64})\))?/i.exec(text)
  if (!match?.groups) return null
  const { mon, day, year, clock, zone } = match.groups
  const time = clockOf(clock!)
  if (!time) return null
  const timeZone = zone ?? localZone
  if (offsetMs(now, timeZone) === null) return null
  const today = new Date(now.getTime() + offsetMs(now, timeZone)!)
  if (mon) {
    const month = MONTHS.indexOf(mon.toLowerCase())
    const date = Number(day)
    if (month < 0 || date < 1 || date > 31) return null
    const explicitYear = year ? Number(year) : null
    let at = zonedTime(explicitYear ?? today.getUTCFullYear(), month, date, time.h, time.m, timeZone)
    // "Jan 2" read in late December is next year's.
    if (at && explicitYear === null && at.getTime() < now.getTime() - 86_400_000) at = zonedTime(today.getUTCFullYear() + 1, month, date, time.h, time.m, timeZone)
    return at
  }
  let at = zonedTime(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), time.h, time.m, timeZone)
  // The text gives whole minutes: a time of the last two is this reset, now; older is tomorrow's.
  if (at && at.getTime() <= now.getTime() - 120_000) at = zonedTime(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1, time.h, time.m, timeZone)
  return at
}

export interface LimitReader {
  /** One record: a stream-json event, a transcript or rollout line. Never throws. */
  add(record: Record<string, unknown>, source: UsageLimit['source']): void
  /** The limit reported so far, or null. */
  limit(): UsageLimit | null
}

interface ReaderOptions { now?: () => Date, localZone?: string }

const defaultZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'

/** Claude Code's stream-json events and transcript records (see the top of this file). */
export const createClaudeLimitReader = ({ now = () => new Date(), localZone = defaultZone() }: ReaderOptions = {}): LimitReader => {
  let hinted: Date | null = null
  let found: UsageLimit | null = null
  const report = (resetsAt: Date | null, message: string | null, source: UsageLimit['source']) => {
    found = { resetsAt: resetsAt ?? hinted ?? found?.resetsAt ?? (message ? resetFromText(message, now(), localZone) : null), message: oneLine(message) ?? found?.message ?? null, source: found?.source ?? source }
  }
  const textOf = (message: unknown): string | null => {
    const content = asRecord(message)?.content
    if (!Array.isArray(content)) return null
    return content.map(block => str(asRecord(block)?.text) ?? '').join(' ').trim() || null
  }
  return {
    add (record, source) {
      try {
        if (record.type === 'rate_limit_event') {
          const info = asRecord(record.rate_limit_info)
          if (info?.status === 'rejected' && info.isUsingOverage !== true) hinted = epochSeconds(info.resetsAt) ?? hinted
          return
        }
        const apiError = record.api_error ?? record.apiError
        if (apiError !== 'usage_limit_reached') return
        const params = asRecord(record.api_error_params ?? record.apiErrorParams)
        const resetsAt = epochSeconds(asRecord(params?.rate_limit_info)?.resetsAt) ?? epochSeconds(asRecord(record.quotaLimits)?.resetsAt)
        report(resetsAt, record.type === 'result' ? str(record.result) : textOf(record.message), source)
      } catch { /* a record of a shape no CLI wrote: ignored */ }
    },
    limit: () => found,
  }
}

/** Codex's rollout records and `exec --json` events (see the top of this file). */
export const createCodexLimitReader = ({ now = () => new Date(), localZone = defaultZone() }: ReaderOptions = {}): LimitReader => {
  let windowReset: Date | null = null
  let found: UsageLimit | null = null
  const USAGE_LIMIT_TEXT = /hit your usage limit|usage limit reached/i
  return {
    add (record, source) {
      try {
        const payload = asRecord(record.payload)
        if (record.type === 'event_msg' && payload?.type === 'token_count') {
          // The window that is used up is the one that resets the limit; the later of two.
          const limits = asRecord(payload.rate_limits)
          const full = [asRecord(limits?.primary), asRecord(limits?.secondary)]
            .filter(w => (num(w?.used_percent) ?? 0) >= 100).map(w => epochSeconds(w?.resets_at)).filter((d): d is Date => d !== null)
          windowReset = full.length > 0 ? new Date(Math.max(...full.map(d => d.getTime()))) : null
          return
        }
        const error = record.type === 'event_msg' && payload?.type === 'task_complete'
          ? asRecord(payload.error)
          : record.type === 'turn.failed' ? asRecord(record.error) : null
        if (!error) return
        const message = str(error.message)
        if (error.codex_error_info !== 'usage_limit_exceeded' && !(message && USAGE_LIMIT_TEXT.test(message))) return
        found = { resetsAt: windowReset ?? (message ? resetFromText(message, now(), localZone) : null) ?? found?.resetsAt ?? null, message: oneLine(message), source: found?.source ?? source }
      } catch { /* a record of a shape no CLI wrote: ignored */ }
    },
    limit: () => found,
  }
}
