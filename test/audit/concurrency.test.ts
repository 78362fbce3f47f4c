// Chains under concurrent writers. Appends to one project's chain are serialized by its lock,
// so every chain stays numbered 1..n with no gap or clash, however the writers interleave.
// (On PGlite, one connection serializes everything; the Postgres run is the real check.)
import t from 'tap'
import { asc, eq, inArray, sql } from 'drizzle-orm'
import { events, runners } from '../../src/adapters/db/schema.js'
import type { DomainEvent } from '../../src/core/events/event.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject, uniqueName } from '../helpers/fixtures.js'

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

t.test(`audit chains under concurrency on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => { config.daemon.lost_grace_seconds = 60 })
  const db = ctx.database.db
  const seqs = async (chain: string) => (await db.select({ seq: events.chainSeq }).from(events).where(eq(events.chain, chain)).orderBy(asc(events.chainSeq))).map(r => r.seq)
  const launch = (project: string) => app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project, agent: 'generic-test' } })

  t.test('100 concurrent launches over 5 projects: five contiguous chains that verify', async t => {
    const projects = await Promise.all(range(5).map(() => createProject(t, ctx, { maxConcurrentRunners: 100 })))
    const responses = await Promise.all(range(100).map(i => launch(projects[i % 5]!.name)))
    t.same(responses.filter(r => r.statusCode !== 201).map(r => r.body), [], 'every launch admitted')
    for (const p of projects) {
      t.same(await seqs(p.name), range(22), `${p.name}: created, quota_changed and 20 launches, numbered 1..22`)
      t.same(await ctx.audit.verify({ chain: p.name }), { ok: true, checkedRows: 22, chains: 1, findings: [], complete: true })
    }
  })

  t.test('writers that take no lock of their own first (stop, bare appends) never clash with each other or with launches', async t => {
    // A stop's statement snapshot must not predate its wait for the chain lock, or it would
    // read a stale head and take a chain_seq that is already used.
    const project = await createProject(t, ctx, { maxConcurrentRunners: 30 })
    const ids = (await Promise.all(range(30).map(() => launch(project.name)))).map(r => r.json().id as string)
    let seq = 0
    const bare = (): DomainEvent => ({
      eventId: ctx.ids.next(), type: 'project.quota_changed', occurredAt: new Date(), project: project.name,
      aggregateType: 'project', aggregateId: project.name, seq: 1000 + ++seq, actor: 'test', data: {},
    })
    const results = await Promise.allSettled([
      ...ids.map(id => ctx.runners.stop(id, {}, 'test')),
      ...range(20).map(() => ctx.uow.run(tx => tx.events.append(bare()))),
      ...range(5).map(i => ctx.projects.setQuota(project.name, 100 + i, 'test')),
      ...range(10).map(() => ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')),
    ])
    t.same(results.filter(r => r.status === 'rejected'), [], 'no writer failed')
    t.same(await seqs(project.name), range(2 + 30 + 30 + 20 + 5 + 10))
    t.same(await ctx.audit.verify({ chain: project.name }), { ok: true, checkedRows: 97, chains: 1, findings: [], complete: true })
  })

  t.test('appends started together inside one transaction still take consecutive numbers', async t => {
    const project = await createProject(t, ctx)
    await ctx.uow.run(tx => Promise.all(range(10).map(i => tx.events.append({
      eventId: ctx.ids.next(), type: 'project.quota_changed', occurredAt: new Date(), project: project.name,
      aggregateType: 'project', aggregateId: project.name, seq: 100 + i, actor: 'test', data: { i },
    }))))
    t.same(await seqs(project.name), range(11))
    t.same(await ctx.audit.verify({ chain: project.name }), { ok: true, checkedRows: 11, chains: 1, findings: [], complete: true })
  })

  t.test('two reconcilers at once over runners of several projects: no deadlock, chains intact', async t => {
    const names = range(4).map(() => uniqueName('rec'))
    const projects = await Promise.all(names.map(name => createProject(t, ctx, { name, maxConcurrentRunners: 10 })))
    const ids: string[] = []
    // Launch round-robin so that runner id order (the reconciler's lock order) interleaves projects.
    for (let i = 0; i < 5; i++) for (const p of [...projects].reverse()) ids.push((await launch(p.name)).json().id)
    // Half silent past their TTL (30 s) but inside the grace (60 s), to become lost; half lost
    // long ago, to become failed.
    await db.update(runners).set({ status: 'running', startedAt: sql`now() - interval '1 hour'`, lastHeartbeat: sql`now() - interval '50 seconds'` })
      .where(inArray(runners.id, ids.filter((_, i) => i % 2 === 0)))
    await db.update(runners).set({ status: 'lost', startedAt: sql`now() - interval '1 hour'`, lastHeartbeat: sql`now() - interval '1000 seconds'` })
      .where(inArray(runners.id, ids.filter((_, i) => i % 2 === 1)))
    const passes = await Promise.all([ctx.reconciler.reconcile('a'), ctx.reconciler.reconcile('b'), ctx.reconciler.reconcile('c')])
    t.equal(passes.reduce((n, p) => n + p.reconciledCount, 0), 20, 'every runner moved once')
    for (const p of projects) {
      t.same(await seqs(p.name), range(2 + 5 + 5), `${p.name}: contiguous`)
      t.same(await ctx.audit.verify({ chain: p.name }), { ok: true, checkedRows: 12, chains: 1, findings: [], complete: true })
    }
    t.match(await ctx.audit.verify(), { ok: true })
  })
})
