// (b), the measured process: a node supervisor on its own, as `stratavored supervisor` starts it
// (startSupervisor(ctx) over a context with role `supervisor`), plus the launch use case so it
// can be given runners. Run with --expose-gc by memory.ts, which sends the parameters over IPC
// and gets one result back. Memory is read with process.memoryUsage() after two full GCs, so
// what is compared is what the supervisor retains, not garbage it has yet to collect.
//
// Baseline: after a warm-up (a few runners started, heartbeated and stopped, so every code path
// is loaded and compiled), before the measured runners. Loaded: N idle runners running and
// heartbeated a few times (the sampler and the heartbeat hold per-runner state). After stop:
// the same N stopped through the use case and reported terminated, which shows what is not
// given back. The agents are other processes: their RSS is read from /proc, only to report it.
import { readFileSync } from 'node:fs'
import { inArray } from 'drizzle-orm'
import { runners } from '../../src/adapters/db/schema.js'
import type { Part } from '../../src/process/lifecycle.js'
import { startSupervisor } from '../../workers/supervisor.js'
import { BENCH_AGENT, attachBenchDatabase, openRig, sleep, until } from './rig.js'

export interface ChildParams { url: string | null, count: number, warmup: number, heartbeatSeconds: number, projects: number }

const gc = (globalThis as { gc?: () => void }).gc
const settle = async () => {
  if (!gc) throw new Error('run with --expose-gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await sleep(200)
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heap_used: m.heapUsed, heap_total: m.heapTotal, external: m.external, array_buffers: m.arrayBuffers }
}

const rssOf = (pid: number) => {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

const run = async ({ url, count, warmup, heartbeatSeconds, projects }: ChildParams) => {
  const database = await attachBenchDatabase(url)
  const rig = await openRig({ database, capacity: count + warmup, heartbeatSeconds, projects, roles: ['supervisor'] })
  const { ctx } = rig
  const parts: Part[] = []
  try {
    parts.push(...await startSupervisor(ctx))
    const launch = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => ctx.runners.launch({ project: rig.projects[i % rig.projects.length]!, agent: BENCH_AGENT }, 'bench')))
    const statuses = async (ids: string[]) => (await ctx.database.db.select({ status: runners.status, pid: runners.runtimeId }).from(runners).where(inArray(runners.id, ids)))
    const allIn = (ids: string[], status: string) => async () => (await statuses(ids)).filter(r => r.status === status).length === ids.length
    const stopAll = async (ids: string[]) => {
      for (const id of ids) await ctx.runners.stop(id, {}, 'bench')
      await until('the runners to stop', allIn(ids, 'terminated'), 60_000)
    }
    const heartbeats = () => sleep(heartbeatSeconds * 1000 * 3 + 200)

    const warm = (await launch(warmup)).map(r => r.id)
    await until('the warm-up runners to run', allIn(warm, 'running'), 60_000)
    await heartbeats()
    await stopAll(warm)
    const baseline = await settle()

    const started = performance.now()
    const ids = (await launch(count)).map(r => r.id)
    await until(`${count} runners to run`, allIn(ids, 'running'), 120_000)
    const runningAfterMs = performance.now() - started
    await heartbeats()
    const loaded = await settle()
    const pids = (await statuses(ids)).map(r => Number(r.pid))
    const agentsRss = pids.reduce((sum, pid) => sum + rssOf(pid), 0)
    const live = ctx.supervisor?.liveCount() ?? 0

    await stopAll(ids)
    const afterStop = await settle()
    return { baseline, loaded, after_stop: afterStop, agents_rss_total: agentsRss, live_when_loaded: live, running_after_ms: Math.round(runningAfterMs) }
  } finally {
    for (const part of [...parts].reverse()) await part.stop().catch(() => {})
    await rig.close()
    await database.close().catch(() => {})
  }
}

process.once('message', (params: ChildParams) => {
  run(params)
    .then(result => process.send!({ ok: true, result }, () => process.exit(0)))
    .catch((err: Error) => process.send!({ ok: false, error: err.stack ?? String(err) }, () => process.exit(1)))
})
