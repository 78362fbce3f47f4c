// `stratavored api`: the HTTP API (REST, Connect-RPC, Lex WebUI routes, OpenAPI) on
// daemon.http_port, the RPC router over HTTP/2 on daemon.grpc_port, and Prometheus metrics on
// docker.prometheus.port.
import { Cron } from 'croner'
import { buildApp } from '../src/api/app.js'
import { buildGrpcServer } from '../src/api/grpc-server.js'
import { buildMetricsServer } from '../src/api/metrics-server.js'
import type { Context } from '../src/context.js'
import { createFailureStreak } from '../src/core/failure-streak.js'
import { bindPort } from '../src/process/bind-port.js'
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

// The API process takes the audit checkpoints because GET /api/v1/audit/verify compares with
// the checkpoint file in its own data dir: every daemon that answers verify keeps that file
// current, whichever other roles run on its host. With several API daemons, each keeps its own.
const startAuditCheckpoints = (ctx: Context): Part[] => {
  const log = ctx.logger.child({ component: 'audit-checkpoint' })
  const interval = ctx.config.security.audit_checkpoint_interval_seconds
  if (interval === 0) return []
  const take = async () => {
    try {
      const outcome = await ctx.auditCheckpoints.checkpoint()
      if (outcome.written) log.debug({ chains: outcome.chains }, 'audit checkpoint written')
      else if (outcome.reason === 'regressed') {
        log.error({ findings: outcome.findings }, 'audit: the log lacks rows the last checkpoint names; no new checkpoint is written ' +
          'until this is resolved (GET /api/v1/audit/verify)')
      }
    } catch (err) {
      log.warn({ err }, 'audit checkpoint failed; next try at the next interval')
    }
  }
  let running: Promise<void> = Promise.resolve()
  const job = new Cron('* * * * * *', { protect: true, interval }, () => {
    running = take()
    return running
  })
  return [{ name: 'audit-checkpoint', stop: async () => { job.stop(); await running; await take() } }]
}

export const startApi = async (ctx: Context): Promise<Part[]> => {
  const { daemon, docker } = ctx.config
  const parts: Part[] = []

  // First, so that it stops last: the final checkpoint then covers what the other roles of
  // this process wrote while stopping.
  parts.push(...startAuditCheckpoints(ctx))

  const app = await buildApp(ctx)
  await bindPort({ host: daemon.host, port: daemon.http_port, portKey: 'daemon.http_port', hostKey: 'daemon.host' }, () => app.listen({ host: daemon.host, port: daemon.http_port }))
  const base = `${ctx.config.httpTls ? 'https' : 'http'}://${daemon.host}:${daemon.http_port}`
  ctx.logger.info({ url: base, docs: `${base}/docs`, tls: ctx.config.httpTls !== null }, 'api listening')
  parts.push({ name: 'api', stop: () => closeDraining(app, ctx) })

  // The same RPC router over HTTP/2 for gRPC clients.
  const grpc = buildGrpcServer(ctx, { drainMs: DRAIN_MS })
  await bindPort({ host: daemon.host, port: daemon.grpc_port, portKey: 'daemon.grpc_port', hostKey: 'daemon.host' }, () => grpc.listen({ host: daemon.host, port: daemon.grpc_port }))
  ctx.logger.info({ url: `${grpc.tls ? 'https' : 'http'}://${daemon.host}:${daemon.grpc_port}`, tls: grpc.tls, mtls: grpc.mtls }, 'grpc listening (Connect, gRPC, gRPC-Web over HTTP/2)')
  parts.push({ name: 'grpc', stop: () => grpc.close() })

  if (docker.prometheus.enabled) {
    const metrics = buildMetricsServer(ctx)
    await bindPort({ host: docker.prometheus.host, port: docker.prometheus.port, portKey: 'docker.prometheus.port', hostKey: 'docker.prometheus.host' },
      () => metrics.listen({ host: docker.prometheus.host, port: docker.prometheus.port }))
    ctx.logger.info({ url: `http://${docker.prometheus.host}:${docker.prometheus.port}/metrics` }, 'metrics listening')
    if (!docker.prometheus.token && !/^(127\.|localhost$|::1$)/.test(docker.prometheus.host)) {
      ctx.logger.warn({ host: docker.prometheus.host }, 'metrics: listening beyond loopback without docker.prometheus.token; anyone who reaches the port can read them')
    }
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
