// Makes one webhook request with Node's fetch: a deadline per request, no redirects followed
// (a redirect would resend a signed body somewhere the operator did not name), and the HMAC
// signature when the webhook has a secret:
//   X-Stratavore-Timestamp: <unix seconds>
//   X-Stratavore-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
// A receiver recomputes it over the raw body and rejects old timestamps (replays).
import { createHmac } from 'node:crypto'
import type { WebhookSender } from '../../core/notifications/ports.js'
import { maskedUrl } from '../../core/notifications/webhook.js'

export const webhookSignature = (secret: string, timestamp: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`

// What a failed response's body adds to the error kept on the delivery.
const MAX_ERROR_BODY = 200

export const createWebhookSender = (now: () => Date = () => new Date()): WebhookSender => ({
  async send ({ url, headers, body, secret, timeoutMs, signal }) {
    const all: Record<string, string> = { ...headers }
    if (secret) {
      const timestamp = String(Math.floor(now().getTime() / 1000))
      all['x-stratavore-timestamp'] = timestamp
      all['x-stratavore-signature'] = webhookSignature(secret, timestamp, body)
    }
    const deadline = AbortSignal.timeout(timeoutMs)
    try {
      const res = await fetch(url, {
        method: 'POST', headers: all, body, redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
      })
      const text = await res.text().catch(() => '')
      if (res.status >= 200 && res.status < 300) return { ok: true, statusCode: res.status }
      return { ok: false, statusCode: res.status, error: `HTTP ${res.status}${text ? `: ${text.slice(0, MAX_ERROR_BODY)}` : ''}` }
    } catch (err) {
      const e = err as Error & { cause?: { code?: string, message?: string } }
      const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms`
        : e.name === 'AbortError' ? 'aborted'
          : e.cause?.code ?? e.cause?.message ?? e.message
      return { ok: false, statusCode: null, error: `${maskedUrl(url)}: ${reason}` }
    }
  },
})
