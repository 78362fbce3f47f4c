// Prometheus exposition on its own port (docker.prometheus.port), apart from the API so it can
// be firewalled separately. Three registries, one after the other in the body:
// - prom-client's global one: HTTP request histograms (fastify-metrics on the API) and the
//   process's runtime metrics;
// - this process's own (src/adapters/metrics/instruments.ts): histograms of what it did;
// - the fleet's gauges (metrics/fleet-gauges.ts), only on the daemon holding the fleet-metrics
//   lease, read from the database on an interval, never at scrape time (README, Metrics).
import { createHash, timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import client from 'prom-client'
import { bearerToken } from '../adapters/system/bearer-token.js'
import type { Context } from '../context.js'
import { createFleetGauges } from './metrics/fleet-gauges.js'
import { createFleetRefresh, type FleetRefresh } from './metrics/fleet-refresh.js'

declare module 'fastify' {
  interface FastifyInstance { fleet: FleetRefresh }
}

export const buildMetricsServer = (ctx: Context): FastifyInstance => {
  const gauges = createFleetGauges()
  const fleet = createFleetRefresh(ctx, gauges.update)
  const own = new client.Registry()
  const leaderGauge = new client.Gauge({ name: 'stratavore_metrics_leader', help: '1 on the daemon that serves the fleet gauges (the lease holder)', registers: [own] })
  const app = Fastify({ logger: false })
  app.decorate('fleet', fleet)
  fleet.start()
  app.addHook('onClose', () => fleet.stop())
  // docker.prometheus.token, when set: scrapers send it as a bearer token. Compared as hashes,
  // in constant time.
  const digest = (text: string) => createHash('sha256').update(text).digest()
  const expected = ctx.config.docker.prometheus.token ? digest(ctx.config.docker.prometheus.token) : null
  app.get('/metrics', async (request, reply) => {
    if (expected) {
      const given = bearerToken(request.headers.authorization)
      if (!given || !timingSafeEqual(digest(given), expected)) {
        return reply.code(401).header('www-authenticate', 'Bearer').type('text/plain').send('unauthorized: send Authorization: Bearer <docker.prometheus.token>')
      }
    }
    // Only until the first tick has run: later scrapes never wait for the database.
    if (!fleet.ticked()) await fleet.refresh()
    const reading = fleet.current()
    leaderGauge.set(reading ? 1 : 0)
    const parts = [client.register, ctx.metrics.registry, own, ...(reading ? [gauges.registry] : [])]
    const texts = await Promise.all(parts.map(registry => registry.metrics()))
    return reply.type(client.register.contentType).send(texts.filter(text => text.trim() !== '').map(text => text.endsWith('\n') ? text : `${text}\n`).join(''))
  })
  app.get('/health', async (_request, reply) => reply.type('text/plain').send('OK'))
  return app as unknown as FastifyInstance
}
