// Requests per credential per minute (security.rate_limit_per_minute; 0 turns it off): one
// fixed one-minute window per key, counted alike for REST and WebSockets
// (src/api/plugins/rate-limit.ts) and RPC on both ports (src/api/rpc/auth.ts), so a token has
// one budget whichever way it calls. The key is the principal (its token id; the subject for the
// admin token and node credentials), or the client's address for requests without one. Counts
// live in this process: each daemon behind a balancer allows this much.
import type { Principal } from '../core/auth/principal.js'
import type { Context } from '../context.js'
import { errors } from '../core/errors.js'

export const RATE_WINDOW_MS = 60_000
// Past this many keys, windows that have ended are dropped, then the oldest.
const MAX_KEYS = 100_000

export interface RateLimiter {
  /** Requests a key may make in a window; 0: no limit. */
  readonly perMinute: number
  /** Counts one request: the key's count in its current window and the ms left in it. */
  hit(key: string): { current: number, ttl: number }
  /** Counts one request and throws RATE_LIMITED when it is past the limit. */
  take(key: string): void
}

export const createRateLimiter = (perMinute: number, now: () => number = Date.now): RateLimiter => {
  const windows = new Map<string, { count: number, start: number }>()
  const prune = (at: number) => {
    for (const [key, w] of windows) if (at - w.start >= RATE_WINDOW_MS) windows.delete(key)
    for (const key of windows.keys()) {
      if (windows.size < MAX_KEYS) break
      windows.delete(key)
    }
  }
  const hit = (key: string) => {
    const at = now()
    let w = windows.get(key)
    if (!w || at - w.start >= RATE_WINDOW_MS) {
      if (!w && windows.size >= MAX_KEYS) prune(at)
      w = { count: 0, start: at }
      windows.set(key, w)
    }
    w.count++
    return { current: w.count, ttl: w.start + RATE_WINDOW_MS - at }
  }
  return {
    perMinute,
    hit,
    take (key) {
      if (perMinute === 0) return
      const { current, ttl } = hit(key)
      if (current > perMinute) throw errors.rateLimited(perMinute, Math.ceil(ttl / 1000))
    },
  }
}

export const rateKeyOf = (principal: Principal) => principal.tokenId ? `token:${principal.tokenId}` : `subject:${principal.subject}`

// One limiter per context: the HTTP port and the gRPC port of a daemon share its counts.
const limiters = new WeakMap<Context, RateLimiter>()

export const rateLimiterOf = (ctx: Context): RateLimiter => {
  let limiter = limiters.get(ctx)
  if (!limiter) limiters.set(ctx, limiter = createRateLimiter(ctx.config.security.rate_limit_per_minute))
  return limiter
}
