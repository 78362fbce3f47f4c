// Audit checkpoints: what the rows alone cannot show (a tail cut off a chain, a chain deleted
// whole, an emptied table, a chain cut and written anew) is found by comparing with the newest
// signed line of <data_dir>/audit-checkpoints.jsonl; a forged line is reported and passed
// over; an intact log with checkpoints verifies. Each case has a database and data dir of its
// own, since a checkpoint covers the whole log. Tampering is done as a database superuser
// would: the append-only trigger is disabled first.
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { and, asc, eq, gt, sql } from 'drizzle-orm'
import { CHECKPOINT_FILE } from '../../src/adapters/audit/checkpoint-file.js'
import { createHmacSigner } from '../../src/adapters/audit/hmac-signer.js'
import { events, outbox } from '../../src/adapters/db/schema.js'
import { AUDIT_CHAIN } from '../../src/core/audit/audit-record.js'
import { formatCheckpointLine, signCheckpoint } from '../../src/core/audit/checkpoint.js'
import type { Context } from '../../src/context.js'
import { disableAuditGuard } from '../helpers/audit.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

type TapTest = Parameters<typeof buildContext>[0]
const KEY = { id: 'k1', secret: 'checkpoint-test-secret-0123456789' }

const setup = async (t: TapTest) => {
  const ctx = await buildContext(t, config => { config.auditKeys = [KEY] })
  await disableAuditGuard(ctx.database.db)
  return ctx
}

/** A project whose chain has six rows: created, quota_changed, three launches, a stop. */
const history = async (t: TapTest, ctx: Context): Promise<string> => {
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')).id)
  await ctx.runners.stop(ids[0]!, {}, 'test')
  return project.name
}

const checkpointFile = (ctx: Context) => join(ctx.config.dataDir, CHECKPOINT_FILE)
const lines = (ctx: Context) => readFileSync(checkpointFile(ctx), 'utf8').split('\n').filter(Boolean)

