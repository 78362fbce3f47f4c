// (a) launch → running: N runners launched at once through the use case (ctx.runners.launch)
// with the relay and the node supervisor running in this process, as `stratavored all` runs
// them (the relay's runner.launched message is what wakes the supervisor early). Beside it, the
// raw baseline: the same program spawned N times with @lydell/node-pty directly.
//
// Readiness is the same for both: the process has been forked and its pid is known. For
// Stratavore that is the moment the supervisor's `running` transition has committed (the row
// says running, pid recorded): the supervisor logs `runner started` right after that commit, and
// a log destination in this process stamps the line with performance.now(). Nothing polls the
// database while the clock runs. For raw it is the return of pty.spawn(), which forks
// synchronously and returns the pid. Each sample runs from that runner's own launch call (raw:
// from the start of the batch, since all N were asked for at once) to its readiness.
import { randomUUID } from 'node:crypto'
import { spawn as spawnPty, type IPty } from '@lydell/node-pty'
import { sql } from 'drizzle-orm'
import { pino } from 'pino'
import { rowsOf } from '../../src/adapters/db/client.js'
import type { Runner } from '../../src/core/runners/runner.js'
import type { Part } from '../../src/process/lifecycle.js'
import { startRelay } from '../../workers/outbox-relay.js'
import { startSupervisor } from '../../workers/supervisor.js'
import { AGENT_COMMAND, BENCH_AGENT, alive, openBenchDatabase, openRig, sleep, until, type Backend } from './rig.js'
import { summary } from './stats.js'

export interface LaunchOptions { backend: Backend, adminUrl: string | null, count: number, projects: number, warmup: number }

/** The daemon's log, kept in memory: when each runner started, and every warning or error. */
const createLogCapture = () => {
  const started = new Map<string, { at: number, pid: number }>()
  const problems: string[] = []
  let problemCount = 0
  const stream = {
    write (line: string) {
      const at = performance.now()
      if (line.includes('"msg":"runner started"')) {
        const entry = JSON.parse(line) as { runnerId: string, pid: number }
        started.set(entry.runnerId, { at, pid: entry.pid })
      } else if (/"level":(40|50|60)/.test(line)) {
        problemCount++
        if (problems.length < 5) problems.push(line.slice(0, 400))
      }
    },
  }
  return { logger: pino({ level: 'info' }, stream), started, problems, problemCount: () => problemCount }
}

const killGroups = (pids: number[]) => {
  for (const pid of pids) {
    try { process.kill(-pid, 'SIGKILL') } catch { /* already gone */ }
  }
}

