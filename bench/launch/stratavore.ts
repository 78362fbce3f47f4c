// The system under test: the real buildApp over a real createContext, configured the way a
// daemon is (loadConfig with DATABASE_URL, so the pool comes from database.postgresql.max_conns),
// migrated on its scratch database and listening on loopback. Projects and quotas go through
// the real use cases, as `stv project add` and `PUT /quota` would.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { sql } from 'drizzle-orm'
import { buildApp } from '../../src/api/app.js'
import { REDACT_PATHS } from '../../src/adapters/logger.js'
import { loadConfig } from '../../src/config.js'
import { createContext, type Context } from '../../src/context.js'
import type { Ledger, Variant, VariantOptions } from './variant.js'

export const BENCH_AGENT = 'generic-test'

/** database.postgresql.max_conns as a daemon with no config file would have it. */
export const defaultPoolSize = (): number => {
  const home = mkdtempSync(join(tmpdir(), 'stv-bench-home-'))
  try {
    return loadConfig({ env: { HOME: home }, home }).database.postgresql.max_conns
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

/**
 * `credential`: which token the load presents. `token` (the `stratavore` variant) is a named
 * operator token, looked up in the database on every request as any API client's is; `admin`
 * is the admin token, checked in memory, so the two differ by what authentication costs.
 */
export const startStratavore = async ({ databaseUrl, poolSize, projects, logLevel, logDestination }: VariantOptions, credential: 'token' | 'admin' = 'token'): Promise<Variant> => {
  const home = mkdtempSync(join(tmpdir(), 'stv-bench-home-'))
  // The projects live in a temp dir of their own, outside this home: let projects live there.
  const config = loadConfig({ env: { HOME: home, DATABASE_URL: databaseUrl, STRATAVORE_SECURITY_PROJECT_ROOTS: tmpdir() }, home })
  config.database.postgresql.max_conns = poolSize
  config.agents[BENCH_AGENT] = { name: BENCH_AGENT, kind: 'generic', command: ['/bin/sleep', '3600'], env: {} }

  // The daemon's logger options (src/adapters/logger.ts), writing where the benchmark says:
  // /dev/null keeps the cost of building every request line without flooding the terminal.
  const destination = pino.destination({ dest: logDestination === 'stderr' ? 2 : '/dev/null', sync: false })
  const logger = pino({ level: logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination)

  let ctx: Context | undefined
  let app: FastifyInstance | undefined
  let secret = ''
  const cleanup = async () => {
    await app?.close().catch(err => logger.warn({ err }, 'app close failed'))
    await ctx?.close().catch(err => logger.warn({ err }, 'context close failed'))
    await new Promise<void>(resolve => {
      destination.once('close', () => resolve())
      destination.once('error', () => resolve())
      destination.end()
    })
    rmSync(home, { recursive: true, force: true })
  }
  try {
    ctx = await createContext(config, logger, { roles: ['api'] })
    for (const p of projects) {
      mkdirSync(p.path, { recursive: true })
      await ctx.projects.create({ name: p.name, path: p.path }, 'bench')
      await ctx.projects.setQuota(p.name, p.maxConcurrentRunners, 'bench')
    }
    secret = credential === 'admin'
      ? readFileSync(config.adminTokenFile, 'utf8').trim()
      : (await ctx.tokens.create({ name: 'bench-launcher', role: 'operator' }, 'bench')).secret
    app = await buildApp(ctx)
    await app.listen({ host: '127.0.0.1', port: 0 })
  } catch (err) {
    await cleanup()
    throw err
  }
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('stratavore server has no TCP address')
  const db = ctx.database.db

  return {
    url: `http://127.0.0.1:${address.port}`,
    headers: { authorization: `Bearer ${secret}` },
    async ledger () {
      const result = await db.execute(sql`
        select (select count(*) from runners)::int as runners,
          (select count(*) from outbox where event_type = 'runner.launched')::int as outbox,
          (select count(*) from events where event_type = 'runner.launched')::int as events`)
      const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Ledger[]
      return rows[0]!
    },
    close: cleanup,
  }
}
