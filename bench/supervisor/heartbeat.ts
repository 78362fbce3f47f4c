// (c) heartbeat ingest: the one statement a supervisor sends per host per interval
// (ctx.repos.supervision.heartbeat), for N simulated runners: rows inserted as running,
// generation 1, assigned to one registered node, each with a session, and a global budget and
// one per project in force, so every batch moves tokens into the runners, their sessions and
// the budgets. Tokens grow every batch, so every row has a delta to add.
//
// Beside it, the raw baseline on the same rows of the same table: one plain UPDATE … FROM
// jsonb_to_recordset(…) setting the same columns (heartbeat, CPU, memory, token totals) with no
// fencing, no row locks in id order, no session or budget update and no node stamp. Plain
// postgres.js on its own connection (Postgres) or the PGlite instance itself. The JSON input is
// the same shape as the real statement's, so both pay the same to ship and parse it. The two
// alternate batch by batch, so bloat and autovacuum land on both alike.
//
// Then the ramp: more runners on the same host until the batch p99 passes the heartbeat interval
// or the cost per runner grows superlinearly (per-runner p50 over twice the first level's).
import { randomBytes, randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { rowsOf } from '../../src/adapters/db/client.js'
import type { RunnerBeat } from '../../src/core/ports.js'
import { BENCH_AGENT, openBenchDatabase, openRig, type Backend } from './rig.js'
import { summary, round } from './stats.js'

export interface HeartbeatOptions {
  backend: Backend
  adminUrl: string | null
  levels: number[]
  /** Measured batches per level (each of the real statement and of raw); fewer if maxLevelSeconds runs out. */
  batches: number
  warmupBatches: number
  maxLevelSeconds: number
  intervalMs: number
  projects: number
}

const RAW_UPDATE = `
  update runners r set last_heartbeat = now(), cpu_percent = b.cpu, memory_mb = b.mem,
    input_tokens = b.input, output_tokens = b.output, cache_read_tokens = b.cache_read, cache_creation_tokens = b.cache_creation,
    tokens_used = b.input + b.output + b.cache_read + b.cache_creation
  from jsonb_to_recordset(($1::text)::jsonb)
    as b(id uuid, generation int, cpu real, mem int, input bigint, output bigint, cache_read bigint, cache_creation bigint)
  where r.id = b.id`

const rawInput = (beats: RunnerBeat[]) => JSON.stringify(beats.map(b => ({
  id: b.runnerId, generation: b.generation, cpu: b.cpuPercent, mem: Math.round(b.memoryMb),
  input: b.inputTokens, output: b.outputTokens, cache_read: b.cacheReadTokens, cache_creation: b.cacheCreationTokens,
})))

type PgliteClient = { query(text: string, params: unknown[]): Promise<unknown> }

export const measureHeartbeat = async (o: HeartbeatOptions) => {
  const db = await openBenchDatabase(o.backend, o.adminUrl)
  const rig = await openRig({ database: db.database, capacity: 10_000, heartbeatSeconds: 10, projects: o.projects, roles: ['bench'] })
  const { ctx } = rig
  const raw = db.url ? postgres(db.url, { max: 1, onnotice: () => {} }) : null
  const rawUpdate = raw
    ? (json: string) => raw.unsafe(RAW_UPDATE, [json], { prepare: true })
    : (json: string) => ((db.database.db as unknown as { $client: PgliteClient }).$client).query(RAW_UPDATE, [json])
  try {
    const node = {
      id: randomUUID(), name: 'bench-node', hostname: 'bench', version: 'bench', capacity: 100_000,
      credentialHash: randomBytes(32).toString('hex'), attachUrl: 'ws://127.0.0.1:1', attachKey: randomBytes(32).toString('hex'),
    }
    if (typeof await ctx.repos.supervision.registerNode(node) === 'string') throw new Error('could not register the bench node')
    await ctx.database.db.execute(sql`
      insert into token_budgets (scope, scope_id, limit_tokens, period_granularity, period_start, period_end)
      select 'global', '', 1e15, 'daily', now() - interval '1 hour', now() + interval '1 day'
      union all select 'project', name, 1e15, 'daily', now() - interval '1 hour', now() + interval '1 day' from projects`)

    let ids: string[] = []
    let k = 0 // every statement, real or raw, reports larger totals than the one before
    const beatsFor = (): RunnerBeat[] => {
      k++
      return ids.map((runnerId, i) => ({
        runnerId, generation: 1, cpuPercent: (i % 100) / 10, memoryMb: 100 + (i % 50),
        inputTokens: k * 100 + (i % 7), outputTokens: k * 10, cacheReadTokens: k * 1000, cacheCreationTokens: k,
      }))
    }
    const growTo = async (n: number) => {
      const add = n - ids.length
      if (add <= 0) return
      await ctx.database.db.execute(sql`
        with made as (
          insert into runners (id, project_name, project_path, agent, node_id, status, generation, session_id, created_by, started_at, last_heartbeat)
          select r.id, r.project, ${rig.root} || '/' || r.project, ${BENCH_AGENT}, ${node.id}::uuid, 'running', 1, r.id::text, 'bench', now(), now()
          from (select gen_random_uuid() as id, 'sv-' || lpad(((g % ${o.projects}) + 1)::text, 2, '0') as project from generate_series(1, ${add}) g) r
          returning id, project_name
        )
        insert into sessions (id, runner_id, project_name, agent, started_at, last_message_at)
        select id::text, id, project_name, ${BENCH_AGENT}, now(), now() from made`)
      ids = rowsOf<{ id: string }>(await ctx.database.db.execute(sql`select id::text as id from runners where node_id = ${node.id}::uuid order by id`)).map(r => r.id)
      // Each level starts from a vacuumed table, as autovacuum would keep it between intervals.
      await ctx.database.db.execute(sql`vacuum analyze runners, sessions, token_budgets`)
    }

    const levels = []
    let knee: { runners: number, reason: string } | null = null
    let firstPerRunnerUs: number | null = null
    for (const n of o.levels) {
      const setupStart = performance.now()
      await growTo(n)
      const setupMs = performance.now() - setupStart
      const real: number[] = []
      const base: number[] = []
      let refused = 0
      const one = async (which: 'real' | 'raw', measured: boolean) => {
        const beats = beatsFor()
        const at = performance.now()
        if (which === 'real') {
          const outcome = await ctx.repos.supervision.heartbeat(node.id, beats)
          const ms = performance.now() - at
          refused += beats.length - outcome.accepted.length
          if (measured) real.push(ms)
        } else {
          await rawUpdate(rawInput(beats))
          if (measured) base.push(performance.now() - at)
        }
      }
      for (let i = 0; i < o.warmupBatches; i++) { await one('real', false); await one('raw', false) }
      const started = performance.now()
      for (let i = 0; i < o.batches; i++) {
        // Alternate which goes first, so neither always follows the other's dirty pages.
        const order = i % 2 === 0 ? ['real', 'raw'] as const : ['raw', 'real'] as const
        for (const which of order) await one(which, true)
        if (i >= 4 && performance.now() - started > o.maxLevelSeconds * 1000) break
      }
      const realSummary = summary(real)
      const rawSummary = summary(base)
      const perRunnerUs = (realSummary.p50_ms ?? NaN) * 1000 / n
      firstPerRunnerUs ??= perRunnerUs
      levels.push({
        runners: n,
        batches: real.length,
        setup_ms: Math.round(setupMs),
        heartbeat: realSummary,
        raw: rawSummary,
        p50_ratio_to_raw: round((realSummary.p50_ms ?? NaN) / (rawSummary.p50_ms ?? NaN), 2),
        per_runner_us_p50: round(perRunnerUs, 2),
        runner_beats_per_second: round(n / ((realSummary.p50_ms ?? NaN) / 1000), 0),
        refused_beats: refused,
      })
      process.stderr.write(`[bench:supervisor] heartbeat ${o.backend} ${n} runners: p50 ${realSummary.p50_ms} ms, p99 ${realSummary.p99_ms} ms (raw p50 ${rawSummary.p50_ms}, p99 ${rawSummary.p99_ms}) over ${real.length} batches\n`)
      if ((realSummary.p99_ms ?? Infinity) > o.intervalMs) { knee = { runners: n, reason: `batch p99 ${realSummary.p99_ms} ms is over the ${o.intervalMs} ms heartbeat interval` }; break }
      if (perRunnerUs > 2 * firstPerRunnerUs) { knee = { runners: n, reason: `per-runner cost ${round(perRunnerUs, 2)} µs is over twice the first level's ${round(firstPerRunnerUs, 2)} µs` }; break }
    }
    return { levels, knee }
  } finally {
    await raw?.end({ timeout: 5 }).catch(() => {})
    await rig.close()
    await db.close().catch(() => {})
  }
}
