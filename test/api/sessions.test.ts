import t from 'tap'
import { eq } from 'drizzle-orm'
import { sessions } from '../../src/adapters/db/schema.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject, insertSession } from '../helpers/fixtures.js'

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
const day = (iso: string) => new Date(`${iso}T00:00:00.000Z`)

t.test(`sessions on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const get = (url: string) => app.inject({ method: 'GET', url })
  const ids = async (query: string) => {
    const res = await get(`/api/v1/sessions${query}`)
    if (res.statusCode !== 200) throw new Error(`GET /api/v1/sessions${query}: ${res.statusCode} ${res.body}`)
    return res.json().sessions.map((s: { id: string }) => s.id) as string[]
  }

  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  const other = await createProject(t, ctx)
  const r1 = (await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')).id
  const r2 = (await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')).id
  const s = (suffix: string) => `${project.name}.${suffix}`
  // Last activity is the last message, or the start when there is none yet: `quiet` started
  // now and has no message, so it is the most recent.
  await insertSession(ctx, { id: s('old'), projectName: project.name, runnerId: r1, lastMessageAt: day('2024-01-01') })
  await insertSession(ctx, { id: s('ended'), projectName: project.name, runnerId: r1, lastMessageAt: day('2024-06-01'), endedAt: day('2024-06-02'), tokensUsed: 1234 })
  await insertSession(ctx, { id: s('closed'), projectName: project.name, runnerId: r2, lastMessageAt: day('2025-01-01'), resumable: false })
  await insertSession(ctx, { id: s('quiet'), projectName: project.name })
  await insertSession(ctx, { id: `${other.name}:only`, projectName: other.name, lastMessageAt: day('2030-01-01') })

  t.test('list: most recently active first, filtered by project', async t => {
    t.same(await ids(`?project=${project.name}`), [s('quiet'), s('closed'), s('ended'), s('old')])
    t.same(await ids(`?project=${other.name}`), [`${other.name}:only`], 'only that project')
    const all = await ids('')
    t.equal(all.length, 5, 'no filter lists every project')
    t.equal(all[0], `${other.name}:only`, 'ordered across projects too')
  })

  t.test('list: runnerId, resumable and limit', async t => {
    t.same(await ids(`?runnerId=${r1}`), [s('ended'), s('old')])
    t.same(await ids(`?runnerId=${r2}&project=${project.name}`), [s('closed')])
    t.same(await ids('?runnerId=00000000-0000-7000-8000-000000000000'), [], 'an unknown runner has no sessions')
    t.same(await ids(`?project=${project.name}&resumable=true`), [s('quiet'), s('ended'), s('old')], 'resumable: flagged resumable, ended or not')
    t.same(await ids(`?project=${project.name}&limit=2`), [s('quiet'), s('closed')], 'limit keeps the most recent')
    t.same(await ids(`?project=${project.name}&limit=1000`), [s('quiet'), s('closed'), s('ended'), s('old')])
  })

  t.test('list: bad filters are problems', async t => {
    const missing = await get('/api/v1/sessions?project=no-such-project')
    t.equal(missing.statusCode, 404)
    t.match(missing.headers['content-type'], /^application\/problem\+json/)
    t.hasStrict(missing.json(), { status: 404, code: 'PROJECT_NOT_FOUND' })
    for (const query of ['runnerId=not-a-uuid', 'limit=0', 'limit=1001', 'limit=ten', 'resumable=maybe', 'project=has.dot', 'colour=blue']) {
      const res = await get(`/api/v1/sessions?${query}`)
      t.equal(res.statusCode, 400, `?${query} -> 400`)
      t.hasStrict(res.json(), { status: 400, code: 'VALIDATION_FAILED' })
    }
  })

  t.test('get: the full session, or 404 SESSION_NOT_FOUND', async t => {
    const res = await get(`/api/v1/sessions/${s('ended')}`)
    t.equal(res.statusCode, 200)
    t.hasStrict(res.json(), {
      id: s('ended'), runnerId: r1, project: project.name, agent: 'claude', endedAt: '2024-06-02T00:00:00.000Z', lastMessageAt: '2024-06-01T00:00:00.000Z',
      messageCount: 0, tokensUsed: 1234, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, resumable: true, resumedFrom: null, summary: null,
    })
    t.match(res.json(), { startedAt: RFC3339, createdAt: RFC3339 })
    t.notOk('transcriptPath' in res.json(), 'the transcript path stays on the host')
    t.same((await get(`/api/v1/sessions?runnerId=${r1}`)).json().sessions[0], res.json(), 'list and get agree')

    t.hasStrict((await get(`/api/v1/sessions/${s('quiet')}`)).json(), { runnerId: null, endedAt: null, lastMessageAt: null }, 'unknowns are null on REST')
    t.equal((await get(`/api/v1/sessions/${other.name}:only`)).statusCode, 200, 'ids may hold ":" and "."')

    const missing = await get('/api/v1/sessions/no-such-session')
    t.equal(missing.statusCode, 404)
    t.match(missing.headers['content-type'], /^application\/problem\+json/)
    t.hasStrict(missing.json(), { status: 404, code: 'SESSION_NOT_FOUND' })
    t.equal((await get('/api/v1/sessions/-leading-dash')).statusCode, 400, 'a malformed id is 400')
    t.equal((await get(`/api/v1/sessions/${'x'.repeat(129)}`)).statusCode, 400, 'an over-long id is 400')
  })

  t.test('summary and resumedFrom are shown once known', async t => {
    await ctx.database.db.update(sessions).set({ summary: 'fixed the build', resumedFrom: s('old') }).where(eq(sessions.id, s('closed')))
    t.hasStrict((await get(`/api/v1/sessions/${s('closed')}`)).json(), { summary: 'fixed the build', resumedFrom: s('old'), resumable: false, runnerId: r2 })
  })
})
