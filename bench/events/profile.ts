// Where a relay pass spends its time. Runs the relay's own code (createOutboxRelay +
// createRelayLoop + the AMQP bus, as workers/outbox-relay.ts wires them) in this process with
// each step of a pass timed: BEGIN, claim, publish + confirms, mark delivered, COMMIT. Two loads:
// a backlog drained at full speed, and a steady trickle of launches (the latency case).
// Prints one JSON object; not a benchmark (no baseline), a diagnostic for bench/events.
//
//   npx tsx bench/events/profile.ts [--backlog 20000] [--batch 200] [--rate 100] [--duration 10]
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { createAmqpBus } from '../../src/adapters/bus/amqp-bus.js'
import { OUTBOX_CHANNEL } from '../../src/adapters/db/unit-of-work.js'
import { createOutboxRelay } from '../../src/core/events/outbox-relay.js'
import { createRelayLoop } from '../../src/core/events/relay-loop.js'
import type { EventPublisher, UnitOfWork } from '../../src/core/ports.js'
import { BENCH_AGENT, openEventsRig, type EventsRig } from './rig.js'
import { fillBacklog } from './throughput.js'

const PHASES = ['begin', 'claim', 'publish_confirm', 'mark_delivered', 'commit', 'total'] as const
type Phase = typeof PHASES[number]

const { values } = parseArgs({ options: { backlog: { type: 'string' }, batch: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' } } })
const BACKLOG = Number(values.backlog ?? 20_000)
const BATCH = Number(values.batch ?? 200)
const RATE = Number(values.rate ?? 100)
const DURATION_S = Number(values.duration ?? 10)

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? Number(s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]!.toFixed(2)) : null
}

/** Runs the relay until `done()`, timing every non-empty pass. */
const profiledRelay = async (rig: EventsRig, done: () => Promise<boolean>) => {
  const bus = await createAmqpBus({ url: rig.amqpUrl, exchange: rig.exchange, logger: pino({ level: 'silent' }), onHandlerError: () => {} })
  await bus.connected
  const samples: Array<Record<Phase, number> & { rows: number }> = []
  let current: Partial<Record<Phase, number>> & { rows?: number } = {}
  const mark = (phase: Phase, since: number) => { current[phase] = performance.now() - since }
  const uow: UnitOfWork = {
    run: work => {
      const start = performance.now()
      current = {}
      let workEnd = 0
      return rig.ctx.uow.run(async tx => {
        mark('begin', start)
        const outbox = {
          ...tx.outbox,
          claimBatch: async (n: number) => { const t = performance.now(); const rows = await tx.outbox.claimBatch(n); mark('claim', t); current.rows = rows.length; return rows },
          markDelivered: async (ids: number[]) => { const t = performance.now(); await tx.outbox.markDelivered(ids); mark('mark_delivered', t) },
        }
        const result = await work({ ...tx, outbox })
        workEnd = performance.now()
        return result
      }).then(result => {
        mark('commit', workEnd)
        mark('total', start)
        if (current.rows) samples.push(current as Record<Phase, number> & { rows: number })
        return result
      })
    },
  }
  const publisher: EventPublisher = {
    ready: () => bus.ready(),
    publishBatch: async (messages, hooks) => { const t = performance.now(); const r = await bus.publishBatch(messages, hooks); mark('publish_confirm', t); return r },
  }
  const relay = createOutboxRelay({ uow, publisher, clock: rig.ctx.clock, ids: rig.ctx.ids, batchSize: BATCH })
  let unlisten: () => Promise<void> = async () => {}
  const loop = createRelayLoop({
    relay, batchSize: BATCH, pollIntervalMs: 1000,
    onWake: wake => { void rig.ctx.database.listen(OUTBOX_CHANNEL, wake, wake).then(stop => { unlisten = stop }); return () => { void unlisten() } },
  })
  loop.start()
  while (!(await done())) await new Promise(resolve => setTimeout(resolve, 20))
  await loop.stop()
  await bus.close()
  return {
    passes: samples.length,
    rows_per_pass_mean: Number((samples.reduce((n, s) => n + s.rows, 0) / Math.max(1, samples.length)).toFixed(1)),
    ms: Object.fromEntries(PHASES.map(p => [p, { p50: percentile(samples.map(s => s[p] ?? 0), 50), p99: percentile(samples.map(s => s[p] ?? 0), 99), mean: Number((samples.reduce((n, s) => n + (s[p] ?? 0), 0) / Math.max(1, samples.length)).toFixed(2)) }])),
  }
}

const pendingNone = (rig: EventsRig) => async () => (await rig.ctx.repos.outbox.backlog()).pending === 0

const main = async () => {
  const rig = await openEventsRig({ adminUrl: process.env.STRATAVORE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', amqpUrl: process.env.STRATAVORE_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672' })
  try {
    await fillBacklog(rig, BACKLOG)
    const t0 = performance.now()
    const backlog = await profiledRelay(rig, pendingNone(rig))
    const backlogRate = Math.round(BACKLOG / ((performance.now() - t0) / 1000))

    const projects = await rig.projects(10)
    const until = performance.now() + DURATION_S * 1000
    let sent = 0
    const writer = setInterval(() => {
      const due = Math.min(RATE * DURATION_S, Math.floor((DURATION_S * 1000 - (until - performance.now())) / 1000 * RATE))
      while (sent < due) void rig.ctx.runners.launch({ project: projects[sent++ % projects.length]!, agent: BENCH_AGENT }, 'bench')
    }, 2)
    const trickle = await profiledRelay(rig, async () => performance.now() > until && await pendingNone(rig)())
    clearInterval(writer)
    process.stdout.write(`${JSON.stringify({ batch_size: BATCH, backlog: { events: BACKLOG, events_per_second_incl_stop: backlogRate, ...backlog }, trickle: { rate_per_second: RATE, ...trickle } }, null, 2)}\n`)
  } finally {
    await rig.close()
  }
}

main().catch(err => { process.stderr.write(`${(err as Error).stack ?? err}\n`); process.exitCode = 2 })
