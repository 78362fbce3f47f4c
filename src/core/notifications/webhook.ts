// A configured webhook (`notifications.webhooks` in the config file) and which notifications
// reach it. Patterns are AMQP topic patterns over routing keys, as a RabbitMQ binding reads
// them: `runner.activity.*`, `runner.failed.#`, `system.alert.*`.
import { topicMatches } from '../events/topic.js'

export const WEBHOOK_FORMATS = ['json', 'ntfy', 'slack'] as const
export type WebhookFormat = typeof WEBHOOK_FORMATS[number]

export interface Webhook {
  /** Stable across restarts and daemons: the deliveries of this webhook are stored under it. */
  id: string
  url: string
  events: string[]
  /** HMAC-SHA256 key of the signature header; null: requests are not signed. */
  secret: string | null
  format: WebhookFormat
}

/** The routing key a reminder is matched by: the one of the activity event it reminds of. */
export const reminderRoutingKey = (project: string) => `runner.activity.${project}`

export const webhookMatches = (webhook: Webhook, routingKey: string): boolean =>
  webhook.events.some(pattern => topicMatches(pattern, routingKey))

/** The URL with any user:password replaced, for logs, errors and the config as shown. */
export const maskedUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.username || parsed.password) {
      parsed.username = '***'
      parsed.password = ''
    }
    // Query strings carry tokens as often as user info does (ntfy's ?auth=).
    if (parsed.search) parsed.search = '?***'
    return parsed.toString()
  } catch {
    return '(invalid url)'
  }
}
