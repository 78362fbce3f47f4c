// Prometheus exposition on its own port (docker.prometheus.port), apart from the API so it can
// be firewalled separately. HTTP metrics come from fastify-metrics on the API instance; the
// domain gauges are read from the database at scrape time, so every daemon reports the same.
import { createHash, timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import client from 'prom-client'
import { bearerToken } from '../adapters/system/bearer-token.js'
import type { Context } from '../context.js'

const registerDomainGauges = (ctx: Context) => {
  const names = ['stratavore_runners_active', 'stratavore_projects_active', 'stratavore_sessions', 'stratavore_tokens_used', 'stratavore_token_limit']
  for (const name of names) client.register.removeSingleMetric(name)
  let pending: Promise<Awaited<ReturnType<typeof ctx.status.metrics>>> | null = null
  // One database read per scrape, shared by the gauges.
  const metrics = () => (pending ??= ctx.status.metrics().finally(() => setImmediate(() => { pending = null })))
  const gauge = (name: string, help: string, pick: (m: Awaited<ReturnType<typeof metrics>>) => number) =>
    new client.Gauge({ name, help, async collect () { this.set(pick(await metrics())) } })
  gauge('stratavore_runners_active', 'Runners not yet terminated or failed', m => m.activeRunners)
  gauge('stratavore_projects_active', 'Projects with at least one active runner', m => m.activeProjects)
  gauge('stratavore_sessions', 'Agent sessions recorded', m => m.totalSessions)
  gauge('stratavore_tokens_used', 'Tokens used by all runners', m => m.tokensUsed)
  gauge('stratavore_token_limit', 'Current global token budget (0: none)', m => m.tokenLimit)
}

export const buildMetricsServer = (ctx: Context): FastifyInstance => {
  registerDomainGauges(ctx)
  const app = Fastify({ logger: false })
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
    return reply.type(client.register.contentType).send(await client.register.metrics())
  })
  app.get('/health', async (_request, reply) => reply.type('text/plain').send('OK'))
  return app as unknown as FastifyInstance
}
