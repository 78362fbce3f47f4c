import t from 'tap'
import { mkdirSync, realpathSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { count, eq } from 'drizzle-orm'
import { budgets, runners, sessions } from '../../src/adapters/db/schema.js'
import { VERSION } from '../../src/version.js'
import { build, tempDir } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject, insertSession, uniqueName } from '../helpers/fixtures.js'

// The Lex WebUI is not ours to change: shared/contracts/lex-webui.md is the spec these tests read.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
const kindOf = (v: unknown) => Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v
const kinds = (o: Record<string, unknown>, shape: Record<string, string>) => Object.fromEntries(Object.keys(shape).map(k => [k, kindOf(o[k])]))

const RUNNER = {
  id: 'string', runtimeType: 'string', runtimeId: 'string', nodeId: 'string', projectName: 'string', projectPath: 'string', status: 'string',
  flags: 'array', capabilities: 'array', environment: 'object', sessionId: 'string', conversationMode: 'string', tokensUsed: 'number',
  cpuPercent: 'number', memoryMb: 'number', restartAttempts: 'number', maxRestartAttempts: 'number', startedAt: 'string',
  lastHeartbeat: 'string', heartbeatTtlSeconds: 'number', createdAt: 'string', updatedAt: 'string',
}
const PROJECT = {
  name: 'string', path: 'string', status: 'string', description: 'string', tags: 'array', totalRunners: 'number', activeRunners: 'number',
  totalSessions: 'number', totalTokens: 'number', createdAt: 'string', lastAccessedAt: 'string', updatedAt: 'string',
}
const SESSION = {
  id: 'string', runner_id: 'string', project_name: 'string', started_at: 'string', message_count: 'number', tokens_used: 'number',
  resumable: 'boolean', created_at: 'string',
}
const DAEMON = { daemonId: 'string', hostname: 'string', version: 'string', startedAt: 'string', lastHeartbeat: 'string', healthy: 'boolean' }
const METRICS = { activeRunners: 'number', activeProjects: 'number', totalSessions: 'number', tokensUsed: 'number', tokenLimit: 'number' }

type SubTest = Parameters<Parameters<typeof t.test>[0]>[0]
const newDir = (t: SubTest) => {
  const dir = join(tempDir(t), 'work')
  mkdirSync(dir)
  return dir
}

