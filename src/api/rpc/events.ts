// stratavore.v1.EventService/WatchEvents: the live feed (ctx.feed) as a server stream, with the
// WebSocket feed's semantics (src/api/ws/events.ts): same filter, `after` and `since` checks, one commit
// order, replay then live. Where the socket closes with a code, the stream ends with an error:
//   resync required (4409)        -> FAILED_PRECONDITION, detail RESYNC_REQUIRED
//   too slow / overflow (1013)    -> RESOURCE_EXHAUSTED, detail CLIENT_TOO_SLOW / FEED_OVERFLOW
//   daemon shutting down (1001)   -> UNAVAILABLE: watch again with `after`
// A client that stops reading holds at most MAX_QUEUED events here: the feed's sink cannot
// wait, so the stream cuts the client off rather than buffer without bound.
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect'
import type { Context } from '../../context.js'
import { AppError } from '../../core/errors.js'
import type { FeedSink } from '../../core/events/event-feed.js'
import type { FeedEvent } from '../../core/ports.js'
import { EventService } from '../../gen/stratavore/v1/event_service_pb.js'
import { EventFeedQuery, feedStart } from '../ws/events.js'
import { toWatchEventsProto } from './mappers.js'
import { checkShape, defined } from './validate.js'

export const MAX_QUEUED = 10_000
// The replay reads its next page only once the client has taken most of the previous one.
const DRAIN_BELOW = 1_000

export const eventService = (ctx: Context, { closing }: { closing: AbortSignal }): ServiceImpl<typeof EventService> => ({
  async * watchEvents (req, context) {
    const query = checkShape(EventFeedQuery, defined({ filter: req.filter || undefined, after: req.after, since: req.since }))
    const { filter = '#' } = query
    const start = feedStart(query)
    let queue: FeedEvent[] = []
    let failure: unknown = null
    let wake: (() => void) | null = null
    let drainWaiters: Array<() => void> = []
    const wakeUp = () => { const w = wake; wake = null; w?.() }
    const releaseDrainWaiters = () => { const waiters = drainWaiters; drainWaiters = []; for (const resolve of waiters) resolve() }

    const sink: FeedSink = {
      send (event) {
        if (failure) return
        if (queue.length >= MAX_QUEUED) {
          failure = new AppError({ code: 'CLIENT_TOO_SLOW', kind: 'resource_exhausted', message: `client too slow: more than ${MAX_QUEUED} events unsent; watch again with after` })
          queue = []
          subscription.close()
        } else queue.push(event)
        wakeUp()
      },
      drained: () => failure || queue.length <= DRAIN_BELOW ? Promise.resolve() : new Promise(resolve => { drainWaiters.push(resolve) }),
    }
    const subscription = ctx.feed.subscribe({ pattern: filter, ...start, sink })
    subscription.live.catch(err => { failure ??= err; wakeUp() })
    context.signal.addEventListener('abort', wakeUp)
    closing.addEventListener('abort', wakeUp)

    try {
      for (;;) {
        if (failure) throw failure
        if (closing.aborted) throw new ConnectError('the daemon is shutting down; watch again with after', Code.Unavailable)
        if (context.signal.aborted) return
        if (queue.length === 0) {
          await new Promise<void>(resolve => { wake = resolve })
          continue
        }
        const batch = queue
        queue = []
        releaseDrainWaiters()
        for (const event of batch) {
          if (failure || closing.aborted || context.signal.aborted) break
          yield toWatchEventsProto(event)
        }
      }
    } finally {
      subscription.close()
      context.signal.removeEventListener('abort', wakeUp)
      closing.removeEventListener('abort', wakeUp)
      releaseDrainWaiters()
    }
  },
})
