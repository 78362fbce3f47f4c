import t from 'tap'
import { count, eq, sql } from 'drizzle-orm'
import { budgets, events, outbox, runners } from '../../src/adapters/db/schema.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'

const launch = (payload: object) => ({ method: 'POST' as const, url: '/api/v1/runners', payload })

t.test(`runners on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const rows = async (table: typeof runners | typeof outbox | typeof events) => (await ctx.database.db.select({ n: count() }).from(table))[0]!.n

  t.test('200 concurrent launches on one project with quota 5 admit exactly 5', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 5 })
    const responses = await Promise.all(Array.from({ length: 200 }, () => app.inject(launch({ project: project.name, agent: 'generic-test' }))))
    const codes = responses.map(r => r.statusCode)
    t.equal(codes.filter(c => c === 201).length, 5, 'exactly five admitted')
    t.equal(codes.filter(c => c === 429 || c === 409).length, 195, 'the rest refused with 409 or 429')
    const refused = responses.find(r => r.statusCode === 429)!
    t.match(refused.headers['content-type'], /application\/problem\+json/)
    t.match(refused.json(), { code: 'QUOTA_EXCEEDED', status: 429 })
    t.equal(await ctx.runners.list({ project: project.name }).then(p => p.total), 5, 'five rows in the database')
  })

  t.test('units of work run at READ COMMITTED (a REPEATABLE READ snapshot would predate the lock and leak the quota)', async t => {
    const rows = await ctx.database.db.transaction(tx => tx.execute<{ transaction_isolation: string }>(sql`show transaction_isolation`))
    const list = Array.isArray(rows) ? rows : (rows as unknown as { rows: Array<{ transaction_isolation: string }> }).rows
    t.equal(list[0]!.transaction_isolation, 'read committed')
  })

  t.test('a launch writes the runner, its outbox event and its audit row together', async t => {
    const project = await createProject(t, ctx)
    const before = { runners: await rows(runners), outbox: await rows(outbox), events: await rows(events) }
    const res = await app.inject(launch({ project: project.name, agent: 'generic-test', flags: ['--verbose'], environment: { FOO: 'bar', API_TOKEN: 'secret' } }))
    t.equal(res.statusCode, 201)
    const runner = res.json()
    t.match(runner, { project: project.name, status: 'pending', desiredState: 'running', flags: ['--verbose'], conversationMode: 'new' })
    t.same(runner.environment, { FOO: 'bar', API_TOKEN: '********' }, 'secret-looking values are masked')
    t.equal(await rows(runners), before.runners + 1)
    t.equal(await rows(outbox), before.outbox + 1)
    t.equal(await rows(events), before.events + 1)
    const [event] = await ctx.database.db.select().from(outbox).where(eq(outbox.aggregateId, runner.id))
    t.match(event, { eventType: 'runner.launched', routingKey: `runner.launched.${project.name}`, seq: 1 })
    t.match(event!.payload, { event_id: event!.eventId, type: 'runner.launched', project: project.name, aggregate_id: runner.id, seq: 1 })
  })

  t.test('refusals change nothing', async t => {
    const project = await createProject(t, ctx)
    const before = { runners: await rows(runners), outbox: await rows(outbox) }
    const cases: Array<[object, number, string]> = [
      [{ project: project.name, agent: 'nope' }, 400, 'UNKNOWN_AGENT'],
      [{ project: 'no-such-project', agent: 'generic-test' }, 404, 'PROJECT_NOT_FOUND'],
      [{ project: project.name, agent: 'generic-test', environment: { LD_PRELOAD: '/tmp/x.so' } }, 400, 'INVALID_ENVIRONMENT'],
      [{ project: project.name, agent: 'generic-test', environment: { NODE_OPTIONS: '--require /tmp/x.js' } }, 400, 'INVALID_ENVIRONMENT'],
      [{ project: project.name, agent: 'generic-test', environment: { PATH: '/tmp' } }, 400, 'INVALID_ENVIRONMENT'],
      [{ project: project.name, agent: 'generic-test', environment: { 'bad-name': 'x' } }, 400, 'INVALID_ENVIRONMENT'],
      [{ project: project.name, agent: 'generic-test', conversationMode: 'resume' }, 400, 'INVALID_ARGUMENT'],
      [{ project: project.name, agent: 'generic-test', projectPath: '/etc' }, 400, 'INVALID_PROJECT_PATH'],
      [{ project: project.name, agent: 'generic-test', projectPath: `${project.path}/../..` }, 400, 'INVALID_PROJECT_PATH'],
      [{ project: project.name, agent: 'generic-test', projectPath: 'relative/dir' }, 400, 'INVALID_PROJECT_PATH'],
      // Inside the project once resolved, but spelt with '..': the form is refused, as for a project's own path.
      [{ project: project.name, agent: 'generic-test', projectPath: `${project.path}/.` }, 400, 'INVALID_PROJECT_PATH'],
      [{ project: project.name, agent: 'generic-test', runtimeType: 'container' }, 400, 'VALIDATION_FAILED'],
      [{ project: project.name, agent: 'generic-test', colour: 'blue' }, 400, 'VALIDATION_FAILED'],
    ]
    for (const [payload, status, code] of cases) {
      const res = await app.inject(launch(payload))
      t.equal(res.statusCode, status, `${JSON.stringify(payload)} -> ${status}`)
      t.equal(res.json().code, code)
    }
    t.equal(await rows(runners), before.runners)
    t.equal(await rows(outbox), before.outbox)
  })

  t.test('token budgets: an exhausted budget in force refuses launches; an ended period and other projects\' do not', async t => {
    const project = await createProject(t, ctx)
    const other = await createProject(t, ctx)
    const hour = 3600_000
    const now = Date.now()
    const budget = (scope: 'global' | 'project' | 'agent', scopeId: string, used: number, endOffset: number, period: 'day' | 'week' = 'day') =>
      ctx.database.db.insert(budgets).values({
        id: ctx.ids.next(), scope, scopeId, period, limitTokens: 1000, usedTokens: used, createdBy: 'test',
        periodStart: new Date(now + endOffset - 24 * hour), periodEnd: new Date(now + endOffset),
      })
    await budget('project', project.name, 1000, -hour) // its period ended (not rolled over yet)
    await budget('project', other.name, 5000, hour) // another project's
    await budget('agent', 'another-agent', 5000, hour) // another agent's
    t.equal((await app.inject(launch({ project: project.name, agent: 'generic-test' }))).statusCode, 201)
    await budget('project', project.name, 1000, hour, 'week')
    const refused = await app.inject(launch({ project: project.name, agent: 'generic-test' }))
    t.equal(refused.statusCode, 429)
    t.match(refused.json(), { code: 'BUDGET_EXHAUSTED', detail: /project .*1000\/1000/ })
    await budget('agent', 'generic-test', 1000, hour)
    const byAgent = await app.inject(launch({ project: (await createProject(t, ctx)).name, agent: 'generic-test' }))
    t.match(byAgent.json(), { code: 'BUDGET_EXHAUSTED', detail: /agent generic-test/ })
    await ctx.database.db.delete(budgets).where(eq(budgets.scope, 'agent'))
    await budget('global', '', 10, hour)
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/metrics' })).json().token_limit, 1000, 'the global budget is the token limit')
    await ctx.database.db.update(budgets).set({ usedTokens: 1000 }).where(eq(budgets.scope, 'global'))
    const global = await app.inject(launch({ project: (await createProject(t, ctx)).name, agent: 'generic-test' }))
    t.match(global.json(), { code: 'BUDGET_EXHAUSTED', detail: /global/ })
    await ctx.database.db.delete(budgets)
  })

  t.test('an archived project takes no launches', async t => {
    const project = await createProject(t, ctx)
    await ctx.projects.archive(project.name, 'test')
    const res = await app.inject(launch({ project: project.name, agent: 'generic-test' }))
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'PROJECT_ARCHIVED')
  })

  t.test('stop: a pending runner ends at once; a second stop is refused; unknown ids are 404', async t => {
    const project = await createProject(t, ctx)
    const runner = (await app.inject(launch({ project: project.name, agent: 'generic-test' }))).json()
    const stopped = await app.inject({ method: 'POST', url: `/api/v1/runners/${runner.id}/stop`, payload: { force: true } })
    t.equal(stopped.statusCode, 202)
    t.match(stopped.json(), { status: 'terminated', desiredState: 'stopped' })
    t.ok(stopped.json().terminatedAt)
    const again = await app.inject({ method: 'POST', url: `/api/v1/runners/${runner.id}/stop`, payload: {} })
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'RUNNER_NOT_ACTIVE')
    const missing = await app.inject({ method: 'POST', url: '/api/v1/runners/00000000-0000-7000-8000-000000000000/stop', payload: {} })
    t.equal(missing.statusCode, 404)
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/runners/not-a-uuid' })).statusCode, 400)
    const seqs = (await ctx.database.db.select({ seq: outbox.seq, type: outbox.eventType }).from(outbox).where(eq(outbox.aggregateId, runner.id))).sort((a, b) => a.seq - b.seq)
    t.same(seqs, [{ seq: 1, type: 'runner.launched' }, { seq: 2, type: 'runner.stopped' }], 'one event per transition, seq in order')
  })

  t.test('stop of a running runner records the wish for the supervisor', async t => {
    const project = await createProject(t, ctx)
    const runner = (await app.inject(launch({ project: project.name, agent: 'generic-test' }))).json()
    await ctx.database.db.update(runners).set({ status: 'running' }).where(eq(runners.id, runner.id))
    const res = await app.inject({ method: 'POST', url: `/api/v1/runners/${runner.id}/stop`, payload: { timeoutSeconds: 3 } })
    t.equal(res.statusCode, 202)
    t.match(res.json(), { status: 'running', desiredState: 'stopped', stopForce: false, stopTimeoutSeconds: 3 })
  })

  t.test('list: newest first, filters, cursor pagination without gaps or repeats', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 20 })
    const ids: string[] = []
    for (let i = 0; i < 7; i++) ids.push((await app.inject(launch({ project: project.name, agent: 'generic-test' }))).json().id)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res: { statusCode: number, json(): any } = await app.inject({ method: 'GET', url: '/api/v1/runners', query: { project: project.name, limit: '3', ...(cursor ? { cursor } : {}) } })
      t.equal(res.statusCode, 200)
      const page: { total: number, runners: Array<{ id: string }>, nextCursor: string | null } = res.json()
      t.equal(page.total, 7)
      seen.push(...page.runners.map((r: { id: string }) => r.id))
      cursor = page.nextCursor
    } while (cursor)
    t.same(seen, [...ids].reverse())
    const pending = await app.inject({ method: 'GET', url: `/api/v1/runners?project=${project.name}&status=terminated` })
    t.equal(pending.json().total, 0)
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/runners?cursor=garbage' })).json().code, 'INVALID_CURSOR')
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/runners?limit=100000' })).statusCode, 400)
  })
})
