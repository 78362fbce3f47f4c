// bench/events: the event path's throughput and latency on real Postgres and RabbitMQ, each
// beside a raw baseline measured in the same run (see bench/README.md):
//   - L9  relay throughput draining a backlog vs raw amqplib publishing with confirms;
//   - L10 commit → consumer latency at a steady rate vs raw publish → consume;
//   - L11/L12 live-feed WebSocket fan-out to many subscribers vs a raw `ws` server.
// Prints one JSON object on stdout; progress goes to stderr.
//
//   npx tsx bench/events/run.ts [--backlog 20000] [--batch 200] [--rate 100] [--duration 20]
//     [--warmup 2] [--rounds 1] [--sections throughput,latency,ws] [--subscribers 1000] [--ws-rate 20] [--burst 500]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--amqp-url amqp://guest:guest@127.0.0.1:5672] [--check]
//
// Every option also reads STRATAVORE_BENCH_<NAME>. --check makes a missed target exit 1.
import { loadavg } from 'node:os'
import { loadConfig } from '../../src/config.js'
import { machineFacts, mean, progressLog, readOptions, round, runBench, watchdog } from '../common.js'
import { serverInfo } from '../launch/scratch.js'
import { rawLatency, relayLatency, type LatencyRun } from './latency.js'
import { BENCH_AGENT, openEventsRig } from './rig.js'
import { fillBacklog, rawThroughput, relayThroughput, type ThroughputRun } from './throughput.js'
import { rawFanout, realFanout, type FanoutRun } from './ws.js'

const TARGETS = { events_per_second_min: 2000, ratio_to_raw_min: 0.5, p50_ms_max: 10, p99_ms_max: 100, ws_p99_ms_max: 150, ws_deliveries_per_second_min: 40_000 }
const SECTIONS = ['throughput', 'latency', 'ws'] as const

const log = progressLog('events')

const parseOptions = () => {
  const { text, number, choices, flag } = readOptions({
    text: ['backlog', 'batch', 'rate', 'duration', 'warmup', 'rounds', 'sections', 'subscribers', 'ws-rate', 'burst', 'database-url', 'amqp-url'],
    boolean: ['check'],
  }, 'usage: tsx bench/events/run.ts [--backlog N] [--batch N] [--rate N] [--duration S] [--warmup S] [--rounds N] ' +
    '[--sections throughput,latency,ws] [--subscribers N] [--ws-rate N] [--burst N] [--database-url URL] [--amqp-url URL] [--check]')
  const sections = choices('sections', 'section', SECTIONS)
  // The relay's batch size as a daemon with no config file has it (relay.batch_size).
  const defaultBatch = loadConfig({ env: { HOME: '/nonexistent' }, home: '/nonexistent' }).relay.batch_size
  return {
    databaseUrl: text('database-url') ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    amqpUrl: text('amqp-url') ?? 'amqp://guest:guest@127.0.0.1:5672',
    backlog: Math.round(number('backlog', 20_000, 100, 1_000_000)),
    batch: Math.round(number('batch', defaultBatch, 1, 5000)),
    rate: number('rate', 100, 1, 5000),
    durationS: number('duration', 20, 1, 600),
    warmupS: number('warmup', 2, 0, 60),
    rounds: Math.round(number('rounds', 1, 1, 10)),
    sections,
    subscribers: Math.round(number('subscribers', 1000, 1, 10_000)),
    wsRate: number('ws-rate', 20, 1, 1000),
    burst: Math.round(number('burst', 500, 1, 10_000)),
    check: flag('check'),
  }
}

