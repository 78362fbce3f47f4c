// Pool exhaustion: every connection of a real `stratavored api` (a pool of 2, `?max=2`) is held
// by launches waiting on a lock that a test session keeps with pg_sleep. Expected (issue 14):
// those launches, and the requests that come after them, are answered 503 with Retry-After
// within the query deadline (database.query_timeout_ms), while the lock is still held: nothing
// waits for the lock to go; /api/v1/health says the database is saturated without waiting for
// a connection; the launches whose deadline passed never commit; once the lock goes the API
// answers again by itself; the gate logs one warning as it opens and one as it closes.
import postgres from 'postgres'
import t from 'tap'
import { sql } from 'drizzle-orm'
import { rowsOf } from '../../src/adapters/db/client.js'
import { waitHealthy } from '../helpers/daemon.js'
import { openRig, requireServices, RIG_APPLICATION_NAME, waitFor } from '../helpers/faults.js'

const DEADLINE_MS = 3_000
const LAUNCHES = 4

t.test('a saturated pool answers 503 within the deadline, says so on /health, and recovers by itself', async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: 50 })
  const [project] = await rig.projects(1)
  const small = new URL(rig.databaseUrl)
  small.searchParams.set('max', '2')
  const api = await rig.spawn('api', { DATABASE_URL: small.toString(), STRATAVORE_DATABASE_QUERY_TIMEOUT_MS: String(DEADLINE_MS) })
  await waitHealthy(api)

  // The lock: launches insert runners, which EXCLUSIVE mode blocks (reads still pass).
  const holder = postgres(rig.databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: RIG_APPLICATION_NAME } })
  t.teardown(() => holder.end({ timeout: 1 }))
  let lockHeld = false
  let pid = 0
  const locked = holder.begin(async tx => {
    pid = (await tx`select pg_backend_pid() as pid`)[0]!.pid as number
    await tx`lock table runners in exclusive mode`
    lockHeld = true
    await tx`select pg_sleep(60)`
  }).catch(() => {}).finally(() => { lockHeld = false })
  await waitFor('the test session to hold the lock', () => lockHeld)

  const launch = async () => {
    const res = await fetch(`${api.url}/api/v1/runners`, {
      method: 'POST',
      headers: api.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ project, agent: 'claude' }),
      signal: AbortSignal.timeout(30_000),
    })
    const body = await res.json() as { code?: string, detail?: string }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.code, detail: body.detail, lockHeld }
  }
  const launches = Promise.all(Array.from({ length: LAUNCHES }, launch))

  // Health while the launches wait: from the pool's counters, not from a connection.
  let health: { status: number, code?: string, detail?: string } = { status: 200 }
  await waitFor('/api/v1/health to report the saturation', async () => {
    const res = await fetch(`${api.url}/api/v1/health`, { signal: AbortSignal.timeout(DEADLINE_MS) })
    health = res.ok ? { status: res.status } : { status: res.status, ...await res.json() as { code: string, detail: string } }
    return res.status !== 200
  }, { timeoutMs: 20_000, intervalMs: 100 })
  t.equal(health.status, 503)
  t.match(health.detail, /saturated/, 'health says the database is saturated', { health })

  const answered = await launches
  for (const a of answered) t.match(a, { status: 503, retryAfter: '5', code: 'UNAVAILABLE', lockHeld: true }, 'a launch stuck behind the lock got 503 with Retry-After while the lock was still held')
  // Their deadline opened the gate: what comes now is refused at the door (and counted).
  const refused = await fetch(`${api.url}/api/v1/projects`, { headers: api.headers(), signal: AbortSignal.timeout(30_000) })
  t.equal(refused.status, 503, 'a request right after them is refused by the gate')
  // Once the gate's probe finds the pool idle again it lets requests in; a launch still meets the lock.
  t.match(await launch(), { status: 503, retryAfter: '5', code: 'UNAVAILABLE', lockHeld: true }, 'a later launch gets 503 as well, before the lock went')

  await holder`select pg_cancel_backend(${pid})`.catch(() => {})
  await locked
  await waitFor('the API to answer again', async () => (await fetch(`${api.url}/api/v1/projects`, { headers: api.headers() })).ok, { timeoutMs: 30_000, intervalMs: 100 })
  t.pass('the API answers again once the lock is gone')
  const runners = rowsOf<{ n: number }>(await rig.ctx.database.db.execute(sql`select count(*)::int as n from runners`))[0]!.n
  t.equal(runners, 0, 'no launch whose deadline passed committed')

  const gateLines = api.logs().filter(l => /database gate (opened|closed)/.test(String(l.msg)))
  // Each opening is one warning and each closing another, whatever the number of requests.
  t.ok(gateLines.length >= 2 && gateLines.length % 2 === 0, `the gate opened and closed (${gateLines.length} lines)`)
  t.same(gateLines.map(l => ({ msg: String(l.msg).replace(/:.*/, ''), level: l.level, reason: l.reason })),
    gateLines.map((_, i) => ({ msg: i % 2 === 0 ? 'database gate opened' : 'database gate closed', level: 40, reason: 'saturated' })),
    'a warning as it opened, one as it closed, each saying why')
  const refusedCount = gateLines.filter(l => /closed/.test(String(l.msg))).reduce((n, l) => n + Number(l.refused), 0)
  t.ok(refusedCount >= 1, `the closing lines count the refused requests (${refusedCount})`)
  t.same(api.logs().filter(l => Number(l.level) >= 50), [], 'nothing logged at error level')
})
