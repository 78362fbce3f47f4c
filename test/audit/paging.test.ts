// Paged audit verification: a walk split across requests (limit, then the `next` cursor as
// `after`) examines the same rows and finds the same broken row as one pass, whatever the page
// size; the cursor is signed, so a made-up one is refused.
import t from 'tap'
import { and, eq, sql } from 'drizzle-orm'
import { createHmacSigner } from '../../src/adapters/audit/hmac-signer.js'
import { createAuditReader } from '../../src/adapters/db/repositories/audit-reader.js'
import { events } from '../../src/adapters/db/schema.js'
import { createAuditService, type AuditVerification, type AuditVerifyQuery } from '../../src/core/audit/audit-service.js'
import { encodeVerifyCursor } from '../../src/core/audit/verify-cursor.js'
import { disableAuditGuard } from '../helpers/audit.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

const KEY = { id: 'k1', secret: 'paging-test-secret-0123456789' }

t.test(`paged audit verification on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => { config.auditKeys = [KEY] })
  const db = ctx.database.db
  const chains: string[] = []
  for (const launches of [0, 3, 1]) {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 5 })
    for (let i = 0; i < launches; i++) await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
    chains.push(project.name)
  }
  const total = 2 + 5 + 3 // created and quota_changed per project, plus the launches

  /** Every page of a walk, following `next`, with internal pages of `pageSize` rows. */
  const walk = async (pageSize: number, limit: number, query: AuditVerifyQuery = {}): Promise<AuditVerification[]> => {
    const audit = createAuditService({ reader: createAuditReader(db), signer: createHmacSigner([KEY]), pageSize })
    const pages = [await audit.verify({ ...query, limit })]
    while (pages.at(-1)!.next) pages.push(await audit.verify({ ...query, limit, after: pages.at(-1)!.next! }))
    return pages
  }
  const sum = (pages: AuditVerification[]) => pages.reduce((n, p) => n + p.checkedRows, 0)

  t.test('every page size and limit examines every row once and ends complete', async t => {
    const whole = await ctx.audit.verify()
    t.match(whole, { ok: true, checkedRows: total, chains: 3, complete: true })
    t.notOk(whole.next)
    for (const [pageSize, limit] of [[1, 1], [2, 3], [3, 2], [500, 4], [4, 500]] as const) {
      const pages = await walk(pageSize, limit)
      t.equal(sum(pages), total, `page size ${pageSize}, limit ${limit}: rows`)
      t.ok(pages.every(p => p.ok), 'every page is ok')
      t.ok(pages.at(-1)!.complete && pages.slice(0, -1).every(p => !p.complete && p.next), 'only the last page is complete')
      t.ok(pages.every(p => p.checkedRows <= limit), 'no page passes its limit')
    }
    const one = await walk(2, 2, { chain: chains[1]! })
    t.equal(sum(one), 5, 'one chain in pages')
  })

  t.test('a broken row is found at the same place in pages as in one pass', async t => {
    await disableAuditGuard(db)
    await db.execute(sql`update events set actor = 'mallory' where chain = ${chains[1]!} and chain_seq = 4`)
    const [victim] = await db.select().from(events).where(and(eq(events.chain, chains[1]!), eq(events.chainSeq, 4)))
    const whole = await ctx.audit.verify()
    t.same(whole.firstBroken, { chain: chains[1], chainSeq: 4, eventId: victim!.eventId, reason: 'mac_mismatch' })
    for (const limit of [1, 3, 4, 100]) {
      const pages = await walk(2, limit)
      const last = pages.at(-1)!
      t.same(last.firstBroken, whole.firstBroken, `limit ${limit}`)
      t.equal(sum(pages), whole.checkedRows, 'after the same number of rows')
      t.match(last, { ok: false, complete: false })
      t.notOk(last.next, 'the walk stops there')
    }
    await db.execute(sql`update events set actor = 'test' where chain = ${chains[1]!} and chain_seq = 4`)
    t.match(await ctx.audit.verify(), { ok: true })
  })

  t.test('over REST: limit answers next, after goes on; a made-up cursor is refused', async t => {
    const get = (query: string) => app.inject({ method: 'GET', url: `/api/v1/audit/verify${query}` })
    const first = await get('?limit=4')
    t.equal(first.statusCode, 200)
    t.match(first.json(), { ok: true, checkedRows: 4, complete: false, next: /^[A-Za-z0-9_-]+$/, findings: [] })
    const second = await get(`?limit=100&after=${first.json().next}`)
    t.match(second.json(), { ok: true, checkedRows: total - 4, complete: true })
    t.notOk(second.json().next)

    const forged = encodeVerifyCursor(createHmacSigner([{ id: 'k1', secret: 'not-the-daemon-key-0123456789' }]), { chain: chains[2]!, chainSeq: 2, id: 1, mac: '' })
    for (const after of [forged, 'bm90IGpzb24', 'x']) {
      const res = await get(`?after=${after}`)
      t.equal(res.statusCode, 400, after)
      t.match(res.json(), { code: 'INVALID_CURSOR' })
    }
    t.equal((await get(`?chain=${chains[0]}&after=${first.json().next}`)).statusCode, 400, 'a cursor of another chain')
    for (const limit of ['0', '-1', '1.5', 'all']) t.equal((await get(`?limit=${limit}`)).statusCode, 400, `limit=${limit}`)
  })
})