export const measureStratavore = async ({ backend, adminUrl, count, projects, warmup }: LaunchOptions) => {
  const db = await openBenchDatabase(backend, adminUrl)
  const capture = createLogCapture()
  const parts: Part[] = []
  let rig: Awaited<ReturnType<typeof openRig>> | undefined
  const pids: number[] = []
  try {
    rig = await openRig({ database: db.database, capacity: count + warmup, heartbeatSeconds: 10, projects, roles: ['relay', 'supervisor'], logger: capture.logger })
    const { ctx } = rig
    const names = rig.projects
    parts.push(...await startRelay(ctx), ...await startSupervisor(ctx))
    const launch = (i: number) => ctx.runners.launch({ project: names[i % names.length]!, agent: BENCH_AGENT }, 'bench')

    // Warm-up: the first launch and start compile and prepare everything once.
    const warm = await Promise.all(Array.from({ length: warmup }, (_, i) => launch(i)))
    await until('the warm-up runners to run', () => warm.every(r => capture.started.has(r.id)), 30_000, 10)
    const problemsBefore = capture.problemCount()

    const calledAt = new Map<string, number>()
    const returnedAt = new Map<string, number>()
    const t0 = performance.now()
    const launched = await Promise.all(Array.from({ length: count }, async (_, i): Promise<Runner> => {
      const at = performance.now()
      const runner = await launch(i)
      calledAt.set(runner.id, at)
      returnedAt.set(runner.id, performance.now())
      return runner
    }))
    const ids = launched.map(r => r.id)
    await until(`${count} runners to run`, () => ids.every(id => capture.started.has(id)), 120_000, 5)
    const toRunning = ids.map(id => capture.started.get(id)!.at - calledAt.get(id)!)
    const launchCall = ids.map(id => returnedAt.get(id)! - calledAt.get(id)!)
    const afterCommit = ids.map(id => capture.started.get(id)!.at - returnedAt.get(id)!)
    const lastAt = Math.max(...ids.map(id => capture.started.get(id)!.at))
    for (const s of capture.started.values()) pids.push(s.pid)

    // Cross-check in the database, after the clock stopped: every row running with the logged
    // pid, and the same interval on the database's clock (launch transaction start → running transaction start).
    const rows = rowsOf<{ id: string, status: string, runtime_id: string, db_ms: number }>(await ctx.database.db.execute(sql`
      select id::text as id, status, runtime_id, extract(epoch from (started_at - created_at)) * 1000 as db_ms
      from runners where id in (${sql.join(ids.map(id => sql`${id}::uuid`), sql`, `)})`))
    const consistent = rows.length === count && rows.every(r => r.status === 'running' && Number(r.runtime_id) === capture.started.get(r.id)!.pid)
    return {
      runners: count,
      launch_to_running: summary(toRunning),
      launch_call: summary(launchCall),
      commit_to_running: summary(afterCommit),
      db_clock_created_to_started: summary(rows.map(r => Number(r.db_ms))),
      // From the first launch call: when the last launch returned, and when the first and the
      // last runner were running (a gap shows starts waiting for each other).
      last_launch_returned_after_ms: Math.round(Math.max(...returnedAt.values()) - t0),
      first_running_after_ms: Math.round(Math.min(...ids.map(id => capture.started.get(id)!.at)) - t0),
      all_running_after_ms: Math.round(lastAt - t0),
      rows_consistent: consistent,
      warnings_and_errors: capture.problemCount() - problemsBefore,
      problem_samples: capture.problems,
    }
  } finally {
    for (const part of [...parts].reverse()) await part.stop().catch(() => {})
    await rig?.close()
    await db.close().catch(() => {})
    // The supervisor stops its agents itself; anything still alive here would be a leak.
    const leftover = pids.filter(alive)
    if (leftover.length > 0) {
      process.stderr.write(`[bench:supervisor] ${leftover.length} agent process(es) outlived the supervisor; killing them\n`)
      killGroups(leftover)
    }
  }
}

export const measureRawPty = async ({ count, cwd }: { count: number, cwd: string }) => {
  // The environment a runner gets from the supervisor, in size and shape.
  const env = { TERM: 'xterm-256color', HOME: cwd, PATH: process.env.PATH ?? '/usr/bin:/bin', STRATAVORE_RUNNER_ID: '', STRATAVORE_PROCESS_TAG: '' }
  const ptys: IPty[] = []
  const exits: Array<Promise<void>> = []
  const fromBatch: number[] = []
  const perCall: number[] = []
  try {
    const t0 = performance.now()
    for (let i = 0; i < count; i++) {
      const at = performance.now()
      const pty = spawnPty(AGENT_COMMAND[0]!, AGENT_COMMAND.slice(1), {
        name: 'xterm-256color', cols: 120, rows: 40, cwd, encoding: null,
        env: { ...env, STRATAVORE_RUNNER_ID: randomUUID(), STRATAVORE_PROCESS_TAG: randomUUID() },
      })
      const done = performance.now()
      pty.onData(() => {})
      exits.push(new Promise(resolve => pty.onExit(() => resolve())))
      ptys.push(pty)
      fromBatch.push(done - t0)
      perCall.push(done - at)
    }
    const confirmedAlive = ptys.filter(p => alive(p.pid)).length
    return { runners: count, spawn_to_pid: summary(fromBatch, 2), spawn_call: summary(perCall, 2), confirmed_alive: confirmedAlive }
  } finally {
    killGroups(ptys.map(p => p.pid))
    await Promise.race([Promise.all(exits), sleep(10_000)])
    const leftover = ptys.map(p => p.pid).filter(alive)
    if (leftover.length > 0) process.stderr.write(`[bench:supervisor] raw: ${leftover.length} process(es) still alive after SIGKILL\n`)
  }
}
