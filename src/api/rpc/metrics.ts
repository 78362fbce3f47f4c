// Times every RPC call for /metrics (stratavore_rpc_duration_seconds), on both ports and in
// every protocol: outermost, so it sees the code the error interceptor mapped. A unary call is
// timed to its response; a server stream (WatchEvents) to its end.
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect'
import type { ProcessMetrics } from '../../adapters/metrics/instruments.js'

// Code.NotFound → not_found, the names the Connect and gRPC specs use.
const codeName = (code: Code) => Code[code].replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()

const protocolOf = (contentType: string | null) =>
  contentType?.startsWith('application/grpc-web') ? 'grpc_web' : contentType?.startsWith('application/grpc') ? 'grpc' : 'connect'

export const metricsInterceptor = (metrics: Pick<ProcessMetrics, 'rpcCall'>): Interceptor => next => async request => {
  const started = process.hrtime.bigint()
  const labels = { service: request.service.typeName, method: request.method.name, protocol: protocolOf(request.header.get('content-type')) }
  const observe = (err: unknown) => metrics.rpcCall({ ...labels, code: err === undefined ? 'ok' : codeName(ConnectError.from(err).code) }, Number(process.hrtime.bigint() - started) / 1e9)
  let response
  try {
    response = await next(request)
  } catch (err) {
    observe(err)
    throw err
  }
  if (!response.stream) {
    observe(undefined)
    return response
  }
  const messages = response.message
  return {
    ...response,
    message: (async function * () {
      // finally: a stream the client abandoned (return()) is timed as well.
      let failure: unknown
      try {
        yield * messages
      } catch (err) {
        failure = err ?? new Error('stream failed')
        throw err
      } finally {
        observe(failure)
      }
    })(),
  }
}
