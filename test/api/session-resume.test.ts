// Launching a runner that resumes a recorded session: only in its project, with an agent of its
// kind that can resume, and never while another runner holds it (409 SESSION_HAS_LIVE_RUNNER,
// naming that runner so a client attaches instead). Every refusal writes nothing.
import t from 'tap'
import { count } from 'drizzle-orm'
import { runners } from '../../src/adapters/db/schema.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject, insertSession } from '../helpers/fixtures.js'

t.test(`resuming sessions on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const launch = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/runners', payload })
  const runnerCount = async () => (await ctx.database.db.select({ n: count() }).from(runners))[0]!.n
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  const other = await createProject(t, ctx)
  const id = (suffix: string) => `${project.name}.${suffix}`
  await insertSession(ctx, { id: id('ended'), projectName: project.name, endedAt: new Date() })
  await insertSession(ctx, { id: id('codex'), projectName: project.name, agent: 'codex', endedAt: new Date() })

  t.test('an ended session resumes; while its runner is active a second resume is 409 naming it', async t => {
    const first = await launch({ project: project.name, conversationMode: 'resume', sessionId: id('ended') })
    t.equal(first.statusCode, 201, first.body)
    t.match(first.json(), { agent: 'claude', conversationMode: 'resume', sessionId: id('ended') }, 'the session\'s agent when the launch names none')
    const before = await runnerCount()
    const second = await launch({ project: project.name, agent: 'claude', conversationMode: 'resume', sessionId: id('ended') })
    t.equal(second.statusCode, 409)
    t.match(second.headers['content-type'], /^application\/problem\+json/)
    t.hasStrict(second.json(), { status: 409, code: 'SESSION_HAS_LIVE_RUNNER' })
    t.match(second.json().detail, first.json().id, 'the live runner is named')
    t.equal(await runnerCount(), before, 'nothing written')
    // Concurrent resumes of one session: one wins.
    await ctx.runners.stop(first.json().id, {}, 'test')
    const race = await Promise.all([1, 2, 3].map(() => launch({ project: project.name, conversationMode: 'resume', sessionId: id('ended') })))
    t.same(race.map(r => r.statusCode).sort(), [201, 409, 409])
    await ctx.runners.stop(race.find(r => r.statusCode === 201)!.json().id, {}, 'test')
  })

  t.test('refusals: wrong project, wrong agent kind, an agent that cannot resume', async t => {
    await insertSession(ctx, { id: id('generic'), projectName: project.name, agent: 'generic-test', resumable: false, endedAt: new Date() })
    await insertSession(ctx, { id: id('closed'), projectName: project.name, resumable: false })
    const before = await runnerCount()
    const cases: Array<[object, number, string]> = [
      [{ project: other.name, conversationMode: 'resume', sessionId: id('ended') }, 400, 'SESSION_NOT_IN_PROJECT'],
      [{ project: project.name, agent: 'codex', conversationMode: 'resume', sessionId: id('ended') }, 400, 'SESSION_AGENT_MISMATCH'],
      [{ project: project.name, agent: 'claude', conversationMode: 'resume', sessionId: id('codex') }, 400, 'SESSION_AGENT_MISMATCH'],
      [{ project: project.name, conversationMode: 'resume', sessionId: id('generic') }, 409, 'SESSION_NOT_RESUMABLE'],
      [{ project: project.name, agent: 'generic-test', conversationMode: 'resume', sessionId: id('ended') }, 409, 'SESSION_NOT_RESUMABLE'],
      [{ project: project.name, conversationMode: 'resume', sessionId: id('closed') }, 409, 'SESSION_NOT_RESUMABLE'],
      [{ project: project.name, conversationMode: 'resume', sessionId: '-bad' }, 400, 'VALIDATION_FAILED'],
    ]
    for (const [payload, status, code] of cases) {
      const res = await launch(payload)
      t.equal(res.statusCode, status, `${JSON.stringify(payload)} -> ${status}`)
      t.hasStrict(res.json(), { status, code }, res.body)
    }
    t.equal(await runnerCount(), before, 'nothing written')
  })

  t.test('an id never recorded (a conversation started outside Stratavore) goes to the agent as given', async t => {
    const res = await launch({ project: project.name, agent: 'codex', conversationMode: 'resume', sessionId: 'outside-1' })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { agent: 'codex', sessionId: 'outside-1' })
  })
})
