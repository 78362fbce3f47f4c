// F7: Postgres stopped (fast shutdown: every session is cut) and started again while a real
// `stratavored api` takes launches over HTTP and a real `stratavored relay` publishes.
// Expected (reliability-and-performance.md §3.2 F7): neither process exits; a request during
// the outage gets a 503 with Retry-After within 2 s; the API answers again within 10 s of
// Postgres accepting connections; the relay resumes by itself (LISTEN re-established, poll
// meanwhile) and catches up within 20 s; 0 lost; duplicates at most the batch whose commit
// the restart cut off.
//
// STRATAVORE_FAULT_PG_DOWN_SECONDS sets how long Postgres stays down (10 in CI, 5 elsewhere).
import t from 'tap'
import { waitHealthy } from '../helpers/daemon.js'
import { envNumber, openRig, requireServices, waitFor } from '../helpers/faults.js'
import { testDatabaseUrl } from '../helpers/database.js'
import { pg } from '../helpers/services.js'
import { launchOverHttp, startWriter } from '../helpers/writer.js'

const DOWN_S = envNumber('STRATAVORE_FAULT_PG_DOWN_SECONDS', 5, 10)
const RATE = envNumber('STRATAVORE_FAULT_RATE', 100)
const BATCH = 50
const API_BACK_TARGET_S = 10
const OUTAGE_ANSWER_TARGET_MS = 2000
const CAUGHT_UP_TARGET_S = 20

const healthy = async (url: string) => {
  try { return (await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(2000) })).ok } catch { return false }
}

// A request while Postgres is down: answered with a 503 problem and Retry-After, not held for
// the driver's connect timeout. Never throws, so that a hang is reported, not fatal.
const answerDuringOutage = async (api: { url: string, headers(): Record<string, string> }) => {
  const started = performance.now()
  try {
    const res = await fetch(`${api.url}/api/v1/projects`, { headers: api.headers(), signal: AbortSignal.timeout(15_000) })
    const body = await res.json() as { code?: string }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.code, ms: performance.now() - started }
  } catch (err) {
    return { status: 0, retryAfter: null, code: String(err), ms: performance.now() - started }
  }
}

t.test(`Postgres down for ${DOWN_S} s under ${RATE} launches/s`, async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: BATCH })
  const postgres = pg(testDatabaseUrl()!)
  const projects = await rig.projects(10)
  const api = await rig.spawn('api', { STRATAVORE_OBSERVABILITY_LOG_LEVEL: 'debug' })
  await waitHealthy(api)
  const relay = await rig.spawn('relay')
  const writer = startWriter({ ratePerSecond: RATE, maxInFlight: 64, maxWrites: Math.ceil(RATE * (DOWN_S + 120)), write: launchOverHttp(api, projects, 5_000) })
  t.teardown(() => writer.stop())
  await waitFor('events to flow to the ledger before the restart', () => rig.ledger.entries.size >= RATE, { timeoutMs: 30_000 })

  await postgres.stop(t)
  const stoppedAt = performance.now()
  const okAtStop = writer.stats().ok
  // The outage itself: its length is the point of the test. Exits are checked right after,
  // per process, so that a crash of one still lets the test report how the other recovered.
  await new Promise(resolve => setTimeout(resolve, DOWN_S * 1000))
  t.notOk(await healthy(api.url), 'the API reports itself unhealthy while Postgres is down')
  const during = await answerDuringOutage(api)
  t.match(during, { status: 503, retryAfter: '5', code: 'UNAVAILABLE' }, 'a request during the outage gets a 503 problem with Retry-After')
  t.comment(`a request during the outage was answered in ${Math.round(during.ms)} ms (target ≤ ${OUTAGE_ANSWER_TARGET_MS} ms)`)
  await postgres.start()
  const upAt = performance.now()
  t.comment(`Postgres was down ${((upAt - stoppedAt) / 1000).toFixed(1)} s`)
  t.equal(api.exit, null, 'the API process survived the database going away', { diagnostic: true, exit: api.describeExit() })
  t.equal(relay.exit, null, 'the relay process survived the database going away', { diagnostic: true, exit: relay.describeExit() })

  if (!api.exit) {
    await waitFor('the API to answer /health again', () => healthy(api.url), { timeoutMs: 60_000, intervalMs: 100 })
    const apiBackS = (performance.now() - upAt) / 1000
    t.ok(apiBackS <= API_BACK_TARGET_S, `the API was healthy ${apiBackS.toFixed(1)} s after Postgres accepted connections (target ≤ ${API_BACK_TARGET_S} s)`)
    const okAtUp = writer.stats().ok
    await waitFor('launches to succeed again', () => writer.stats().ok >= okAtUp + RATE, { timeoutMs: 30_000 })
  }
  const writes = await writer.stop()
  t.comment(`launches: ${writes.ok} accepted (${okAtStop} before the stop), ${writes.errors} failed ${JSON.stringify(writes.errorsByKind)}, ${writes.skipped} not sent for want of a free slot`)
  if (relay.exit) return // nothing would drain the outbox; the failure above says why

  await rig.drained(120_000)
  const caughtUpS = (performance.now() - upAt) / 1000
  await rig.ledger.sync()
  t.ok(caughtUpS <= CAUGHT_UP_TARGET_S, `the relay caught up ${caughtUpS.toFixed(1)} s after Postgres was back (target ≤ ${CAUGHT_UP_TARGET_S} s)`)
  t.equal(relay.exit, null, 'the relay process stayed up')

  const check = rig.ledger.check(await rig.outboxIds())
  t.same(check.lost, [], `0 lost of ${rig.ledger.entries.size}`)
  t.ok(check.duplicates <= BATCH, `${check.duplicates} duplicate(s): at most one batch (${BATCH})`)
  t.same(check.inconsistent, [], 'duplicates carry the same event id, routing key and body')
  t.same(check.unknown, [])

  for (const p of [api, relay].filter(p => !p.exit)) {
    const stopStarted = performance.now()
    await p.stop()
    t.same(p.exit, { code: 0, signal: null }, `the ${p.role} process stops cleanly afterwards`, {
      diagnostic: true,
      stopMs: Math.round(performance.now() - stopStarted),
      lastLogLines: p.logs().filter(l => l.msg !== 'database unavailable').slice(-20).map(l => `${String(l.msg)} ${l.err ? JSON.stringify(l.err).slice(0, 300) : ''}`),
    })
  }
})
