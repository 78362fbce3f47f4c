// REST and WebSocket requests counted against security.rate_limit_per_minute with
// @fastify/rate-limit, on the limiter RPC shares (src/api/rate-limit.ts). Its hooks are
// route-level onRequest hooks, which run after the app's own, so authentication has already
// put the principal on the request: the key is the credential, not the address. Public routes
// (health) are never limited but for PUBLIC_RATE_LIMITED (join, keyed by address), and RPC routes are counted by the RPC interceptor instead. A
// request past the limit gets 429 RATE_LIMITED with Retry-After.
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from '../../core/errors.js'
import { PUBLIC_RATE_LIMITED } from '../access-policy.js'
import { RATE_WINDOW_MS, rateKeyOf, rateLimiterOf } from '../rate-limit.js'
import { accessOf } from './authentication.js'

// Connect's routes on the HTTP port, /<package>.<Service>/<Method>.
const isRpcRoute = (url: string | undefined) => url?.startsWith('/stratavore.') === true

export const rateLimitPlugin = fp(async (app: FastifyInstance) => {
  const limiter = rateLimiterOf(app.ctx)
  if (limiter.perMinute === 0) return
  await app.register(rateLimit, {
    global: true,
    max: limiter.perMinute,
    timeWindow: RATE_WINDOW_MS,
    keyGenerator: request => request.principal ? rateKeyOf(request.principal) : `ip:${request.ip}`,
    allowList: request => (accessOf(request) === 'public' && !PUBLIC_RATE_LIMITED.has(`${request.method} ${request.routeOptions.url}`)) || isRpcRoute(request.routeOptions.url),
    store: class {
      incr (key: string, callback: (error: Error | null, result: { current: number, ttl: number }) => void) { callback(null, limiter.hit(key)) }
      child () { return this }
    },
    errorResponseBuilder: (_request, context) => errors.rateLimited(context.max, Math.ceil(context.ttl / 1000)),
  })
}, { name: 'rate-limit', dependencies: ['authentication'] })