const main = async () => {
  const options = parseOptions()
  const startedAt = new Date()
  const perRoundS = (options.sections.includes('throughput') ? 120 : 0) + (options.sections.includes('latency') ? 2 * (options.warmupS + options.durationS + 45) : 0) +
    (options.sections.includes('ws') ? 2 * (options.durationS + 120) : 0)
  watchdog((options.rounds * perRoundS + 60) * 1000, log)

  const loadBefore = loadavg()
  const pg = await serverInfo(options.databaseUrl)
  const throughput: { relay: ThroughputRun[], raw: ThroughputRun[] } = { relay: [], raw: [] }
  const latency: { relay: LatencyRun[], raw: LatencyRun[] } = { relay: [], raw: [] }
  const fanout: { stratavore: FanoutRun[], raw: FanoutRun[] } = { stratavore: [], raw: [] }

  for (let round = 1; round <= options.rounds; round++) {
    const rig = await openEventsRig({ adminUrl: options.databaseUrl, amqpUrl: options.amqpUrl })
    try {
      if (options.sections.includes('throughput')) {
        log(`round ${round}: filling a backlog of ${options.backlog} on ${rig.scratch.name}`)
        const messages = await fillBacklog(rig, options.backlog)
        // Alternate the order each round so drift on the machine favours neither.
        const order = round % 2 === 1 ? ['raw', 'relay'] as const : ['relay', 'raw'] as const
        for (const variant of order) {
          const run = variant === 'raw'
            ? await rawThroughput(rig, { messages, window: options.batch })
            : await relayThroughput(rig, { events: options.backlog, batchSize: options.batch, adminUrl: options.databaseUrl })
          log(`round ${round}: ${variant} throughput ${run.events_per_second} events/s (${run.queued} queued)`)
          throughput[variant].push(run)
        }
      }
      if (options.sections.includes('latency')) {
        // The raw variant sends real runner.launched envelopes (a few launches make some).
        const [project] = await rig.projects(1)
        for (let i = 0; i < 10; i++) await rig.ctx.runners.launch({ project: project!, agent: BENCH_AGENT }, 'bench')
        const bodies = (await rig.ctx.database.db.query.outbox.findMany({ where: (o, { eq }) => eq(o.eventType, 'runner.launched'), limit: 50 })).map(r => r.payload)
        const order = round % 2 === 1 ? ['raw', 'relay'] as const : ['relay', 'raw'] as const
        for (const variant of order) {
          const params = { rate: options.rate, warmupS: options.warmupS, durationS: options.durationS }
          const run = variant === 'raw' ? await rawLatency(rig, { ...params, bodies }) : await relayLatency(rig, params)
          log(`round ${round}: ${variant} latency p50 ${run.p50_ms} ms, p99 ${run.p99_ms} ms (${run.count} samples, ${run.missing} missing)`)
          latency[variant].push(run)
        }
      }
      if (options.sections.includes('ws')) {
        // The raw server sends frames shaped like the feed's: a runner.launched envelope plus routing_key.
        const [row] = await rig.ctx.database.db.query.outbox.findMany({ where: (o, { eq }) => eq(o.eventType, 'runner.launched'), limit: 1 })
        const template = row ? { ...row.payload, routing_key: row.routingKey } : { type: 'runner.launched' }
        const params = { subscribers: options.subscribers, rate: options.wsRate, durationS: options.durationS, burst: options.burst }
        const order = round % 2 === 1 ? ['raw', 'stratavore'] as const : ['stratavore', 'raw'] as const
        for (const variant of order) {
          const run = variant === 'raw' ? await rawFanout({ ...params, template }) : await realFanout(rig, params)
          log(`round ${round}: ${variant} fan-out to ${run.subscribers}: steady p99 ${run.steady.p99_ms} ms (${run.steady.missing} missing), ` +
            `burst ${run.burst.deliveries_per_second} deliveries/s (${run.burst.missing} missing)`)
          fanout[variant].push(run)
        }
      }
    } finally {
      await rig.close().catch(err => log(`cleanup failed: ${(err as Error).message}`))
    }
  }

  const relayRate = mean(throughput.relay.map(r => r.events_per_second))
  const rawRate = mean(throughput.raw.map(r => r.events_per_second))
  const ratio = round(relayRate / rawRate, 3)
  const worst = (key: 'p50_ms' | 'p99_ms') => Math.max(...latency.relay.map(r => r[key] ?? Infinity))
  const targets = {
    ...(options.sections.includes('throughput')
      ? {
          events_per_second_min: TARGETS.events_per_second_min,
          events_per_second_pass: relayRate >= TARGETS.events_per_second_min,
          ratio_to_raw_min: TARGETS.ratio_to_raw_min,
          ratio_to_raw_pass: ratio !== null && ratio >= TARGETS.ratio_to_raw_min,
          // Every backlog row reached our queue exactly once.
          throughput_ledger_pass: throughput.relay.every(r => r.queued === r.events) && throughput.raw.every(r => r.queued === r.events),
        }
      : {}),
    ...(options.sections.includes('latency')
      ? {
          p50_ms_max: TARGETS.p50_ms_max,
          p50_pass: worst('p50_ms') <= TARGETS.p50_ms_max,
          p99_ms_max: TARGETS.p99_ms_max,
          p99_pass: worst('p99_ms') <= TARGETS.p99_ms_max,
          latency_nothing_missing_pass: latency.relay.every(r => r.missing === 0),
        }
      : {}),
  }
  if (options.sections.includes('ws')) {
    Object.assign(targets, {
      ws_p99_ms_max: TARGETS.ws_p99_ms_max,
      ws_p99_pass: Math.max(...fanout.stratavore.map(r => r.steady.p99_ms ?? Infinity)) <= TARGETS.ws_p99_ms_max,
      ws_deliveries_per_second_min: TARGETS.ws_deliveries_per_second_min,
      ws_capacity_pass: Math.min(...fanout.stratavore.map(r => r.burst.deliveries_per_second ?? 0)) >= TARGETS.ws_deliveries_per_second_min,
      ws_nothing_missing_pass: fanout.stratavore.every(r => r.steady.missing === 0 && r.burst.missing === 0),
    })
  }
  const pass = Object.entries(targets).filter(([k]) => k.endsWith('_pass')).every(([, v]) => v === true)

  const report = {
    benchmark: 'events',
    started_at: startedAt.toISOString(),
    machine: machineFacts(loadBefore[0]!, { postgres: pg }),
    parameters: {
      backlog: options.backlog, batch_size: options.batch, rate_per_second: options.rate, warmup_s: options.warmupS, duration_s: options.durationS,
      subscribers: options.subscribers, ws_rate_per_second: options.wsRate, ws_burst_events: options.burst, rounds: options.rounds,
    },
    throughput: options.sections.includes('throughput')
      ? { relay: { events_per_second: Math.round(relayRate), runs: throughput.relay }, raw: { events_per_second: Math.round(rawRate), runs: throughput.raw }, relay_to_raw_ratio: ratio }
      : null,
    latency: options.sections.includes('latency') ? { relay: latency.relay, raw: latency.raw } : null,
    ws_fanout: options.sections.includes('ws') ? fanout : null,
    targets,
    pass,
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  if (options.check && !pass) process.exitCode = 1
}

runBench(main, log)
