// The one place RPC maps errors: AppError kinds, a lost database and everything else become a
// ConnectError with a Connect code and an ErrorDetail carrying the same stable code as the REST
// problem body. Every handler goes through errorInterceptor, unary and streaming alike, so no
// handler maps errors itself. An internal error says "internal error"; the log has the cause.
import { create } from '@bufbuild/protobuf'
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect'
import type { Logger } from '../../adapters/logger.js'
import type { DatabaseGate } from '../../adapters/db/database-gate.js'
import { isConnectionError } from '../../adapters/db/pg-errors.js'
import { isAppError, type ErrorKind } from '../../core/errors.js'
import { ErrorDetailSchema } from '../../gen/stratavore/v1/error_pb.js'

export const CODE_OF_KIND: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  internal: Code.Internal,
}

const withDetail = (message: string, code: Code, stableCode: string) =>
  new ConnectError(message, code, undefined, [{ desc: ErrorDetailSchema, value: create(ErrorDetailSchema, { code: stableCode }) }])

/** Maps any thrown value to a ConnectError; logs what the client must not see. */
export const toConnectError = (err: unknown, log: Logger): ConnectError => {
  // Connect's own errors (unknown method, message too large, deadline, client gone) and the
  // ones handlers raise on purpose (Unimplemented) are already in the client's vocabulary.
  if (err instanceof ConnectError) return err
  if (isAppError(err)) {
    if (err.kind === 'internal') {
      log.error({ err }, 'rpc failed')
      return withDetail('internal error', Code.Internal, 'INTERNAL')
    }
    if (err.kind === 'unavailable') log.warn({ err }, 'rpc unavailable')
    return withDetail(err.message, CODE_OF_KIND[err.kind], err.code)
  }
  if (isConnectionError(err)) {
    log.error({ err }, 'database unavailable')
    return withDetail('the database is unavailable; retry shortly', Code.Unavailable, 'UNAVAILABLE')
  }
  log.error({ err }, 'rpc failed')
  return withDetail('internal error', Code.Internal, 'INTERNAL')
}

async function * mapStreamErrors<T> (messages: AsyncIterable<T>, log: Logger, gate: DatabaseGate): AsyncIterable<T> {
  try {
    yield * messages
  } catch (err) {
    if (isConnectionError(err)) gate.trip()
    throw toConnectError(err, log)
  }
}

/** Applies toConnectError to whatever a handler throws, before or during its response stream. */
export const errorInterceptor = (log: Logger, gate: DatabaseGate): Interceptor => next => async request => {
  // The database gate (src/adapters/db/database-gate.ts): refused at once while it is open.
  if (gate.isOpen()) throw withDetail('the database is unavailable; retry shortly', Code.Unavailable, 'UNAVAILABLE')
  try {
    const response = await next(request)
    return response.stream ? { ...response, message: mapStreamErrors(response.message, log, gate) } : response
  } catch (err) {
    if (isConnectionError(err)) gate.trip()
    throw toConnectError(err, log)
  }
}
