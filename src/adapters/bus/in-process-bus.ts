// The embedded default's bus: the same topic semantics as the RabbitMQ exchange, inside one
// process. As with the broker's topology (a catch-all log queue is bound to the exchange),
// every well-formed message is routable, so only a malformed one is refused.
import type { BusMessage, BusSubscription, EventBus, PublishOutcome } from '../../core/ports.js'
import { MAX_ROUTING_KEY_BYTES, checkTopicPattern, topicMatches } from '../../core/events/topic.js'

interface Subscriber { pattern: string, onMessage: (message: BusMessage) => void }

export const createInProcessBus = ({ onHandlerError }: { onHandlerError: (err: unknown) => void }): EventBus => {
  const subscribers = new Set<Subscriber>()
  let closed = false

  const deliver = (message: BusMessage) => {
    for (const subscriber of subscribers) {
      if (!topicMatches(subscriber.pattern, message.routingKey)) continue
      try { subscriber.onMessage(message) } catch (err) { onHandlerError(err) }
    }
  }

  return {
    ready: () => !closed,

    async publishBatch (messages, hooks) {
      if (closed) throw new Error('the in-process bus is closed')
      const outcomes: PublishOutcome[] = messages.map(m => Buffer.byteLength(m.routingKey) > MAX_ROUTING_KEY_BYTES
        ? { ok: false, reason: 'rejected', error: `routing key longer than ${MAX_ROUTING_KEY_BYTES} bytes` }
        : { ok: true })
      // Delivered after the publisher's confirm, as a broker would: a slow subscriber never
      // holds up the relay.
      const accepted = messages.filter((_, i) => outcomes[i]!.ok)
      if (accepted.length > 0) setImmediate(() => accepted.forEach(deliver))
      hooks?.afterSend?.()
      return outcomes
    },

    async subscribe (pattern, onMessage): Promise<BusSubscription> {
      checkTopicPattern(pattern)
      const subscriber = { pattern, onMessage }
      subscribers.add(subscriber)
      return { close: async () => { subscribers.delete(subscriber) } }
    },

    async close () {
      closed = true
      subscribers.clear()
    },
  }
}
