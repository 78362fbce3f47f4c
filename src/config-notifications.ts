// `notifications.webhooks` in the config file (never the environment): a list of
// { url, events, secret, format, name }. Checked here so that a bad URL, an unknown format or
// a pattern RabbitMQ would not take stops the daemon with the key named, as any other key does.
import { createHash } from 'node:crypto'
import { configError, describe } from './config-error.js'
import { checkTopicPattern } from './core/events/topic.js'
import { WEBHOOK_FORMATS, maskedUrl, type Webhook, type WebhookFormat } from './core/notifications/webhook.js'

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/
const MIN_SECRET_LENGTH = 16

// Without a name, the id is made from the URL and the format: the same webhook keeps its
// deliveries across restarts, and two daemons with the same config agree on it.
const idOf = (url: string, format: WebhookFormat) => `wh-${createHash('sha256').update(`${format}\n${url}`).digest('hex').slice(0, 12)}`

export const parseWebhooks = (raw: unknown, source: string): Webhook[] => {
  if (raw === undefined || raw === null) return []
  if (!Array.isArray(raw)) throw configError('notifications.webhooks', `must be a list of {url, events, secret, format}, got ${describe(raw)}`, source)
  const webhooks = raw.map((entry, i): Webhook => {
    const key = `notifications.webhooks[${i}]`
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw configError(key, 'must be a mapping {url, events, secret, format}', source)
    const { url, events, secret, format = 'json', name, ...rest } = entry as Record<string, unknown>
    const unknown = Object.keys(rest)[0]
    if (unknown) throw configError(`${key}.${unknown}`, 'is not a known key (url, events, secret, format, name)', source)
    if (typeof url !== 'string') throw configError(`${key}.url`, `must be an http or https URL, got ${describe(url)}`, source)
    let parsed: URL
    try { parsed = new URL(url) } catch { throw configError(`${key}.url`, `is not a URL: ${maskedUrl(url)}`, source) }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw configError(`${key}.url`, `must be http or https, got ${parsed.protocol.slice(0, -1)}`, source)
    if (typeof format !== 'string' || !(WEBHOOK_FORMATS as readonly string[]).includes(format)) {
      throw configError(`${key}.format`, `must be one of ${WEBHOOK_FORMATS.join(', ')}, got ${describe(format)}`, source)
    }
    if (!Array.isArray(events) || events.length === 0 || !events.every(e => typeof e === 'string')) {
      throw configError(`${key}.events`, `must be a non-empty list of routing-key patterns (e.g. runner.activity.*), got ${describe(events)}`, source)
    }
    for (const pattern of events as string[]) {
      try { checkTopicPattern(pattern) } catch (err) { throw configError(`${key}.events`, (err as Error).message, source) }
    }
    if (secret !== undefined && (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH)) {
      throw configError(`${key}.secret`, `must be a string of at least ${MIN_SECRET_LENGTH} characters`, source)
    }
    if (name !== undefined && (typeof name !== 'string' || !NAME.test(name))) throw configError(`${key}.name`, `must match ${NAME}, got ${describe(name)}`, source)
    return {
      id: (name as string | undefined) ?? idOf(url, format as WebhookFormat),
      url,
      events: events as string[],
      secret: (secret as string | undefined) ?? null,
      format: format as WebhookFormat,
    }
  })
  const seen = new Set<string>()
  for (const [i, w] of webhooks.entries()) {
    if (seen.has(w.id)) throw configError(`notifications.webhooks[${i}]`, `is a second webhook with id ${w.id} (the same url and format, or name); give each a distinct name`, source)
    seen.add(w.id)
  }
  return webhooks
}

/** The webhooks as they may be shown: secrets and credentials in URLs replaced. */
export const redactedWebhooks = (webhooks: Webhook[]) =>
  webhooks.map(w => ({ ...w, url: maskedUrl(w.url), secret: w.secret ? '***' : null }))
