// `stratavored api`: the HTTP API (REST, Connect-RPC, Lex WebUI routes, OpenAPI) on
// daemon.http_port, the RPC router over HTTP/2 on daemon.grpc_port, and Prometheus metrics on
// docker.prometheus.port.
import { buildApp } from '../src/api/app.js'
import { buildGrpcServer } from '../src/api/grpc-server.js'
import { buildMetricsServer } from '../src/api/metrics-server.js'
import type { Context } from '../src/context.js'
import { createFailureStreak } from '../src/core/failure-streak.js'
import type { Part } from '../src/process/lifecycle.js'

// In-flight requests get this long to finish on shutdown. A request can wait on a query that
// postgres.js never settles after its connection was cut (a Postgres restart); those only fail
// when the database closes, which comes after the API, so past the deadline their connections
// are closed and the database close then fails their queries.
const DRAIN_MS = 5000

const closeDraining = async (app: Awaited<ReturnType<typeof buildApp>>, ctx: Context) => {
  const deadline = setTimeout(() => {
    ctx.logger.warn('requests still running after the drain period; closing their connections')
    app.server.closeAllConnections()
  }, DRAIN_MS)
  try { await app.close() } finally { clearTimeout(deadline) }
}

export const startApi = async (ctx: Context): Promise<Part[]> => {
  const { daemon, docker } = ctx.config
  const parts: Part[] = []

  const app = await buildApp(ctx)
  await app.listen({ host: daemon.host, port: daemon.http_port })
  ctx.logger.info({ url: `http://${daemon.host}:${daemon.http_port}`, docs: `http://${daemon.host}:${daemon.http_port}/docs` }, 'api listening')
  parts.push({ name: 'api', stop: () => closeDraining(app, ctx) })

  // The same RPC router over HTTP/2 for gRPC clients.
  const grpc = buildGrpcServer(ctx, { drainMs: DRAIN_MS })
  await grpc.listen({ host: daemon.host, port: daemon.grpc_port })
  ctx.logger.info({ url: `${grpc.tls ? 'https' : 'http'}://${daemon.host}:${daemon.grpc_port}`, tls: grpc.tls }, 'grpc listening (Connect, gRPC, gRPC-Web over HTTP/2)')
  parts.push({ name: 'grpc', stop: () => grpc.close() })

  if (docker.prometheus.enabled) {
    const metrics = buildMetricsServer(ctx)
    await metrics.listen({ host: docker.prometheus.host, port: docker.prometheus.port })
    ctx.logger.info({ url: `http://${docker.prometheus.host}:${docker.prometheus.port}/metrics` }, 'metrics listening')
    parts.push({ name: 'metrics', stop: () => metrics.close() })
  }

  // This daemon's own liveness row, read by /api/v1/status on every daemon of the group.
  const beats = createFailureStreak(ctx.logger, 'daemon heartbeat')
  const beat = setInterval(() => {
    ctx.repos.daemons.heartbeat(ctx.daemonId).then(() => beats.succeeded(), err => beats.failed(err))
  }, daemon.heartbeat_interval_seconds * 1000)
  parts.push({ name: 'daemon-heartbeat', stop: async () => clearInterval(beat) })
  return parts
}
