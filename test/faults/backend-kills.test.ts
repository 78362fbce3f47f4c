// F8: backend kills. Every connection the daemons hold to their database is terminated
// (pg_terminate_backend) every 200 ms for a storm, three storms, while 16 clients launch over
// HTTP. Run twice: `stratavored all`, and each role as its own process (api, relay, reconciler,
// supervisor). Expected (reliability-and-performance.md §3.2 F8, issue 14): no process exits
// or logs an uncaught exception or unhandled rejection (the rig fails the test at teardown if
// one does); the API answers again after each storm; no request is held past a generous 30 s;
// every acknowledged (201) launch keeps its runner, outbox and audit rows; the relay drains the
// outbox with 0 lost; the supervisor heartbeats again. Recovery times (storm end → first 200)
// are printed as JSON; the 2 s target is reported, not asserted (bench/README.md).
//
// Only the test's scratch database is touched, and not the test's own sessions (they carry
// application_name RIG_APPLICATION_NAME). STRATAVORE_FAULT_STORM_SECONDS (default 10) sets the
// storms of `all`, STRATAVORE_FAULT_SPLIT_STORM_SECONDS (default 5) those of the split roles
// (shorter, to keep the fault suite within its CI budget).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import t from 'tap'
import { sql } from 'drizzle-orm'
import { rowsOf } from '../../src/adapters/db/client.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitHealthy } from '../helpers/daemon.js'
import { testDatabaseUrl } from '../helpers/database.js'
import { envNumber, holdWhileUp, openRig, requireServices, RIG_APPLICATION_NAME, waitFor, type StvProcess } from '../helpers/faults.js'
import { HttpStatusError, startWriter } from '../helpers/writer.js'

const STORMS = 3
const STORM_S = envNumber('STRATAVORE_FAULT_STORM_SECONDS', 10)
const SPLIT_STORM_S = envNumber('STRATAVORE_FAULT_SPLIT_STORM_SECONDS', 5)
const RATE = envNumber('STRATAVORE_FAULT_RATE', 100)
const CLIENTS = 16
const KILL_EVERY_MS = 200
const HANG_MS = 30_000
const RECOVERY_TARGET_MS = 2_000
const LOG_DIR = process.env.STRATAVORE_FAULT_LOG_DIR

/** Terminates every backend of `database` but the test's own, every KILL_EVERY_MS for `seconds`. */
const storm = async (database: string, seconds: number) => {
  const admin = postgres(testDatabaseUrl()!, { max: 1, onnotice: () => {} })
  let killed = 0
  try {
    const until = performance.now() + seconds * 1000
    while (performance.now() < until) {
      const rows = await admin`select pg_terminate_backend(pid) as ok from pg_stat_activity
        where datname = ${database} and pid <> pg_backend_pid() and application_name <> ${RIG_APPLICATION_NAME}`
      killed += rows.filter(r => r.ok).length
      await new Promise(resolve => setTimeout(resolve, KILL_EVERY_MS))
    }
  } finally {
    await admin.end({ timeout: 5 })
  }
  return killed
}

/** ms from now until GET `url` answers 200 (each try bounded by 2 s). */
const timeToAnswer = async (url: string, headers: Record<string, string>) => {
  const started = performance.now()
  await waitFor(`${url} to answer 200`, async () => {
    try { return (await fetch(url, { headers, signal: AbortSignal.timeout(2000) })).ok } catch { return false }
  }, { timeoutMs: 60_000, intervalMs: 25 })
  return Math.round(performance.now() - started)
}

