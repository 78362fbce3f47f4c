// `stratavore events`: the live feed until Ctrl-C, after a replay of what happened since
// --since (a duration or a time) or after --after (an event id). One line per event with its
// event_id, which is what --after takes to resume; with --json the frames the WebSocket feed
// (GET /api/v1/events) sends. On a terminal, a "watching" line first on stderr: the feed prints
// nothing until an event comes, which would look like a hang.
import { toJson } from '@bufbuild/protobuf'
import { Code, ConnectError } from '@connectrpc/connect'
import { EventSchema } from '../../gen/stratavore/v1/events_pb.js'
import { WatchEventsResponseSchema } from '../../gen/stratavore/v1/event_service_pb.js'
import { stringValue, type Command } from '../context.js'
import { paint } from '../format.js'
import { CliError, UsageError } from '../io.js'
import { restJson } from '../rest-json.js'

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** `--since`: 90s, 10m, 2h, 7d, 1w back from now, or a time (RFC 3339, e.g. 2025-01-31T12:00:00Z). */
export const parseSince = (text: string, now: number): Date => {
  const match = /^(\d+)([smhdw])$/.exec(text.trim())
  const at = match ? new Date(now - Number(match[1]) * UNIT_MS[match[2]!]!) : /^\d{4}-\d\d-\d\dT/.test(text) ? new Date(text) : null
  if (!at || Number.isNaN(at.getTime())) throw new UsageError(`events: --since must be a duration like 90s, 10m, 2h, 7d or a time like 2025-01-31T12:00:00Z, got ${JSON.stringify(text)}`)
  return at
}

const EVENT_COLOR = (type: string) => /failed|lost|alert/.test(type) ? 'red' : /stopped|deleted|archived/.test(type) ? 'gray' : /started|launched|created|recovered/.test(type) ? 'green' : 'yellow'

export const events: Command = async c => {
  const filter = stringValue(c, 'filter') ?? ''
  const after = stringValue(c, 'after')
  const sinceText = stringValue(c, 'since')
  if (after !== undefined && sinceText !== undefined) throw new UsageError('events: give --after or --since, not both')
  const since = sinceText === undefined ? undefined : parseSince(sinceText, Date.now())
  if (c.io.stderr.isTTY) {
    const from = after !== undefined ? ` after event ${after}` : since ? ` since ${since.toISOString()}` : ''
    c.out.note(`watching events${filter && filter !== '#' ? ` matching ${filter}` : ''}${from} on ${c.api.baseUrl} (Ctrl-C stops)`)
  }
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  try {
    const request = { filter, ...(after !== undefined ? { after } : {}), ...(since ? { since: since.toISOString() } : {}) }
    for await (const response of c.api.events.watchEvents(request, { signal: abort.signal })) {
      const { event, routingKey } = response
      if (!event) continue
      if (c.out.format === 'proto-json') { c.out.print(JSON.stringify(toJson(WatchEventsResponseSchema, response))); continue }
      if (c.out.json) { c.out.print(JSON.stringify({ ...restJson(EventSchema, event), routing_key: routingKey })); continue }
      const data = event.data ? JSON.stringify(event.data) : ''
      c.out.print(`${event.occurredAt}  ${event.eventId}  ${paint(c.out, EVENT_COLOR(event.type), event.type.padEnd(22))}  ${event.project || '-'}  ${event.aggregateId}  ${event.actor}${data && data !== '{}' ? `  ${data}` : ''}`)
    }
  } catch (err) {
    if (abort.signal.aborted) return 0
    if (err instanceof ConnectError && err.code === Code.FailedPrecondition && /resync required/.test(err.rawMessage)) {
      throw new CliError(`${err.rawMessage}; ${after !== undefined ? 'watch again without --after' : 'give a shorter --since'}`)
    }
    throw err
  } finally {
    process.off('SIGINT', stop)
  }
  return 0
}