t.test(`audit checkpoints on ${backendName()}`, async t => {
  t.test('an intact log with checkpoints verifies; a checkpoint is written only when the log moved', async t => {
    const ctx = await setup(t)
    t.same(await ctx.auditCheckpoints.checkpoint(), { written: false, reason: 'unchanged' }, 'an empty log needs none')
    const first = await history(t, ctx)
    const second = await history(t, ctx)
    t.same(await ctx.auditCheckpoints.checkpoint(), { written: true, chains: 3 }, 'two projects and the checkpoints\' own chain')
    t.same(await ctx.auditCheckpoints.checkpoint(), { written: false, reason: 'unchanged' }, 'its own event does not count as a change')
    t.equal(lines(ctx).length, 1)

    const [line] = lines(ctx)
    const stored = JSON.parse(line!)
    t.match(stored, { v: 1, daemon_id: ctx.daemonId, key_id: 'k1', mac: /^[0-9a-f]{64}$/ })
    t.same(stored.heads.map((h: { chain: string, seq: number }) => [h.chain, h.seq]), [[AUDIT_CHAIN, 1], [first, 6], [second, 6]].sort())

    const [event] = await ctx.database.db.select().from(events).where(eq(events.chain, AUDIT_CHAIN))
    t.match(event, { eventType: 'audit.checkpoint', chainSeq: 1, entityType: 'daemon', entityId: ctx.daemonId, actor: 'audit-checkpoint', project: '' })
    t.same((event!.data.heads as Array<{ chain: string }>).map(h => h.chain), [first, second].sort(), 'the event lists the heads before itself')
    const [queued] = await ctx.database.db.select().from(outbox).where(eq(outbox.eventId, event!.eventId))
    t.equal(queued?.routingKey, `audit.checkpoint.${ctx.daemonId}`, 'and goes out on the bus like every event')

    await ctx.projects.archive(first, 'test')
    t.same(await ctx.auditCheckpoints.checkpoint(), { written: true, chains: 3 })
    t.equal(lines(ctx).length, 2)
    const verified = await ctx.audit.verify()
    t.match(verified, { ok: true, findings: [], complete: true, checkpoint: { daemonId: ctx.daemonId, chains: 3 } })
    t.same(verified.checkpoint?.at, new Date(JSON.parse(lines(ctx)[1]!).at))
  })

  t.test('rows cut off the end of a chain are a tail_deleted finding', async t => {
    const ctx = await setup(t)
    const chain = await history(t, ctx)
    const other = await history(t, ctx)
    await ctx.auditCheckpoints.checkpoint()
    await ctx.database.db.delete(events).where(and(eq(events.chain, chain), gt(events.chainSeq, 4)))
    const verified = await ctx.audit.verify()
    t.same(verified.findings, [{ reason: 'tail_deleted', chain, chainSeq: 6, headSeq: 4 }])
    t.match(verified, { ok: false, complete: true }, 'the rows left verify, the log does not')
    t.notOk(verified.firstBroken)
    t.match(await ctx.audit.verify({ chain }), { ok: false, findings: [{ reason: 'tail_deleted', chain }] }, 'also when one chain is asked for')
    t.match(await ctx.audit.verify({ chain: other }), { ok: true, findings: [] }, 'another chain is intact')

    const refused = await ctx.auditCheckpoints.checkpoint()
    t.match(refused, { written: false, reason: 'regressed', findings: [{ reason: 'tail_deleted', chain }] }, 'no checkpoint over the loss')
    t.equal(lines(ctx).length, 1)
    await ctx.runners.launch({ project: other, agent: 'generic-test' }, 'test')
    t.match(await ctx.auditCheckpoints.checkpoint(), { written: false, reason: 'regressed' }, 'not even when the log moves on')
  })

  t.test('a chain deleted whole is a chain_deleted finding', async t => {
    const ctx = await setup(t)
    const chain = await history(t, ctx)
    await history(t, ctx)
    await ctx.auditCheckpoints.checkpoint()
    await ctx.database.db.execute(sql`delete from events where chain = ${chain}`)
    t.match(await ctx.audit.verify(), { ok: false, findings: [{ reason: 'chain_deleted', chain, chainSeq: 6, headSeq: 0 }], complete: true })
    t.match(await ctx.audit.verify({ chain }), { ok: false, checkedRows: 0, findings: [{ reason: 'chain_deleted', chain }] })
  })

  t.test('an emptied table is one log_emptied finding, by DELETE or by TRUNCATE', async t => {
    for (const empty of [sql`delete from events`, sql`truncate events cascade`]) {
      const ctx = await setup(t)
      await history(t, ctx)
      await history(t, ctx)
      await ctx.auditCheckpoints.checkpoint()
      await ctx.database.db.execute(empty)
      const verified = await ctx.audit.verify()
      t.same(verified.findings, [{ reason: 'log_emptied' }])
      t.match(verified, { ok: false, checkedRows: 0, chains: 0, complete: true, checkpoint: { chains: 3 } })
      t.match(await ctx.auditCheckpoints.checkpoint(), { written: false, reason: 'regressed', findings: [{ reason: 'log_emptied' }] })
    }
  })

  t.test('a chain cut and written anew past the checkpoint is a checkpoint_mismatch', async t => {
    const ctx = await setup(t)
    const chain = await history(t, ctx)
    await ctx.auditCheckpoints.checkpoint()
    await ctx.database.db.delete(events).where(and(eq(events.chain, chain), gt(events.chainSeq, 4)))
    // The application goes on appending, signing rows 5, 6 and 7 anew over row 4.
    for (let i = 0; i < 3; i++) await ctx.runners.launch({ project: chain, agent: 'generic-test' }, 'test')
    const verified = await ctx.audit.verify()
    t.same(verified.findings, [{ reason: 'checkpoint_mismatch', chain, chainSeq: 6, headSeq: 7 }])
    t.notOk(verified.firstBroken, 'every row left is correctly chained')
  })

  t.test('a forged or foreign checkpoint line is reported and passed over', async t => {
    const ctx = await setup(t)
    const chain = await history(t, ctx)
    await ctx.auditCheckpoints.checkpoint()
    const genuine = JSON.parse(lines(ctx)[0]!)

    // Claims a longer chain than there is, so that verify would report a tail deleted.
    const forged = { ...genuine, heads: genuine.heads.map((h: { chain: string, seq: number }) => h.chain === chain ? { ...h, seq: 60 } : h) }
    appendFileSync(checkpointFile(ctx), `${JSON.stringify(forged)}\n`)
    t.same((await ctx.audit.verify()).findings, [{ reason: 'checkpoint_invalid', lines: 1 }], 'the genuine line is the reference')

    // Signed, but with a key this daemon does not have.
    const foreign = signCheckpoint(createHmacSigner([{ id: 'k1', secret: 'another-secret-0123456789abcdef' }]), { at: new Date(), daemonId: 'x', heads: [] })
    appendFileSync(checkpointFile(ctx), `${formatCheckpointLine(foreign)}\nnot json\n{"v":1`)
    const verified = await ctx.audit.verify()
    t.same(verified.findings, [{ reason: 'checkpoint_invalid', lines: 4 }])
    t.equal(verified.checkpoint?.at.toISOString(), genuine.at)

    // The next checkpoint goes on a line of its own, after the torn one, and is the reference again.
    await ctx.runners.launch({ project: chain, agent: 'generic-test' }, 'test')
    t.same(await ctx.auditCheckpoints.checkpoint(), { written: true, chains: 2 })
    t.match(await ctx.audit.verify(), { ok: true, findings: [] })
    t.equal(lines(ctx).at(-2), '{"v":1', 'the torn line was left as it was')
  })

  t.test('the rows of the checkpoints\' own chain are covered as well', async t => {
    const ctx = await setup(t)
    await history(t, ctx)
    await ctx.auditCheckpoints.checkpoint()
    const [own] = await ctx.database.db.select().from(events).where(eq(events.chain, AUDIT_CHAIN)).orderBy(asc(events.chainSeq))
    await ctx.database.db.delete(events).where(eq(events.id, own!.id))
    t.match(await ctx.audit.verify(), { ok: false, findings: [{ reason: 'chain_deleted', chain: AUDIT_CHAIN, chainSeq: 1 }] })
  })
})