const scenario = (name: string, groups: string[], stormSeconds: number) => t.test(`F8 ${name}: ${STORMS} storms of ${stormSeconds} s of pg_terminate_backend under launches from ${CLIENTS} clients`, async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: 50 })
  const database = new URL(rig.databaseUrl).pathname.slice(1)
  const configFile = join(tempDir(t, 'stv-f8-'), 'stratavore.yaml')
  writeFileSync(configFile, JSON.stringify({
    daemon: { heartbeat_interval_seconds: 1, reconcile_interval_seconds: 1 },
    // A few short-lived agents: the supervisor has work to converge, and no agent outlives the test.
    supervisor: { capacity: 8, stop_timeout_seconds: 2 },
    agents: { 'generic-test': { kind: 'generic', command: ['/bin/sleep', '20'] } },
  }))
  const projects = await rig.projects(CLIENTS)
  const processes: StvProcess[] = []
  // STRATAVORE_FAULT_LOG_DIR keeps each process's output, to read an outage's timeline afterwards.
  t.teardown(() => { if (LOG_DIR) for (const p of processes) writeFileSync(join(LOG_DIR, `f8-${p.role.replaceAll(' ', '-')}.log`), p.output()) })
  // One after the other, each once it is up: on a busy CI machine four starting at once is slow.
  for (const roles of groups) {
    const p = await rig.spawn(roles, {}, { configFile })
    processes.push(p)
    await waitFor(`${roles} to start`, () => p.exit !== null || /"msg":"(api listening|relay started|reconciler started|supervisor started)"/.test(p.output()), { timeoutMs: 120_000, intervalMs: 100 })
  }
  const api = processes.find(p => p.role === 'all' || p.role.split(' ').includes('api'))!
  await waitHealthy(api)
  const probeUrl = `${api.url}/api/v1/projects/${projects[0]}`

  const acknowledged = new Set<string>()
  const writer = startWriter({
    ratePerSecond: RATE,
    maxInFlight: CLIENTS,
    write: async n => {
      const res = await fetch(`${api.url}/api/v1/runners`, {
        method: 'POST',
        headers: api.headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ project: projects[n % projects.length], agent: 'generic-test' }),
        signal: AbortSignal.timeout(HANG_MS),
      })
      const body = await res.text()
      if (res.status !== 201) throw new HttpStatusError(res.status, body)
      acknowledged.add((JSON.parse(body) as { id: string }).id)
    },
  })
  t.teardown(() => writer.stop())
  await waitFor('launches to flow before the first storm', () => acknowledged.size >= RATE / 2)

  const storms: Array<{ killed: number, answeredAfterMs: number, launchedAfterMs: number }> = []
  let lastStormEnd = new Date()
  for (let i = 0; i < STORMS; i++) {
    const killed = await Promise.race([storm(database, stormSeconds), holdWhileUp(HANG_MS * 10, processes).then(() => 0)])
    lastStormEnd = new Date()
    const ended = performance.now()
    const okAtEnd = writer.stats().ok
    const answeredAfterMs = await timeToAnswer(probeUrl, api.headers())
    await waitFor('a launch to be acknowledged after the storm', () => writer.stats().ok > okAtEnd, { timeoutMs: 60_000, intervalMs: 10 })
    storms.push({ killed, answeredAfterMs, launchedAfterMs: Math.round(performance.now() - ended) })
    for (const p of processes) t.equal(p.exit, null, `storm ${i + 1}: ${p.role} stayed up`, { diagnostic: true, exit: p.describeExit() })
    if (processes.some(p => p.exit)) return
    await holdWhileUp(2000, processes) // launches flow between storms
  }
  const writes = await writer.stop()
  t.comment(JSON.stringify({ f8: name, stormSeconds, storms, targetMs: RECOVERY_TARGET_MS, launches: { acknowledged: acknowledged.size, ...writes } }))
  t.notOk(writes.errorsByKind.TimeoutError, `no launch was held ${HANG_MS / 1000} s or more (max ${Math.round(writes.maxLatencyMs)} ms)`)
  t.ok(storms.every(s => s.killed > 0), 'every storm terminated backends')

  const ids = async (query: ReturnType<typeof sql>) => new Set(rowsOf<{ id: string }>(await rig.ctx.database.db.execute(query)).map(r => r.id))
  const runnerIds = await ids(sql`select id::text as id from runners`)
  const audited = await ids(sql`select entity_id as id from events where event_type = 'runner.launched'`)
  const outboxed = await ids(sql`select aggregate_id as id from outbox where event_type = 'runner.launched'`)
  t.same([...acknowledged].filter(id => !runnerIds.has(id) || !audited.has(id) || !outboxed.has(id)), [], `each of the ${acknowledged.size} acknowledged launches has its runner, audit and outbox rows`)

  // The events written so far (agents keep starting and exiting, so more follow): all published.
  const written = await rig.outboxIds()
  await rig.drained(120_000)
  await rig.ledger.sync()
  t.same(rig.ledger.check(written).lost, [], `the relay resumed: 0 lost of the ${written.length} events written during the storms`)
  await waitFor('the supervisor to heartbeat after the last storm', async () =>
    rowsOf<{ fresh: boolean }>(await rig.ctx.database.db.execute(sql`select coalesce(max(last_heartbeat), 'epoch') > ${lastStormEnd.toISOString()}::timestamptz as fresh from nodes`))[0]!.fresh, { timeoutMs: 30_000, intervalMs: 200 })
  t.pass('the supervisor heartbeats again')

  for (const p of processes) {
    await p.stop()
    t.same(p.exit, { code: 0, signal: null }, `${p.role} stops cleanly afterwards`, { diagnostic: true, exit: p.describeExit() })
  }
})

await scenario('stratavored all', ['all'], STORM_S)
await scenario('roles as their own processes', ['api', 'relay', 'reconciler', 'supervisor'], SPLIT_STORM_S)
