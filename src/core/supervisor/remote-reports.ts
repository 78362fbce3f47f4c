// A remote node's activity and usage-limit reports, checked before they reach the database port
// (supervision-service.ts). The in-process supervisor reads these from its own agents; a node
// credential could send anything, so every value is refused unless it is one the core could
// have made itself: a known state and source, one bounded line of text, a time Postgres stores.
import { errors } from '../errors.js'
import { ACTIVITY_SOURCES, ACTIVITY_STATES, detailLine, type ActivitySignal, type ActivitySource, type ActivityState } from '../runners/activity.js'
import type { ReportedLimit } from '../runners/usage-limits.js'
import { checkText } from '../validation.js'

/** Longer than this is refused; shorter is cut to one line of MAX_ACTIVITY_DETAIL characters (detailLine). */
export const MAX_REPORTED_TEXT = 4096

/** 1970-01-01 to 9999-12-31: what every surface and both databases read back as written. */
const EARLIEST = 0
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59)

export interface ActivityReport {
  state: string
  source: string
  detail: string | null
  /** Null: the API's clock. */
  since: Date | null
  resetsAt: Date | null
  keepsDetail: boolean
}

export interface LimitReport { resetsAt: Date | null, message: string | null, source: string | null }

const oneOf = <T extends string>(field: string, value: string, allowed: readonly T[]): T => {
  if (!(allowed as readonly string[]).includes(value)) throw errors.invalidArgument(`${field} must be one of ${allowed.join(', ')}`, { field })
  return value as T
}

const line = (field: string, value: string | null): string | null =>
  value === null ? null : detailLine(checkText(field, value, MAX_REPORTED_TEXT))

const time = (field: string, value: Date | null): Date | null => {
  if (value === null) return null
  const ms = value.getTime()
  if (!Number.isFinite(ms) || ms < EARLIEST || ms > LATEST) throw errors.invalidArgument(`${field} must be a time from 1970 to 9999`, { field })
  return value
}

export const checkActivityReport = (report: ActivityReport, now: Date): { signal: ActivitySignal, since: Date } => {
  const signal: ActivitySignal = {
    state: oneOf<ActivityState>('state', report.state, ACTIVITY_STATES),
    source: oneOf<ActivitySource>('source', report.source, ACTIVITY_SOURCES),
    detail: line('detail', report.detail),
    resetsAt: time('resets_at', report.resetsAt),
    ...(report.keepsDetail ? { keepsDetail: true } : {}),
  }
  return { signal, since: time('since', report.since) ?? now }
}

export const checkLimitReport = (report: LimitReport): ReportedLimit =>
  ({ resetsAt: time('resets_at', report.resetsAt), message: line('message', report.message), source: oneOf<ActivitySource>('source', report.source ?? 'stream', ACTIVITY_SOURCES) })
