import t from 'tap'
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { and, count, eq } from 'drizzle-orm'
import { events, runners, sessions } from '../../src/adapters/db/schema.js'
import { build, tempDir } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject, insertSession, uniqueName } from '../helpers/fixtures.js'

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
type SubTest = Parameters<Parameters<typeof t.test>[0]>[0]
const newDir = (t: SubTest) => {
  const dir = join(tempDir(t), 'work')
  mkdirSync(dir)
  return dir
}

t.test(`projects on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const create = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/projects', payload })
  const get = (name: string) => app.inject({ method: 'GET', url: `/api/v1/projects/${name}` })
  const launch = async (project: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project, agent: 'generic-test' } })
    if (res.statusCode !== 201) throw new Error(`launch into ${project} failed: ${res.body}`)
    return res.json().id as string
  }
  const stop = (id: string) => app.inject({ method: 'POST', url: `/api/v1/runners/${id}/stop`, payload: {} })
  const listNames = async (query = '') => {
    const res = await app.inject({ method: 'GET', url: `/api/v1/projects${query}` })
    if (res.statusCode !== 200) throw new Error(`list${query} failed: ${res.body}`)
    return res.json().projects.map((p: { name: string }) => p.name) as string[]
  }

  t.test('create: 201 with the path stored as its realpath', async t => {
    const dir = newDir(t)
    const link = join(tempDir(t), 'link')
    symlinkSync(dir, link)
    const name = uniqueName()
    const res = await create({ name, path: link, description: 'via a symlink', tags: ['a', 'b'] })
    t.equal(res.statusCode, 201)
    t.match(res.headers['content-type'], /^application\/json/)
    const project = res.json()
    t.hasStrict(project, {
      name, path: realpathSync(dir), status: 'idle', description: 'via a symlink',
      totalRunners: 0, activeRunners: 0, totalSessions: 0, totalTokens: 0, maxConcurrentRunners: 5, lastAccessedAt: null, archivedAt: null,
    })
    t.not(project.path, link, 'the symlink is not what is stored')
    t.same(project.tags, ['a', 'b'])
    t.match(project, { createdAt: RFC3339, updatedAt: RFC3339 })
    t.same((await get(name)).json(), project, 'get returns what create returned')
    const [created] = await ctx.database.db.select().from(events).where(and(eq(events.entityId, name), eq(events.eventType, 'project.created')))
    t.hasStrict(created?.data, { path: realpathSync(dir) }, 'the audit log has the realpath too')
  })

  t.test('get: unknown names are 404, malformed names 400', async t => {
    const missing = await get('no-such-project')
    t.equal(missing.statusCode, 404)
    t.match(missing.headers['content-type'], /^application\/problem\+json/)
    t.hasStrict(missing.json(), { code: 'PROJECT_NOT_FOUND', status: 404 })
    t.equal((await get('has.dot')).statusCode, 400)
    t.equal((await get(`a${'b'.repeat(63)}`)).statusCode, 400)
  })

  t.test('list: ?status= filters active, idle and archived; a pending runner makes a project active', async t => {
    const [active, idle, archived] = [await createProject(t, ctx), await createProject(t, ctx), await createProject(t, ctx)]
    await launch(active.name)
    await ctx.projects.archive(archived.name, 'test')
    const all = await listNames()
    t.ok([active, idle, archived].every(p => all.includes(p.name)), 'an unfiltered list has all three')
    const expectations: Array<[string, string, string[]]> = [['active', active.name, [idle.name, archived.name]], ['idle', idle.name, [active.name, archived.name]], ['archived', archived.name, [active.name, idle.name]]]
    for (const [status, member, others] of expectations) {
      const names = await listNames(`?status=${status}`)
      t.ok(names.includes(member), `${status} lists ${member}`)
      t.notOk(others.some(n => names.includes(n)), `${status} lists neither of the others`)
      for (const name of names) t.equal((await get(name)).json().status, status, `${name} really is ${status}`)
    }
    t.equal((await get(active.name)).json().status, 'active')
  })

  t.test('archive: status archived, archivedAt set once, launches refused', async t => {
    const project = await createProject(t, ctx)
    const res = await app.inject({ method: 'POST', url: `/api/v1/projects/${project.name}/archive` })
    t.equal(res.statusCode, 200)
    t.equal(res.json().status, 'archived')
    t.match(res.json().archivedAt, RFC3339)
    const again = await app.inject({ method: 'POST', url: `/api/v1/projects/${project.name}/archive` })
    t.equal(again.statusCode, 200, 'archiving twice is fine')
    t.equal(again.json().archivedAt, res.json().archivedAt, 'and keeps the first archivedAt')
    const refused = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'generic-test' } })
    t.hasStrict(refused.json(), { status: 409, code: 'PROJECT_ARCHIVED' })
    const missing = await app.inject({ method: 'POST', url: '/api/v1/projects/no-such-project/archive' })
    t.hasStrict(missing.json(), { status: 404, code: 'PROJECT_NOT_FOUND' })
  })

  t.test('delete: refused while a runner is active; afterwards 204 and the runners are gone', async t => {
    const project = await createProject(t, ctx)
    const pending = await launch(project.name)
    const running = await launch(project.name)
    await ctx.database.db.update(runners).set({ status: 'running' }).where(eq(runners.id, running))
    await insertSession(ctx, { id: `${project.name}-s1`, projectName: project.name, runnerId: running })
    const del = () => app.inject({ method: 'DELETE', url: `/api/v1/projects/${project.name}` })

    const refused = await del()
    t.equal(refused.statusCode, 409)
    t.match(refused.headers['content-type'], /^application\/problem\+json/)
    t.hasStrict(refused.json(), { code: 'PROJECT_HAS_ACTIVE_RUNNERS', status: 409 })
    t.equal((await stop(pending)).statusCode, 202)
    t.equal((await stop(running)).statusCode, 202)
    t.hasStrict((await del()).json(), { code: 'PROJECT_HAS_ACTIVE_RUNNERS' }, 'a stop that is only requested still holds the project')
    // The supervisor reports the exit.
    await ctx.database.db.update(runners).set({ status: 'terminated', terminatedAt: new Date() }).where(eq(runners.id, running))

    const deleted = await del()
    t.equal(deleted.statusCode, 204)
    t.equal(deleted.body, '')
    t.equal((await get(project.name)).statusCode, 404)
    const left = async (table: typeof runners | typeof sessions) =>
      (await ctx.database.db.select({ n: count() }).from(table).where(eq(table.projectName, project.name)))[0]!.n
    t.equal(await left(runners), 0, 'the runners are gone')
    t.equal(await left(sessions), 0, 'the sessions are gone')
    t.equal((await app.inject({ method: 'GET', url: `/api/v1/runners/${pending}` })).statusCode, 404)
    const [deletedEvent] = await ctx.database.db.select().from(events).where(and(eq(events.entityId, project.name), eq(events.eventType, 'project.deleted')))
    t.ok(deletedEvent, 'the deletion is in the audit log')
    t.hasStrict((await del()).json(), { status: 404, code: 'PROJECT_NOT_FOUND' }, 'a second delete is 404')
    const again = await create({ name: project.name, path: project.path })
    t.equal(again.statusCode, 201, 'the name and the path are free again')
  })

  t.test('quota: PUT sets maxConcurrentRunners and launches obey it', async t => {
    const project = await createProject(t, ctx)
    const put = (payload: object, name = project.name) => app.inject({ method: 'PUT', url: `/api/v1/projects/${name}/quota`, payload })
    const res = await put({ maxConcurrentRunners: 1 })
    t.equal(res.statusCode, 200)
    t.hasStrict(res.json(), { name: project.name, maxConcurrentRunners: 1 })
    t.equal((await get(project.name)).json().maxConcurrentRunners, 1)
    await launch(project.name)
    const refused = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'generic-test' } })
    t.hasStrict(refused.json(), { status: 429, code: 'QUOTA_EXCEEDED' })
    t.equal((await put({ maxConcurrentRunners: 2 })).statusCode, 200)
    await launch(project.name)
    t.hasStrict((await put({ maxConcurrentRunners: 0 })).json(), { maxConcurrentRunners: 0 }, 'zero is allowed: no new launches')
    t.hasStrict((await put({ maxConcurrentRunners: 3 }, 'no-such-project')).json(), { status: 404, code: 'PROJECT_NOT_FOUND' })
    for (const bad of [{ maxConcurrentRunners: -1 }, { maxConcurrentRunners: 10_001 }, { maxConcurrentRunners: 2.5 }, { maxConcurrentRunners: '2' }, {}]) {
      t.hasStrict((await put(bad)).json(), { status: 400, code: 'VALIDATION_FAILED' }, `${JSON.stringify(bad)} is refused`)
    }
    t.equal((await get(project.name)).json().maxConcurrentRunners, 0, 'refusals changed nothing')
  })

  t.test('reserved names are refused in any case', async t => {
    for (const name of ['list', 'get', 'create', 'delete', 'LIST', 'Delete']) {
      const res = await create({ name, path: newDir(t) })
      t.equal(res.statusCode, 400, `${name} -> 400`)
      t.hasStrict(res.json(), { code: 'INVALID_ARGUMENT' })
      t.match(res.json().detail, /reserved/)
    }
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/projects/list' })).statusCode, 200, '/projects/list stays the WebUI list')
  })

  t.test('counters are computed from runners and sessions', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
    const ids = [await launch(project.name), await launch(project.name), await launch(project.name)]
    t.equal((await stop(ids[2]!)).statusCode, 202)
    await ctx.database.db.update(runners).set({ tokensUsed: 100 }).where(eq(runners.id, ids[0]!))
    await ctx.database.db.update(runners).set({ tokensUsed: 250 }).where(eq(runners.id, ids[2]!))
    await insertSession(ctx, { id: `${project.name}-a`, projectName: project.name, runnerId: ids[0]! })
    await insertSession(ctx, { id: `${project.name}-b`, projectName: project.name, runnerId: ids[1]! })
    const other = await createProject(t, ctx)
    await launch(other.name)
    await insertSession(ctx, { id: `${other.name}-a`, projectName: other.name })

    t.hasStrict((await get(project.name)).json(), { status: 'active', totalRunners: 3, activeRunners: 2, totalSessions: 2, totalTokens: 350 })
    const listed = (await app.inject({ method: 'GET', url: '/api/v1/projects' })).json().projects.find((p: { name: string }) => p.name === project.name)
    t.hasStrict(listed, { totalRunners: 3, activeRunners: 2, totalSessions: 2, totalTokens: 350 }, 'the list has the same counters')
    t.hasStrict((await get(other.name)).json(), { totalRunners: 1, activeRunners: 1, totalSessions: 1, totalTokens: 0 }, 'counts do not leak between projects')
    for (const id of ids.slice(0, 2)) await stop(id)
    t.hasStrict((await get(project.name)).json(), { status: 'idle', totalRunners: 3, activeRunners: 0, totalTokens: 350 }, 'stopped runners still count in the totals')
  })
})
