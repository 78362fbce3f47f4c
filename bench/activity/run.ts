// Issue 13: the delay from an agent's hook firing to its runner.activity event on the live feed,
// for many runners changing state at once. Real path: a Claude Code `type: "http"` hook POST to
// the runner's hook channel (src/adapters/supervisor/hook-server.ts) → the supervisor's activity
// reporter → the fenced write with its outbox row (transitions.activity) → the `stratavored api`
// process's feed → a WebSocket subscriber. Each round, every runner's hook fires at once (working,
// then idle, alternately: each is a change); latency is the subscriber's receipt minus the
// moment that runner's POST was sent, on this process's clock.
//
// Raw baseline, in the same run: a plain Fastify route that inserts a row and NOTIFYs in one
// postgres.js transaction, a LISTEN connection that forwards each notice to a plain `ws` server,
// and the same subscriber; the same POSTs, at once. The ratio is what survives a noisy machine.
//
//   npx tsx bench/activity/run.ts [--runners 100] [--rounds 10]   (Postgres and RabbitMQ, as the events bench)
import { randomUUID } from 'node:crypto'
import { loadavg } from 'node:os'
import Fastify from 'fastify'
import { pino } from 'pino'
import postgres from 'postgres'
import WebSocket, { WebSocketServer } from 'ws'
import { eq, inArray } from 'drizzle-orm'
import { runners } from '../../src/adapters/db/schema.js'
import { startHookServer } from '../../src/adapters/supervisor/hook-server.js'
import { createActivityReporter } from '../../src/core/supervisor/activity-reporter.js'
import type { Tracked } from '../../src/core/supervisor/node-supervisor.js'
import { createTransitions } from '../../src/core/supervisor/transitions.js'
import { latencyPercentiles, machineFacts, progressLog, readOptions, runBench } from '../common.js'
import { openEventsRig } from '../events/rig.js'

const log = progressLog('activity')
const options = readOptions({ text: ['runners', 'rounds'] }, 'npx tsx bench/activity/run.ts [--runners N] [--rounds N]')
const RUNNERS = options.number('runners', 100, 1, 1000)
const ROUNDS = options.number('rounds', 10, 2, 1000)
const ADMIN_URL = process.env.STRATAVORE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const AMQP_URL = process.env.STRATAVORE_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const NODE = randomUUID()
const WAIT_MS = 30_000

/** A subscriber that records, per key, when the next frame naming it arrives. */
const subscribe = async (url: string, headers: Record<string, string>, keyOf: (text: string) => string | null) => {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  let waiting = new Map<string, (at: number) => void>()
  ws.on('message', data => {
    const at = performance.now()
    const key = keyOf(data.toString())
    if (key !== null) waiting.get(key)?.(at)
  })
  return {
    expect: (keys: string[]) => {
      waiting = new Map()
      return keys.map(key => new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no frame for ${key} in ${WAIT_MS} ms`)), WAIT_MS)
        waiting.set(key, at => { clearTimeout(timer); resolve(at) })
      }))
    },
    close: () => ws.close(),
  }
}

/** Rounds of one POST per key, all at once; the latency of each, POST sent → frame received. */
const measure = async (keys: string[], sub: Awaited<ReturnType<typeof subscribe>>, post: (key: string, round: number) => Promise<void>) => {
  const samples: number[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    const received = sub.expect(keys)
    const sent = keys.map(() => performance.now())
    await Promise.all(keys.map((key, i) => { sent[i] = performance.now(); return post(key, round) }))
    const at = await Promise.all(received)
    if (round > 1) samples.push(...at.map((t, i) => t - sent[i]!)) // round 1 warms up
  }
  return latencyPercentiles(samples.sort((a, b) => a - b), 1)
}

const realPath = async (rig: Awaited<ReturnType<typeof openEventsRig>>) => {
  const { ctx } = rig
  const [project] = await rig.projects(1)
  const transitions = createTransitions({ uow: ctx.uow, clock: ctx.clock, ids: ctx.ids, node: { id: NODE } })
  await transitions.register({ id: NODE, name: 'bench-node', hostname: 'bench', version: 'bench', capacity: RUNNERS, credentialHash: 'bench', attachUrl: 'ws://127.0.0.1:1', attachKey: 'bench' })
  const ids: string[] = []
  for (let i = 0; i < RUNNERS; i++) ids.push((await ctx.runners.launch({ project: project!, agent: 'generic-test' }, 'bench')).id)
  await ctx.database.db.update(runners).set({ nodeId: NODE, status: 'running', generation: 1 }).where(inArray(runners.id, ids))
  const api = await rig.spawnApi()
  const hooks = await startHookServer({ log: pino({ level: 'silent' }) })
  const reporter = createActivityReporter({ transitions, clock: ctx.clock, log: pino({ level: 'silent' }), instruments: { humanWait: () => {} } })
  const channels = new Map<string, { url: string, token: string }>()
  for (const id of ids) {
    const [row] = await ctx.database.db.select().from(runners).where(eq(runners.id, id))
    const tracked = { runner: { ...row, activity: { state: 'unknown' } }, generation: 1, fenced: false } as unknown as Tracked
    channels.set(id, hooks.open(id, 'claude', signal => reporter.report(tracked, signal)))
  }
  const sub = await subscribe(`${api.url.replace('http', 'ws')}/api/v1/events?filter=runner.activity.%23`, { authorization: `Bearer ${api.token}` },
    frame => /"aggregate_id":"([^"]+)"/.exec(frame)?.[1] ?? null)
  try {
    return await measure(ids, sub, async (id, round) => {
      const channel = channels.get(id)!
      const res = await fetch(channel.url, {
        method: 'POST', headers: { authorization: `Bearer ${channel.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ hook_event_name: round % 2 === 1 ? 'UserPromptSubmit' : 'Stop', session_id: id }),
      })
      if (!res.ok) throw new Error(`hook answered ${res.status}`)
    })
  } finally {
    sub.close()
    await hooks.close()
    await api.stop()
  }
}

