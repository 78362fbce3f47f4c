// The one place REST maps errors: AppError kinds, Fastify's own request errors and everything
// else become application/problem+json (RFC 9457). A 5xx never shows internals: the body says
// "internal error" and the log has the cause.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { isAppError, type ErrorKind } from '../../core/errors.js'
import { gateMessage } from '../../adapters/db/database-gate.js'
import { isConnectionError, isDatabaseTimeout } from '../../adapters/db/pg-errors.js'

export const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 409,
  resource_exhausted: 429,
  unavailable: 503,
  unauthenticated: 401,
  permission_denied: 403,
  internal: 500,
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable', 409: 'Conflict', 413: 'Content Too Large',
  408: 'Request Timeout', 415: 'Unsupported Media Type', 421: 'Misdirected Request', 426: 'Upgrade Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 503: 'Service Unavailable',
}

// Fastify's request errors, by code, with the stable code we expose for each.
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  code: string
  detail: string
  instance?: string
  errors?: Array<{ path: string, message: string }>
  nodes?: Array<{ node: string, reason: string }>
}

export const problemOf = (status: number, code: string, detail: string, extra: Partial<ProblemBody> = {}): ProblemBody => ({
  type: `https://stratavore.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
  title: TITLES[status] ?? 'Error',
  status,
  code,
  detail,
  ...extra,
})

export const sendProblem = (reply: FastifyReply, problem: ProblemBody) => {
  if (problem.status === 503) void reply.header('retry-after', '5')
  return reply.code(problem.status).type('application/problem+json; charset=utf-8').send(problem)
}

/** Maps any thrown value to a problem; logs what the client must not see. */
export const toProblem = (err: unknown, request: FastifyRequest): ProblemBody => {
  const instance = request.url.split('?')[0]!
  if (isAppError(err)) {
    const status = STATUS_OF_KIND[err.kind]
    // A stack only for the unexpected: an unavailable dependency is an expected state, one line.
    if (err.kind === 'internal') request.log.error({ err }, 'request failed')
    else if (status >= 500) request.log.warn({ code: err.code, reason: err.message }, 'request failed: unavailable')
    if (status >= 500 && err.kind === 'internal') return problemOf(500, 'INTERNAL', 'internal error', { instance })
    // Placement says why, node by node (an RFC 9457 extension member).
    const nodes = err.code === 'NO_NODE_FITS' ? err.details?.nodes as ProblemBody['nodes'] : undefined
    return problemOf(status, err.code, err.message, { instance, ...(nodes ? { nodes } : {}) })
  }
  const fe = err as FastifyError & { validation?: Array<{ instancePath: string, message?: string, params?: Record<string, unknown> }>, validationContext?: string }
  if (fe?.validation) {
    const errors = fe.validation.map(v => ({
      path: `${fe.validationContext ?? 'body'}${v.instancePath || ''}${v.params?.additionalProperty ? `/${String(v.params.additionalProperty)}` : ''}`,
      message: v.params?.additionalProperty ? 'is not a known field' : v.message ?? 'is invalid',
    }))
    return problemOf(400, 'VALIDATION_FAILED', errors.map(e => `${e.path} ${e.message}`).join('; '), { instance, errors })
  }
  if (isConnectionError(err)) {
    // Expected during an outage: the gate it trips logs the outage once as it opens and once as
    // it closes, with counts; a line per request (with a stack) buried the logs.
    request.log.debug({ code: (err as { code?: unknown }).code, reason: (err as Error).message }, 'database unavailable')
    return problemOf(503, 'UNAVAILABLE', gateMessage(isDatabaseTimeout(err) ? 'saturated' : 'unreachable'), { instance })
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500
  if (status >= 400 && status < 500) {
    const code = FASTIFY_CODES[fe.code] ?? (err instanceof SyntaxError ? 'MALFORMED_JSON' : 'BAD_REQUEST')
    return problemOf(status, code, fe.message, { instance })
  }
  request.log.error({ err }, 'request failed')
  return problemOf(500, 'INTERNAL', 'internal error', { instance })
}

export const sendRouteNotFound = (request: FastifyRequest, reply: FastifyReply) => {
  const path = request.url.split('?')[0]!
  return sendProblem(reply, problemOf(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${path}`, { instance: path }))
}

/**
 * Fastify's clientErrorHandler: a request Node could not parse (headers over its 16 KiB limit,
 * malformed HTTP, too slow to arrive) gets a problem like any other, and the log gets the
 * error's code only: Node attaches the raw bytes it read (rawPacket), credentials included.
 */
export function clientErrorHandler (this: FastifyInstance, err: Error & { code?: string }, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code, detail] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'HEADERS_TOO_LARGE', 'the request headers are larger than this server accepts']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
      : [400, 'MALFORMED_REQUEST', 'the request is not valid HTTP/1.1'] as const
  this.log.debug({ code: err.code }, 'client error')
  if (!socket.writable) return socket.destroy()
  const body = JSON.stringify(problemOf(status, code, detail))
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, () => socket.destroy())
}

export const problemPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err, request, reply) => {
    // A connection error closes the door for the next requests too: src/api/plugins/database-gate.ts.
    if (isConnectionError(err)) app.ctx.databaseGate.trip(err)
    return sendProblem(reply, toProblem(err, request))
  })
}, { name: 'problem' })
