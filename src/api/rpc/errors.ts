// The one place RPC maps errors: AppError kinds, a lost database and everything else become a
// ConnectError with a Connect code and an ErrorDetail carrying the same stable code as the REST
// problem body. Every handler goes through errorInterceptor, unary and streaming alike, so no
// handler maps errors itself. An internal error says "internal error"; the log has the cause.
import { create } from '@bufbuild/protobuf'
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect'
import type { Logger } from '../../adapters/logger.js'
import { gateMessage, type DatabaseGate } from '../../adapters/db/database-gate.js'
import { isConnectionError, isDatabaseTimeout } from '../../adapters/db/pg-errors.js'
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
    // An unavailable dependency is an expected state: one line, no stack.
    if (err.kind === 'unavailable') log.warn({ code: err.code, reason: err.message }, 'rpc unavailable')
    return withDetail(err.message, CODE_OF_KIND[err.kind], err.code)
  }
  if (isConnectionError(err)) {
    // Counted by the database gate, which logs the outage as it opens and as it closes.
    log.debug({ code: (err as { code?: unknown }).code, reason: (err as Error).message }, 'database unavailable')
    return withDetail(gateMessage(isDatabaseTimeout(err) ? 'saturated' : 'unreachable'), Code.Unavailable, 'UNAVAILABLE')
  }
  log.error({ err }, 'rpc failed')
  return withDetail('internal error', Code.Internal, 'INTERNAL')
}

async function * mapStreamErrors<T> (messages: AsyncIterable<T>, log: Logger, gate: DatabaseGate): AsyncIterable<T> {
  try {
    yield * messages
  } catch (err) {
    if (isConnectionError(err)) gate.trip(err)
    throw toConnectError(err, log)
  }
}

/** Applies toConnectError to whatever a handler throws, before or during its response stream. */
export const errorInterceptor = (log: Logger, gate: DatabaseGate): Interceptor => next => async request => {
  // The database gate (src/adapters/db/database-gate.ts): refused at once while it is open.
  if (gate.isOpen()) {
    gate.refuse()
    throw withDetail(gateMessage(gate.reason()), Code.Unavailable, 'UNAVAILABLE')
  }
  try {
    const response = await next(request)
    return response.stream ? { ...response, message: mapStreamErrors(response.message, log, gate) } : response
  } catch (err) {
    if (isConnectionError(err)) gate.trip(err)
    throw toConnectError(err, log)
  }
}