const rawPath = async (url: string) => {
  const sql = postgres(url, { max: 10, onnotice: () => {} })
  const listener = postgres(url, { max: 1, onnotice: () => {} })
  await sql`create table if not exists bench_raw_activity (id bigserial primary key, runner_id text not null, state text not null, at timestamptz not null default now())`
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise(resolve => wss.once('listening', resolve))
  await listener.listen('bench_raw_activity', payload => { for (const client of wss.clients) client.send(payload) })
  const app = Fastify()
  app.post<{ Params: { id: string }, Body: { hook_event_name: string } }>('/hooks/:id', async req => {
    const state = req.body.hook_event_name === 'Stop' ? 'idle' : 'working'
    await sql.begin(async tx => {
      const [row] = await tx`insert into bench_raw_activity (runner_id, state) values (${req.params.id}, ${state}) returning id`
      await tx`select pg_notify('bench_raw_activity', ${JSON.stringify({ aggregate_id: req.params.id, state, id: String(row!.id) })})`
    })
    return {}
  })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = wss.address() as { port: number }
  const keys = Array.from({ length: RUNNERS }, () => randomUUID())
  const sub = await subscribe(`ws://127.0.0.1:${port}`, {}, frame => (JSON.parse(frame) as { aggregate_id: string }).aggregate_id)
  try {
    return await measure(keys, sub, async (key, round) => {
      const res = await fetch(`${base}/hooks/${key}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hook_event_name: round % 2 === 1 ? 'UserPromptSubmit' : 'Stop' }) })
      if (!res.ok) throw new Error(`raw route answered ${res.status}`)
    })
  } finally {
    sub.close()
    await app.close()
    await new Promise(resolve => wss.close(resolve))
    await listener.end()
    await sql.end()
  }
}

runBench(async () => {
  const load = loadavg()[0]!
  log(`${RUNNERS} runners × ${ROUNDS} rounds (the first warms up)`)
  const rig = await openEventsRig({ adminUrl: ADMIN_URL, amqpUrl: AMQP_URL })
  try {
    log('raw: Fastify → postgres.js insert + NOTIFY → LISTEN → ws')
    const raw = await rawPath(rig.scratch.url)
    log('stratavore: hook channel → activity reporter → fenced write + outbox → api feed → ws')
    const stratavore = await realPath(rig)
    const ratio = (a: number | null, b: number | null) => a !== null && b ? Number((a / b).toFixed(2)) : null
    process.stdout.write(`${JSON.stringify({
      bench: 'activity', runners: RUNNERS, rounds: ROUNDS - 1,
      hook_to_feed_ms: { stratavore, raw, ratio: { p50: ratio(stratavore.p50_ms, raw.p50_ms), p99: ratio(stratavore.p99_ms, raw.p99_ms) } },
      machine: machineFacts(load),
    }, null, 2)}\n`)
  } finally {
    await rig.close()
  }
}, log)
