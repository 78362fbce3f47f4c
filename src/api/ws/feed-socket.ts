// One WebSocket client of the live feed. Frames go out while the client keeps up; the moment
// more than 1 MiB waits unsent, the client is cut off (1013 "try again later") and its
// subscription released at once, so a client that stops reading costs the server at most
// that much. The client may send only small JSON pings (`{"type":"ping"}`, answered with a
// pong), a few a second; anything else closes the socket (1008).
import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import type { FastifyBaseLogger } from 'fastify'
import { isAppError } from '../../core/errors.js'
import type { EventFeed, FeedSink, FeedSubscription } from '../../core/events/event-feed.js'
import type { FeedEvent } from '../../core/ports.js'

export const CLOSE_CODES = {
  goingAway: 1001,
  policyViolation: 1008,
  internalError: 1011,
  tryAgainLater: 1013,
  /** The client is too far behind (or names an unknown event): reload state, then reconnect without `after`. */
  resyncRequired: 4409,
} as const

export const MAX_BUFFERED_BYTES = 1024 * 1024
// The replay reads its next page only once the client has taken most of the previous one.
const DRAIN_BELOW_BYTES = 128 * 1024
// A corked batch is written out once it holds this much, whether or not the slice is over.
const FLUSH_ABOVE_BYTES = 64 * 1024
const MAX_CLIENT_MESSAGE_BYTES = 256
const CLIENT_MESSAGE_BURST = 10
const CLIENT_MESSAGES_PER_SECOND = 1

// Every subscriber of an event gets the same text: serialize it once.
const frames = new WeakMap<FeedEvent, string>()
const frameText = (event: FeedEvent) => {
  let text = frames.get(event)
  if (text === undefined) frames.set(event, text = JSON.stringify(event.frame))
  return text
}

export interface FeedSocket {
  /** For the keepalive: pings a client that answered the last ping, terminates one that did not. */
  heartbeat(): void
  close(code: number, reason: string): void
}

export const openFeedSocket = (socket: WebSocket, options: {
  /** The upgraded TCP socket under `socket`: corked so that one fan-out slice is one write. */
  transport: Socket
  feed: EventFeed
  pattern: string
  after?: string
  since?: Date
  log: FastifyBaseLogger
  onGone: () => void
}): FeedSocket => {
  const { transport, feed, pattern, after, since, log, onGone } = options
  let closing = false
  let alive = true
  let tokens = CLIENT_MESSAGE_BURST
  let refilledAt = Date.now()
  let drainWaiters: Array<() => void> = []
  let subscription: FeedSubscription | null = null

  const wake = () => {
    const waiters = drainWaiters
    drainWaiters = []
    for (const resolve of waiters) resolve()
  }

  const close = (code: number, reason: string) => {
    if (closing) return
    closing = true
    subscription?.close()
    wake()
    onGone()
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(code, reason)
  }

  // The feed hands out events in slices (src/core/events/event-feed.ts) and yields between
  // them: holding the frames of a slice until then makes N events one writev instead of N,
  // which is most of a fan-out's cost. Frames go without a write callback (one per frame is
  // measurable at 1,000 clients); a waiting replay listens for 'drain' instead.
  let corked = false
  const uncork = () => {
    corked = false
    transport.uncork()
  }
  transport.setTimeout(0)
  transport.on('drain', () => { if (socket.bufferedAmount <= DRAIN_BELOW_BYTES) wake() })

  const sink: FeedSink = {
    send (event) {
      if (closing || socket.readyState !== WebSocket.OPEN) return
      // Corked frames count as unsent: hand a big batch to the kernel before judging the client.
      if (corked && socket.bufferedAmount > FLUSH_ABOVE_BYTES) {
        transport.uncork()
        transport.cork()
      }
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        log.info({ bufferedAmount: socket.bufferedAmount }, 'event feed: client too slow; disconnecting')
        return close(CLOSE_CODES.tryAgainLater, 'client too slow: more than 1 MiB unsent')
      }
      if (!corked) {
        corked = true
        transport.cork()
        setImmediate(uncork)
      }
      socket.send(frameText(event))
    },
    drained: () => closing || socket.bufferedAmount <= DRAIN_BELOW_BYTES
      ? Promise.resolve()
      : new Promise(resolve => { drainWaiters.push(resolve) }),
  }

  const refuse = (reason: string) => close(CLOSE_CODES.policyViolation, reason)

  socket.on('message', (data, isBinary) => {
    const now = Date.now()
    tokens = Math.min(CLIENT_MESSAGE_BURST, tokens + (now - refilledAt) / 1000 * CLIENT_MESSAGES_PER_SECOND)
    refilledAt = now
    if (--tokens < 0) return refuse('too many messages')
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
    if (isBinary || bytes.length > MAX_CLIENT_MESSAGE_BYTES) return refuse('only small JSON pings are accepted')
    let message: unknown
    try { message = JSON.parse(bytes.toString('utf8')) } catch { return refuse('only small JSON pings are accepted') }
    if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'ping') return refuse('only small JSON pings are accepted')
    if (socket.bufferedAmount <= MAX_BUFFERED_BYTES) socket.send('{"type":"pong"}')
  })
  socket.on('pong', () => { alive = true })
  socket.on('close', () => {
    closing = true
    subscription?.close()
    wake()
    onGone()
  })

  try {
    subscription = feed.subscribe({ pattern, ...(after !== undefined ? { after } : {}), ...(since !== undefined ? { since } : {}), sink })
  } catch (err) {
    log.warn({ err }, 'event feed: cannot subscribe')
    close(CLOSE_CODES.tryAgainLater, 'the event feed is unavailable')
    return { heartbeat: () => {}, close }
  }
  subscription.live.catch(err => {
    if (closing) return
    if (isAppError(err) && err.code === 'RESYNC_REQUIRED') {
      socket.send(JSON.stringify({ type: 'resync_required', reason: err.message }))
      return close(CLOSE_CODES.resyncRequired, 'resync required')
    }
    if (isAppError(err) && err.code === 'FEED_OVERFLOW') return close(CLOSE_CODES.tryAgainLater, 'too many live events during the replay')
    if (isAppError(err) && err.kind === 'unavailable') return close(CLOSE_CODES.goingAway, 'the event feed is closing')
    log.error({ err }, 'event feed: replay failed')
    close(CLOSE_CODES.internalError, 'internal error')
  })

  return {
    heartbeat () {
      if (closing) return
      if (!alive) {
        log.info('event feed: client missed a keepalive; terminating')
        subscription?.close()
        socket.terminate()
        return
      }
      alive = false
      socket.ping()
    },
    close,
  }
}