t.test(`Lex WebUI routes on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const get = (url: string) => app.inject({ method: 'GET', url })
  const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload })
  const launch = async (payload: object) => (await post('/api/v1/runners/launch', payload)).json()
  const isError = (t: SubTest, res: Awaited<ReturnType<typeof get>>, label: string, pattern: RegExp = /./) => {
    t.equal(res.statusCode, 200, `${label}: HTTP 200`)
    t.match(res.headers['content-type'], /^application\/json/, `${label}: JSON`)
    t.same(Object.keys(res.json()), ['error'], `${label}: { error } only`)
    t.match(res.json().error, pattern, `${label}: a readable message`)
  }

  t.test('health, status and metrics', async t => {
    const fresh = await build(t)
    const health = await fresh.app.inject({ method: 'GET', url: '/api/v1/health' })
    t.equal(health.statusCode, 200)
    t.match(health.headers['content-type'], /^text\/plain/)
    t.equal(health.body, 'OK')

    const project = await createProject(t, fresh.ctx, { maxConcurrentRunners: 10 })
    const other = await createProject(t, fresh.ctx)
    const ids: string[] = []
    for (const name of [project.name, project.name, other.name]) ids.push((await fresh.ctx.runners.launch({ project: name, agent: 'generic-test' }, 'test')).id)
    await fresh.ctx.runners.stop(ids[2]!, {}, 'test')
    await fresh.ctx.database.db.update(runners).set({ tokensUsed: 40 }).where(eq(runners.id, ids[0]!))
    await fresh.ctx.database.db.update(runners).set({ tokensUsed: 2 }).where(eq(runners.id, ids[2]!))
    for (const id of ['m1', 'm2', 'm3']) await insertSession(fresh.ctx, { id, projectName: project.name })
    const now = Date.now()
    await fresh.ctx.database.db.insert(budgets).values({
      id: fresh.ctx.ids.next(), scope: 'global', period: 'day', limitTokens: 1_000_000, createdBy: 'test', periodStart: new Date(now - 3_600_000), periodEnd: new Date(now + 3_600_000),
    })

    const metrics = await fresh.app.inject({ method: 'GET', url: '/api/v1/metrics' })
    t.equal(metrics.statusCode, 200)
    t.same(metrics.json(), { active_runners: 2, active_projects: 1, total_sessions: 3, tokens_used: 42, token_limit: 1_000_000 }, 'snake_case numbers, real counts')

    const status = await fresh.app.inject({ method: 'GET', url: '/api/v1/status' })
    t.equal(status.statusCode, 200)
    const body = status.json()
    t.same(Object.keys(body).sort(), ['daemon', 'metrics'])
    t.same(kinds(body.daemon, DAEMON), DAEMON, 'every DaemonStatus field, typed')
    t.hasStrict(body.daemon, { daemonId: fresh.ctx.daemonId, hostname: hostname(), version: VERSION, healthy: true })
    t.match(body.daemon, { startedAt: RFC3339, lastHeartbeat: RFC3339 })
    t.same(body.metrics, { activeRunners: 2, activeProjects: 1, totalSessions: 3, tokensUsed: 42, tokenLimit: 1_000_000 }, 'camelCase inside /status')
    t.same(kinds(body.metrics, METRICS), METRICS)
  })

  t.test('runners: every field, "" for unknown times, status mapping, newest first', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 20 })
    const mapping: Array<[string, string]> = [
      ['pending', 'pending'], ['starting', 'pending'], ['running', 'running'], ['paused', 'paused'],
      ['stopping', 'running'], ['lost', 'failed'], ['terminated', 'terminated'], ['failed', 'failed'],
    ]
    const ids: string[] = []
    for (let i = 0; i < mapping.length; i++) ids.push((await launch({ projectName: project.name, agent: 'generic-test' })).runner.id)
    const fresh = (await get(`/api/v1/runners/get?id=${ids[0]}`)).json().runner
    t.same(kinds(fresh, RUNNER), RUNNER, 'every Runner field, typed')
    t.hasStrict(fresh, { status: 'pending', startedAt: '', lastHeartbeat: '', sessionId: '', nodeId: '' }, '"" for unknown times')
    t.match(fresh, { createdAt: RFC3339, updatedAt: RFC3339 })
    t.notOk('terminatedAt' in fresh || 'exitCode' in fresh, 'terminatedAt and exitCode absent until known')

    const at = new Date()
    for (const [i, [status]] of mapping.entries()) {
      const ended = status === 'terminated' || status === 'failed'
      await ctx.database.db.update(runners).set({
        status, startedAt: i > 0 ? at : null, lastHeartbeat: i > 1 ? at : null, ...(ended ? { terminatedAt: at, exitCode: status === 'failed' ? 1 : 0 } : {}),
      }).where(eq(runners.id, ids[i]!))
    }
    const list = await get(`/api/v1/runners/list?project=${project.name}`)
    t.equal(list.statusCode, 200)
    t.same(Object.keys(list.json()).sort(), ['runners', 'total'])
    const listed = list.json().runners as Array<Record<string, unknown>>
    t.equal(list.json().total, mapping.length)
    t.same(listed.map(r => r.id), [...ids].reverse(), 'newest first')
    const byId = new Map(listed.map(r => [r.id, r]))
    for (const [i, [stored, shown]] of mapping.entries()) {
      const r = byId.get(ids[i])!
      t.equal(r.status, shown, `${stored} is shown as ${shown}`)
      t.same(kinds(r, RUNNER), RUNNER, `${stored}: every field, typed`)
      t.match(r, { startedAt: i > 0 ? RFC3339 : /^$/, lastHeartbeat: i > 1 ? RFC3339 : /^$/ })
    }
    t.match(byId.get(ids[6]), { terminatedAt: RFC3339 })
    t.equal(byId.get(ids[6])!.exitCode, 0)
    t.match(byId.get(ids[7]), { terminatedAt: RFC3339 })
    t.equal(byId.get(ids[7])!.exitCode, 1)

    const all = (await get('/api/v1/runners/list')).json()
    const [rows] = await ctx.database.db.select({ n: count() }).from(runners)
    t.equal(all.total, rows!.n, 'all runners known, from the database')
    t.equal(all.runners.length, rows!.n)
  })

  t.test('runners/list returns every runner known, not one page', async t => {
    const project = await createProject(t, ctx)
    const rows = Array.from({ length: 501 }, () => ({
      id: ctx.ids.next(), projectName: project.name, projectPath: project.path, agent: 'generic-test', status: 'terminated', createdBy: 'test',
    }))
    await ctx.database.db.insert(runners).values(rows)
    const body = (await get(`/api/v1/runners/list?project=${project.name}`)).json()
    t.equal(body.total, 501)
    t.equal(body.runners.length, 501, 'all of them, as the app shows no pages')
    t.equal(body.runners[0].id, rows.at(-1)!.id, 'newest first')
  })

  t.test('launch and stop accept camelCase, snake_case and PascalCase keys', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
    const camel = await launch({ projectName: project.name, agent: 'generic-test', flags: ['--a'], capabilities: ['git'] })
    t.hasStrict(camel.runner, { projectName: project.name, projectPath: project.path, conversationMode: 'new' })
    t.same([camel.runner.flags, camel.runner.capabilities], [['--a'], ['git']])
    const snake = await launch({ project_name: project.name, project_path: '', conversation_mode: '', session_id: '', runtime_type: '', agent: 'generic-test' })
    t.hasStrict(snake.runner, { projectName: project.name, projectPath: project.path, conversationMode: 'new', sessionId: '', runtimeType: 'process' }, 'empty strings mean the defaults')
    const pascal = await launch({ ProjectName: project.name, Agent: 'generic-test', Environment: { FOO: 'bar', API_TOKEN: 'secret' }, ConversationMode: 'resume', SessionId: 'sess-1' })
    t.hasStrict(pascal.runner, { projectName: project.name, conversationMode: 'resume', sessionId: 'sess-1' })
    t.same(pascal.runner.environment, { FOO: 'bar', API_TOKEN: '********' }, 'secret values masked')

    await ctx.database.db.update(runners).set({ status: 'running' }).where(eq(runners.id, pascal.runner.id))
    t.same((await post('/api/v1/runners/stop', { runnerId: camel.runner.id })).json(), { success: true })
    t.same((await post('/api/v1/runners/stop', { runner_id: snake.runner.id, force: true })).json(), { success: true })
    t.same((await post('/api/v1/runners/stop', { RunnerId: pascal.runner.id, TimeoutSeconds: 5 })).json(), { success: true })
    t.hasStrict(await ctx.runners.get(camel.runner.id), { status: 'terminated' })
    t.hasStrict(await ctx.runners.get(snake.runner.id), { status: 'terminated' })
    t.hasStrict(await ctx.runners.get(pascal.runner.id), { status: 'running', desiredState: 'stopped', stopTimeoutSeconds: 5 })

    for (const [label, payload] of [
      ['a stopped runner', { runnerId: camel.runner.id }],
      ['an unknown runner', { runnerId: '00000000-0000-7000-8000-000000000000' }],
      ['a non-UUID id', { runnerId: 'not-a-uuid' }],
    ] as const) {
      const res = await post('/api/v1/runners/stop', payload)
      t.equal(res.statusCode, 200, `${label}: HTTP 200`)
      t.same(Object.keys(res.json()).sort(), ['error', 'success'], `${label}: { success, error }`)
      t.equal(res.json().success, false)
      t.match(res.json().error, /\S/)
    }
  })

  t.test('domain errors are HTTP 200 with { error }', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 1 })
    t.ok((await launch({ projectName: project.name, agent: 'generic-test' })).runner, 'the first launch fits the quota')
    isError(t, await post('/api/v1/runners/launch', { projectName: project.name, agent: 'generic-test' }), 'quota exceeded', /quota/)
    isError(t, await post('/api/v1/runners/launch', { projectName: 'no-such-project', agent: 'generic-test' }), 'launch into an unknown project', /not found/)
    isError(t, await post('/api/v1/runners/launch', { projectName: project.name, agent: 'nope' }), 'an unknown agent')
    isError(t, await get('/api/v1/runners/get?id=00000000-0000-7000-8000-000000000000'), 'an unknown runner id', /not found/)
    isError(t, await get('/api/v1/runners/get?id=not-a-uuid'), 'a non-UUID runner id', /not found/)
    isError(t, await get('/api/v1/projects/get?name=no-such-project'), 'an unknown project', /not found/)
    isError(t, await get('/api/v1/sessions/list?project=no-such-project'), 'sessions of an unknown project', /not found/)
    isError(t, await get('/api/v1/sessions/get?session_id=no-such-session'), 'an unknown session', /not found/)
    isError(t, await post('/api/v1/projects/create', { name: project.name, path: project.path }), 'a duplicate project', /exists/)
    isError(t, await post('/api/v1/projects/create', { name: 'list', path: project.path }), 'a reserved name', /reserved/)
  })

  t.test('projects: create, get, list, and delete archives', async t => {
    const dir = newDir(t)
    const created = await post('/api/v1/projects/create', { name: uniqueName('webui'), path: dir, description: 'd', tags: ['x'] })
    t.equal(created.statusCode, 200)
    const project = created.json().project
    t.same(kinds(project, PROJECT), PROJECT, 'every Project field, typed')
    t.hasStrict(project, { path: realpathSync(dir), status: 'idle', description: 'd', totalRunners: 0, activeRunners: 0, totalSessions: 0, totalTokens: 0 })
    t.same(project.tags, ['x'])
    t.match(project, { createdAt: RFC3339, updatedAt: RFC3339 })
    t.equal(project.lastAccessedAt, '', '"" for a project never used')
    t.notOk('archivedAt' in project, 'archivedAt absent until archived')
    t.same((await get(`/api/v1/projects/get?name=${project.name}`)).json(), { project })

    const pascalDir = newDir(t)
    const pascal = (await post('/api/v1/projects/create', { Name: uniqueName('webui'), Path: pascalDir, Description: 'P' })).json().project
    t.hasStrict(pascal, { path: realpathSync(pascalDir), description: 'P' }, 'PascalCase keys accepted')

    const runner = (await launch({ project_name: pascal.name, agent: 'generic-test' })).runner
    const active = (await get(`/api/v1/projects/get?name=${pascal.name}`)).json().project
    t.hasStrict(active, { status: 'active', activeRunners: 1, totalRunners: 1 })
    t.match(active.lastAccessedAt, RFC3339, 'a launch touches the project')
    const names = async (query: string) => (await get(`/api/v1/projects/list${query}`)).json().projects.map((p: { name: string }) => p.name)
    t.ok((await names('')).includes(project.name) && (await names('')).includes(pascal.name), 'list shows both')
    t.ok((await names('?status=idle')).includes(project.name))
    t.ok((await names('?status=active')).includes(pascal.name))
    t.notOk((await names('?status=active')).includes(project.name))

    t.same((await post('/api/v1/projects/delete', { name: project.name })).json(), { success: true })
    t.same((await post('/api/v1/projects/delete', { Name: pascal.name })).json(), { success: true }, 'delete takes PascalCase too')
    const archived = (await get(`/api/v1/projects/get?name=${project.name}`)).json().project
    t.equal(archived.status, 'archived', 'delete archives')
    t.match(archived.archivedAt, RFC3339, 'archivedAt set')
    t.ok((await names('?status=archived')).includes(project.name))
    t.hasStrict(await ctx.runners.get(runner.id), { status: 'pending' }, 'runners already active keep going')
    isError(t, await post('/api/v1/runners/launch', { projectName: project.name, agent: 'generic-test' }), 'a launch into an archived project', /archived/)
    const missing = await post('/api/v1/projects/delete', { name: 'no-such-project' })
    t.equal(missing.statusCode, 200)
    t.equal(missing.json().success, false)
    t.match(missing.json().error, /not found/)
  })

  t.test('sessions: snake_case, optional fields absent when unknown, counted on the project', async t => {
    const project = await createProject(t, ctx)
    const runner = await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
    const at = new Date('2025-01-02T03:04:05.000Z')
    await insertSession(ctx, { id: `${project.name}-a`, projectName: project.name, runnerId: runner.id, tokensUsed: 10, endedAt: at, lastMessageAt: at })
    await insertSession(ctx, { id: `${project.name}-b`, projectName: project.name })
    await ctx.database.db.update(sessions).set({ summary: 'fixed the build', resumedFrom: `${project.name}-a` }).where(eq(sessions.id, `${project.name}-b`))

    const res = await get(`/api/v1/sessions/list?project=${project.name}`)
    t.equal(res.statusCode, 200)
    const listed = res.json().sessions as Array<Record<string, unknown>>
    t.equal(listed.length, 2)
    for (const s of listed) {
      t.same(kinds(s, SESSION), SESSION, `${s.id}: every Session field, typed`)
      t.ok(Object.keys(s).every(k => /^[a-z_]+$/.test(k)), `${s.id}: snake_case keys`)
      t.equal(s.project_name, project.name)
      t.match(s, { started_at: RFC3339, created_at: RFC3339 })
    }
    const a = listed.find(s => s.id === `${project.name}-a`)!
    const b = listed.find(s => s.id === `${project.name}-b`)!
    t.hasStrict(a, { runner_id: runner.id, tokens_used: 10, ended_at: at.toISOString(), last_message_at: at.toISOString(), resumable: true })
    t.notOk('summary' in a || 'resumed_from' in a, 'unknown optional fields are absent')
    t.hasStrict(b, { runner_id: '', summary: 'fixed the build', resumed_from: `${project.name}-a` })
    t.notOk('ended_at' in b || 'last_message_at' in b, 'unknown optional times are absent')
    t.same((await get(`/api/v1/sessions/get?session_id=${project.name}-a`)).json(), { session: a })
    t.hasStrict((await get(`/api/v1/projects/get?name=${project.name}`)).json().project, { totalSessions: 2, totalRunners: 1 })
  })

  t.test('a missing required query parameter is a 400 problem', async t => {
    for (const url of [
      '/api/v1/runners/get', '/api/v1/projects/get', '/api/v1/sessions/list', '/api/v1/sessions/get',
      '/api/v1/runners/get?id=', '/api/v1/projects/get?name=', '/api/v1/sessions/list?project=', '/api/v1/sessions/get?session_id=',
    ]) {
      const res = await get(url)
      t.equal(res.statusCode, 400, `${url} -> 400`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.hasStrict(res.json(), { status: 400, code: 'VALIDATION_FAILED' })
    }
  })

  t.test('an empty optional filter means no filter, as axios sends it', async t => {
    for (const [url, filter] of [['/api/v1/runners/list', 'project'], ['/api/v1/projects/list', 'status']] as const) {
      const empty = await get(`${url}?${filter}=`)
      t.equal(empty.statusCode, 200, `${url}?${filter}= -> 200`)
      t.same(empty.json(), (await get(url)).json(), `${url}?${filter}= is the same as no filter`)
    }
  })

  t.test('reconcile and fleet/prs answer as the contract says', async t => {
    for (const request of [{}, { payload: '', headers: { 'content-type': 'application/json' } }]) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/reconcile', ...request })
      t.equal(res.statusCode, 200, 'a body-less POST is fine')
      t.same(kinds(res.json(), { reconciledCount: 'number', failedRunnerIds: 'array' }), { reconciledCount: 'number', failedRunnerIds: 'array' })
    }
    const fleet = await get('/api/v1/fleet/prs')
    t.equal(fleet.statusCode, 503, 'no fleet configured')
    t.same(Object.keys(fleet.json()), ['error'])
    t.type(fleet.json().error, 'string')
  })
})
