// F3: SIGKILL of the API process while launches are in flight. A launch is one transaction (the
// runner row, its outbox row and its signed audit row), so whatever the kill interrupted either
// committed whole or left nothing: every runner has exactly its event, every launch the API
// acknowledged is there, the audit chains still verify, and a relay then publishes them all.
import t from 'tap'
import { sql } from 'drizzle-orm'
import { rowsOf } from '../../src/adapters/db/client.js'
import { waitHealthy } from '../helpers/daemon.js'
import { openRig, requireServices, waitFor } from '../helpers/faults.js'
import { HttpStatusError, startWriter } from '../helpers/writer.js'

const RATE = 100

t.test('API SIGKILL with launches in flight', async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: 50 })
  const projects = await rig.projects(5)
  const api = await rig.spawn('api')
  await waitHealthy(api)

  const acknowledged = new Set<string>()
  const writer = startWriter({
    ratePerSecond: RATE,
    maxInFlight: 64,
    write: async n => {
      const res = await fetch(`${api.url}/api/v1/runners`, {
        method: 'POST',
        headers: api.headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ project: projects[n % projects.length], agent: 'claude' }),
        signal: AbortSignal.timeout(15_000),
      })
      const body = await res.text()
      if (res.status !== 201) throw new HttpStatusError(res.status, body)
      acknowledged.add((JSON.parse(body) as { id: string }).id)
    },
  })
  await waitFor('launches to flow', () => acknowledged.size >= RATE)
  api.child.kill('SIGKILL')
  await waitFor('the API to die', () => api.exit !== null)
  const writes = await writer.stop()
  t.same(api.exit, { code: null, signal: 'SIGKILL' })

  const ids = async (query: ReturnType<typeof sql>) => rowsOf<{ id: string }>(await rig.ctx.database.db.execute(query)).map(r => r.id).sort()
  const runnerIds = await ids(sql`select id::text as id from runners`)
  const outboxed = await ids(sql`select aggregate_id as id from outbox where event_type = 'runner.launched'`)
  const audited = await ids(sql`select entity_id as id from events where event_type = 'runner.launched'`)
  t.comment(`${writes.ok} launches acknowledged, ${runnerIds.length} committed, ${writes.errors} cut off by the kill ${JSON.stringify(writes.errorsByKind)}`)
  t.same(outboxed, runnerIds, 'every committed runner has its outbox row, and no outbox row lacks its runner')
  t.same(audited, runnerIds, 'and its audit row')
  t.same([...acknowledged].filter(id => !runnerIds.includes(id)), [], 'every acknowledged launch is in the database')

  // A new API on the same data dir (the same audit key) checks the chains the kill cut into.
  const again = await rig.spawn('api')
  await waitHealthy(again)
  const verification = await (await fetch(`${again.url}/api/v1/audit/verify`, { headers: again.headers() })).json() as { ok: boolean }
  t.match(verification, { ok: true }, 'the audit chains verify')

  await rig.spawn('relay')
  await rig.drained(60_000)
  await rig.ledger.sync()
  const check = rig.ledger.check(await rig.outboxIds())
  t.same(check.lost, [], `0 lost of ${rig.ledger.entries.size}`)
  t.equal(check.duplicates, 0, 'no duplicate: no relay died')
})
