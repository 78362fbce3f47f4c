// L11/L12: the live feed (GET /api/v1/events) fanning out to many WebSocket subscribers, on the
// real `stratavored api relay reconciler` process (API + feed + relay, on Postgres and RabbitMQ;
// `all` without the supervisor, which would start the launched runners' agents), against a raw
// `ws` server process sending the same frames. Subscribers live in a worker thread.
//   steady (L11): runner launches through the use case at `rate`/s; latency = a subscriber's
//     receipt − the moment launch() resolved after COMMIT (raw: − the moment the frame's
//     broadcast began); every subscriber must get every event.
//   burst (L12): `burst` events committed in one transaction (so the feed can read them as
//     fast as it likes), fanned out to every subscriber; capacity = deliveries / (last − first
//     receipt). Raw: the same number of frames sent back to back.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { DomainEvent } from '../../src/core/events/event.js'
import { BENCH_AGENT, type EventsRig } from './rig.js'

export interface FanoutPhase {
  events: number
  deliveries: number
  missing: number
  clients_missing_any: number
  deliveries_per_second: number | null
  p50_ms: number | null
  p90_ms: number | null
  p99_ms: number | null
  max_ms: number | null
  closes: Record<string, number>
}
export interface FanoutRun { subscribers: number, steady: FanoutPhase, burst: FanoutPhase }

const now = () => performance.timeOrigin + performance.now()
type Report = Omit<FanoutPhase, 'events' | 'deliveries_per_second'> & { first_to_last_ms: number | null }

const startClients = async (url: string, clients: number, headers: Record<string, string> = {}) => {
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then(tsx => { tsx.register(); return import(${JSON.stringify(new URL('./ws-clients.ts', import.meta.url).href)}) })`
  const worker = new Worker(bootstrap, { eval: true, workerData: { url, clients, headers } })
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { ready?: true, error?: string }) => m.ready ? resolve() : reject(new Error(`subscribers: ${m.error}`)))
    worker.once('error', reject)
  })
  return {
    report: (refs: Map<string, number>) => new Promise<Report>(resolve => {
      worker.once('message', (m: { report: Report }) => resolve(m.report))
      worker.postMessage({ cmd: 'report', refs: Object.fromEntries(refs) })
    }),
    close: async () => { worker.postMessage({ cmd: 'close' }); await worker.terminate() },
  }
}

const phase = (refs: Map<string, number>, r: Report): FanoutPhase => ({
  events: refs.size,
  deliveries: r.deliveries,
  missing: r.missing,
  clients_missing_any: r.clients_missing_any,
  deliveries_per_second: r.first_to_last_ms ? Math.round(r.deliveries / (r.first_to_last_ms / 1000)) : null,
  p50_ms: r.p50_ms, p90_ms: r.p90_ms, p99_ms: r.p99_ms, max_ms: r.max_ms,
  closes: r.closes,
})

/** Waits until every subscriber has every key, or the grace ends (then the report counts what is missing). */
const settle = async (clients: Awaited<ReturnType<typeof startClients>>, refs: Map<string, number>, graceMs = 30_000) => {
  const deadline = Date.now() + graceMs
  for (;;) {
    const r = await clients.report(refs)
    if (r.missing === 0 || Date.now() > deadline) return r
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

const pace = async (count: number, rate: number, send: (i: number) => void) => {
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    await new Promise(resolve => setTimeout(resolve, Math.max(0, start + i * 1000 / rate - performance.now())))
    send(i)
  }
}

export const realFanout = async (rig: EventsRig, { subscribers, rate, durationS, burst }: { subscribers: number, rate: number, durationS: number, burst: number }): Promise<FanoutRun> => {
  const [project] = await rig.projects(1)
  const daemon = await rig.spawnApi()
  const clients = await startClients(`${daemon.url.replace('http', 'ws')}/api/v1/events?filter=runner.%23`, subscribers, { authorization: `Bearer ${daemon.token}` })
  try {
    const steadyRefs = new Map<string, number>()
    const launches: Array<Promise<unknown>> = []
    await pace(Math.round(rate * durationS), rate, () => {
      launches.push(rig.ctx.runners.launch({ project: project!, agent: BENCH_AGENT }, 'bench').then(r => { steadyRefs.set(r.id, now()) }))
    })
    await Promise.all(launches)
    const steady = phase(steadyRefs, await settle(clients, steadyRefs))

    // One transaction of `burst` events, so their visibility, not the writer, sets the pace.
    const events: DomainEvent[] = Array.from({ length: burst }, () => ({
      eventId: rig.ctx.ids.next(), type: 'runner.launched', occurredAt: rig.ctx.clock.now(), project: project!, aggregateType: 'runner',
      aggregateId: rig.ctx.ids.next(), seq: 1, actor: 'bench', data: { agent: BENCH_AGENT, bench: true },
    }))
    await rig.ctx.uow.run(async tx => { for (const e of events) await tx.events.append(e) })
    const committedAt = now()
    const burstRefs = new Map(events.map(e => [e.aggregateId, committedAt]))
    return { subscribers, steady, burst: phase(burstRefs, await settle(clients, burstRefs)) }
  } finally {
    await clients.close()
    await daemon.stop()
  }
}

export const rawFanout = async ({ subscribers, rate, durationS, burst, template }: { subscribers: number, rate: number, durationS: number, burst: number, template: Record<string, unknown> }): Promise<FanoutRun> => {
  const server = fork(fileURLToPath(new URL('./ws-raw-server.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const next = <T>() => new Promise<T>(resolve => server.once('message', m => resolve(m as T)))
  try {
    const { port } = await next<{ port: number }>()
    const clients = await startClients(`ws://127.0.0.1:${port}/`, subscribers)
    try {
      const frames = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ ...template, event_id: `${prefix}-${i}`, aggregate_id: `${prefix}-${i}` }))
      const run = async (cmd: 'steady' | 'burst', prefix: string, n: number) => {
        const list = frames(prefix, n)
        server.send({ cmd, frames: list, rate })
        const { sent } = await next<{ sent: number[] }>()
        const refs = new Map(list.map((_, i) => [`${prefix}-${i}`, sent[i]!]))
        return phase(refs, await settle(clients, refs))
      }
      const steady = await run('steady', 'steady', Math.round(rate * durationS))
      return { subscribers, steady, burst: await run('burst', 'burst', burst) }
    } finally {
      await clients.close()
    }
  } finally {
    server.send({ cmd: 'close' })
    await new Promise(resolve => { server.once('exit', resolve); setTimeout(() => { server.kill('SIGKILL'); resolve(null) }, 5000).unref() })
  }
}
