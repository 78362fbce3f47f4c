// The audit chain as the use cases write it, and each kind of tampering the verifier must find:
// an edited, deleted, inserted, reordered, unsigned or duplicated row, with its chain, its
// chain_seq and the right reason. Every case tampers with a project's chain of its own.
import t from 'tap'
import { and, asc, eq, gte, sql } from 'drizzle-orm'
import { randomBytes } from 'node:crypto'
import { events } from '../../src/adapters/db/schema.js'
import { uuidV7Ids } from '../../src/adapters/system/clock-and-ids.js'
import { buildContext } from '../helpers/app.js'
import { disableAuditGuard } from '../helpers/audit.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

type TapTest = Parameters<typeof buildContext>[0]

t.test(`audit chain on ${backendName()}`, async t => {
  const ctx = await buildContext(t, config => { config.auditKeys = [{ id: 'k1', secret: 'chain-test-secret-0123456789' }] })
  const db = ctx.database.db
  // Every case below tampers as a database superuser would, past the append-only trigger.
  await disableAuditGuard(db)
  const chainRows = (chain: string) => db.select().from(events).where(eq(events.chain, chain)).orderBy(asc(events.chainSeq), asc(events.id))
  const rowAt = async (chain: string, seq: number) => (await db.select().from(events).where(and(eq(events.chain, chain), eq(events.chainSeq, seq))))[0]!
  const verify = (chain: string) => ctx.audit.verify({ chain })

  /** A project whose chain has six rows: created, quota_changed, three launches, a stop. */
  const history = async (t: TapTest): Promise<string> => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')).id)
    await ctx.runners.stop(ids[0]!, {}, 'test')
    return project.name
  }

  t.test('every write appends one signed row to its project chain, numbered from 1 and linked', async t => {
    const chain = await history(t)
    const rows = await chainRows(chain)
    t.same(rows.map(r => [r.chainSeq, r.eventType]), [
      [1, 'project.created'], [2, 'project.quota_changed'], [3, 'runner.launched'], [4, 'runner.launched'], [5, 'runner.launched'], [6, 'runner.stopped'],
    ])
    rows.forEach((r, i) => {
      t.equal(r.keyId, 'k1')
      t.match(r.mac, /^[0-9a-f]{64}$/)
      t.equal(r.prevMac, i === 0 ? '' : rows[i - 1]!.mac, `row ${r.chainSeq} links to the row before`)
      t.match(r.txId, /^\d+$/, 'tx_id is the writing transaction')
    })
    t.same(await verify(chain), { ok: true, checkedRows: 6, chains: 1, findings: [], complete: true })
    await ctx.projects.archive(chain, 'test')
    t.same(await verify(chain), { ok: true, checkedRows: 7, chains: 1, findings: [], complete: true }, 'archive appends too')
    t.match(await ctx.audit.verify(), { ok: true, chains: 1 }, 'the whole log verifies')
  })

  t.test('the chain outlives a deleted project', async t => {
    const project = await createProject(t, ctx)
    await ctx.projects.delete(project.name, 'test')
    t.same((await chainRows(project.name)).map(r => r.eventType), ['project.created', 'project.deleted'])
    t.same(await verify(project.name), { ok: true, checkedRows: 2, chains: 1, findings: [], complete: true })
  })

  t.test('an edit to any signed column is a mac_mismatch at that row', async t => {
    const edits: Array<[string, ReturnType<typeof sql>]> = [
      ['data', sql`data = data || '{"agent":"claude"}'::jsonb`],
      ['actor (one byte)', sql`actor = 'tesu'`],
      ['occurred_at (+1 ms)', sql`occurred_at = occurred_at + interval '1 millisecond'`],
      ['event_type', sql`event_type = 'runner.stopped'`],
      ['entity_id', sql`entity_id = '00000000-0000-7000-8000-000000000000'`],
      ['project', sql`project = null`],
      ['event_id', sql`event_id = '00000000-0000-7000-8000-000000000000'`],
      ['prev_mac', sql`prev_mac = ''`],
      ['mac (one hex digit)', sql`mac = overlay(mac placing (case when substr(mac, 1, 1) = 'a' then 'b' else 'a' end) from 1 for 1)`],
    ]
    for (const [what, set] of edits) {
      const chain = await history(t)
      const victim = await rowAt(chain, 3)
      await db.execute(sql`update events set ${set} where id = ${victim.id}`)
      t.match(await verify(chain), { ok: false, checkedRows: 3, firstBroken: { chain, chainSeq: 3, reason: 'mac_mismatch' } }, what)
    }
  })

  t.test('a deleted row is a sequence_gap at the row after it', async t => {
    for (const seq of [1, 3]) {
      const chain = await history(t)
      const next = await rowAt(chain, seq + 1)
      await db.delete(events).where(and(eq(events.chain, chain), eq(events.chainSeq, seq)))
      t.same((await verify(chain)).firstBroken, { chain, chainSeq: seq + 1, eventId: next.eventId, reason: 'sequence_gap' }, `row ${seq} deleted`)
    }
  })

  t.test('a row moved to another chain breaks its old chain', async t => {
    const chain = await history(t)
    const other = await history(t)
    await db.update(events).set({ chain: other, chainSeq: 7 }).where(and(eq(events.chain, chain), eq(events.chainSeq, 6)))
    t.same(await verify(chain), { ok: true, checkedRows: 5, chains: 1, findings: [], complete: true }, 'taking the newest row is truncation, which rows alone cannot show')
    t.match(await verify(other), { ok: false, firstBroken: { chain: other, chainSeq: 7, reason: 'mac_mismatch' } }, 'and it does not fit where it landed')
  })

  const forge = async (chain: string, chainSeq: number, prevMac: string) => {
    const id = uuidV7Ids.next()
    await db.insert(events).values({
      chain, chainSeq, eventId: id, eventType: 'runner.stopped', entityType: 'runner', entityId: id, project: chain, actor: 'mallory',
      occurredAt: new Date(), data: {}, keyId: 'k1', prevMac, mac: randomBytes(32).toString('hex'),
    })
    return id
  }

  t.test('an inserted forged row is a mac_mismatch, at the end or in the middle', async t => {
    const atEnd = await history(t)
    const forgedEnd = await forge(atEnd, 7, (await rowAt(atEnd, 6)).mac!)
    t.same((await verify(atEnd)).firstBroken, { chain: atEnd, chainSeq: 7, eventId: forgedEnd, reason: 'mac_mismatch' })

    const inMiddle = await history(t)
    // Make room at 3 (two steps, so the unique index never sees a clash), then forge into it.
    await db.update(events).set({ chainSeq: sql`${events.chainSeq} + 1000` }).where(and(eq(events.chain, inMiddle), gte(events.chainSeq, 3)))
    await db.update(events).set({ chainSeq: sql`${events.chainSeq} - 999` }).where(and(eq(events.chain, inMiddle), gte(events.chainSeq, 1000)))
    const forgedMiddle = await forge(inMiddle, 3, (await rowAt(inMiddle, 2)).mac!)
    t.same((await verify(inMiddle)).firstBroken, { chain: inMiddle, chainSeq: 3, eventId: forgedMiddle, reason: 'mac_mismatch' })
  })

  t.test('two swapped rows are a mac_mismatch at the first of them', async t => {
    const chain = await history(t)
    const [third, fourth] = [await rowAt(chain, 3), await rowAt(chain, 4)]
    await db.update(events).set({ chainSeq: -1 }).where(eq(events.id, third.id))
    await db.update(events).set({ chainSeq: 3 }).where(eq(events.id, fourth.id))
    await db.update(events).set({ chainSeq: 4 }).where(eq(events.id, third.id))
    t.same((await verify(chain)).firstBroken, { chain, chainSeq: 3, eventId: fourth.eventId, reason: 'mac_mismatch' })
  })

  t.test('a row without a MAC is unsigned', async t => {
    const chain = await history(t)
    const victim = await rowAt(chain, 2)
    await db.update(events).set({ mac: null, keyId: null }).where(eq(events.id, victim.id))
    t.same((await verify(chain)).firstBroken, { chain, chainSeq: 2, eventId: victim.eventId, reason: 'unsigned' })
  })

  // Last: it drops the unique index for the rest of this file's database.
  t.test('a duplicated sequence number is found (possible only once the unique index is gone)', async t => {
    const chain = await history(t)
    const original = await rowAt(chain, 3)
    await db.execute(sql`drop index events_chain_seq_key`)
    const copy = await forge(chain, 3, original.prevMac!)
    t.same((await verify(chain)).firstBroken, { chain, chainSeq: 3, eventId: copy, reason: 'duplicate_sequence' })
  })
})
