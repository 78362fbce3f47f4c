// What one delivery carries and how each webhook format writes it. A notification is an
// event from the log, or a reminder that a runner still waits for a person. The body is built
// when it is sent, from what the delivery row stores, so a retry sends the same bytes' meaning
// (the timestamp of the signature aside).
import type { WebhookFormat } from './webhook.js'

export const REMINDER_TYPE = 'runner.activity.reminder'
export const ACTIVITY_TYPE = 'runner.activity'
export const WAITING_STATES: ReadonlySet<string> = new Set(['waiting_permission', 'waiting_input'])

export type NotificationKind = 'event' | 'reminder'

export interface Notification {
  /** `<event id>:<webhook id>` (a reminder: `reminder:<event id>:<webhook id>`), the Idempotency-Key header. */
  key: string
  kind: NotificationKind
  /** The event's type, or `runner.activity.reminder`. */
  type: string
  routingKey: string
  project: string
  occurredAt: string
  data: Record<string, unknown>
  /** The event's envelope as the bus carries it (kind `event`). */
  event?: Record<string, unknown>
}

export interface RenderedRequest {
  contentType: string
  headers: Record<string, string>
  body: string
}

const MAX_TEXT = 500
const clip = (text: string) => text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text
const str = (value: unknown) => typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value)

/** The detail an agent gave (a question, or the tool and command awaiting permission), as one line. */
const detailText = (detail: unknown): string => {
  if (typeof detail === 'string') return detail
  if (!detail || typeof detail !== 'object') return ''
  return Object.entries(detail as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}: ${str(v)}`).join(', ')
}

const shortId = (id: unknown) => str(id).slice(0, 8)

/** A title and a line of text for people (ntfy, Slack); the JSON format carries everything. */
export const describeNotification = (n: Notification): { title: string, message: string, urgent: boolean } => {
  const d = n.data
  const detail = detailText(d.detail)
  const where = n.project ? `project ${n.project}` : 'Stratavore'
  if (n.type === REMINDER_TYPE) {
    const minutes = Math.max(1, Math.round(Number(d.waitingSeconds ?? 0) / 60))
    return {
      title: `Reminder: runner ${shortId(d.runnerId)} still waits for you`,
      message: clip(`${where}: ${str(d.state)} for ${minutes} min${detail ? `: ${detail}` : ''}`),
      urgent: true,
    }
  }
  if (n.type === ACTIVITY_TYPE) {
    const waiting = WAITING_STATES.has(str(d.state))
    return {
      title: waiting ? `Runner ${shortId(d.runnerId)} waits for you` : `Runner ${shortId(d.runnerId)} is ${str(d.state)}`,
      message: clip(`${where}: ${str(d.state)}${detail ? `: ${detail}` : ''}`),
      urgent: waiting,
    }
  }
  if (n.type === 'system.alert') {
    return {
      title: `Stratavore alert ${str(d.alert)} ${str(d.state)} (${str(d.severity)})`,
      message: clip(str(d.summary) || str(d.reason)),
      urgent: d.state === 'firing' && (d.severity === 'error' || d.severity === 'critical'),
    }
  }
  const subject = n.event ? `${str(n.event.aggregate_type)} ${shortId(n.event.aggregate_id)}` : ''
  const reason = d.reason ? `: ${str(d.reason)}` : ''
  return { title: `${n.type} (${where})`, message: clip(`${subject}${reason}` || n.type), urgent: n.type === 'runner.failed' }
}

/** The generic JSON body: the notification whole. Its fields are documented in the README. */
export const jsonBodyOf = (n: Notification) => ({
  id: n.key,
  kind: n.kind,
  type: n.type,
  routing_key: n.routingKey,
  project: n.project,
  occurred_at: n.occurredAt,
  data: n.data,
  ...(n.event ? { event: n.event } : {}),
})

export const renderNotification = (n: Notification, format: WebhookFormat): RenderedRequest => {
  if (format === 'json') return { contentType: 'application/json', headers: {}, body: JSON.stringify(jsonBodyOf(n)) }
  const { title, message, urgent } = describeNotification(n)
  if (format === 'ntfy') {
    // ntfy's publish-as-text: the body is the message, the rest in its headers (ntfy.sh/docs/publish).
    // Header values must be ASCII-safe: anything else is dropped from the title.
    return {
      contentType: 'text/plain; charset=utf-8',
      headers: { Title: title.replace(/[^\x20-\x7e]/g, '?'), Priority: urgent ? 'high' : 'default', Tags: n.type.replaceAll('.', '_') },
      body: message,
    }
  }
  // Slack's incoming-webhook body (also taken by Mattermost, Rocket.Chat and Discord's /slack endpoint).
  const text = `*${title}*\n${message}`
  return {
    contentType: 'application/json',
    headers: {},
    body: JSON.stringify({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] }),
  }
}
