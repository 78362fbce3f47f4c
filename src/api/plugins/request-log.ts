// One log line per request, at debug: at info they buried everything else (a browser tab alone
// polls several routes a second). At warn, so that they stay in a default log, are a server
// error (5xx; not a 503, which the database gate and the rate limit answer by the thousand and
// sum up themselves) and a request slower than observability.slow_request_ms. A stream (a
// WebSocket, a Connect or gRPC streaming call) lasts as long as its client watches: its length
// says nothing. A token in a URL (the sign-in link, or one refused elsewhere) never reaches a log.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

export const requestLogLevel = ({ status, ms, streaming }: { status: number, ms: number, streaming: boolean }, slowMs: number): 'warn' | 'debug' =>
  (status >= 500 && status !== 503) || (!streaming && ms >= slowMs) ? 'warn' : 'debug'

const isStream = (request: FastifyRequest) =>
  request.headers.upgrade !== undefined || /^application\/(connect\+|grpc)/.test(request.headers['content-type'] ?? '')

export const requestLogPlugin = fp(async (app: FastifyInstance) => {
  const slowMs = app.ctx.config.observability.slow_request_ms
  app.addHook('onResponse', async (request, reply) => {
    const ms = Math.round(reply.elapsedTime)
    const streaming = isStream(request)
    const level = requestLogLevel({ status: reply.statusCode, ms, streaming }, slowMs)
    const slow = !streaming && ms >= slowMs
    request.log[level]({ method: request.method, url: request.url.replace(/([?&]token=)[^&]*/g, '$1[redacted]'), status: reply.statusCode, ms, ...(slow ? { slow } : {}) }, 'request')
  })
}, { name: 'request-log' })
