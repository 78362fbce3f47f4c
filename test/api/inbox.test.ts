// Runner activity on the read side, on both backends: the fenced activity transition (only a
// running runner of that generation, only a real change, one runner.activity event each, with
// the catalogue's data names), then GET /api/v1/inbox (oldest wait first, a viewer may read
// it, bad input refused), the activity on REST, RPC-mapped and Lex WebUI runners.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { runners } from '../../src/adapters/db/schema.js'
import { createTransitions } from '../../src/core/supervisor/transitions.js'
import type { Runner } from '../../src/core/runners/runner.js'
import { toRunnerProto } from '../../src/api/rpc/mappers.js'
import { ActivityState } from '../../src/gen/stratavore/v1/runner_pb.js'
import { bearer, build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { eventsOf } from '../helpers/supervisor.js'

const NODE = '01900000-0000-7000-8000-0000000000bb'

t.test(`runner activity and the inbox on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const project = await createProject(t, ctx)
  const other = await createProject(t, ctx)
  await ctx.repos.supervision.registerNode({ id: NODE, name: 'activity-node', hostname: 'h', version: 'test', capacity: 5, credentialHash: 'h', attachUrl: 'ws://127.0.0.1:1', attachKey: 'k' })
  const transitions = createTransitions({ uow: ctx.uow, clock: ctx.clock, ids: ctx.ids, node: { id: NODE } })
  const runningRunner = async (projectName: string): Promise<Runner> => {
    const { id } = await ctx.runners.launch({ project: projectName, agent: 'generic-test' }, 'test')
    await ctx.database.db.update(runners).set({ nodeId: NODE, status: 'running', generation: 1 }).where(eq(runners.id, id))
    return ctx.runners.get(id)
  }
  const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, seconds))

  const first = await runningRunner(project.name)
  const second = await runningRunner(project.name)
  const elsewhere = await runningRunner(other.name)

  await t.test('the transition is fenced, deduplicated and writes one event per change', async t => {
    t.same(first.activity, { state: 'unknown', source: null, detail: null, since: null, resetsAt: null }, 'unknown until the agent says')
    t.ok(await transitions.activity(first, 1, { state: 'working', source: 'hook', detail: null }, at(0)))
    t.equal(await transitions.activity(first, 1, { state: 'working', source: 'stream', detail: null }, at(1)), null, 'the same state again is no change')
    t.equal(await transitions.activity(first, 2, { state: 'idle', source: 'hook', detail: null }, at(1)), null, 'another generation changes nothing')
    const changed = await transitions.activity(first, 1, { state: 'waiting_permission', source: 'hook', detail: 'Bash: rm -rf build' }, at(2))
    t.match(changed?.runner.activity, { state: 'waiting_permission', source: 'hook', detail: 'Bash: rm -rf build', since: at(2) })
    t.equal(await transitions.activity(first, 1, { state: 'waiting_permission', source: 'hook', detail: 'Claude needs your permission to use Bash', keepsDetail: true }, at(3)), null,
      'a generic follow-up keeps the precise detail')
    const events = (await eventsOf(ctx, first.id)).filter(e => e.type === 'runner.activity')
    t.same(events.map(e => e.data), [
      { runnerId: first.id, state: 'working', previousState: 'unknown', source: 'hook', detail: null, since: at(0).toISOString(), resetsAt: null },
      { runnerId: first.id, state: 'waiting_permission', previousState: 'working', source: 'hook', detail: 'Bash: rm -rf build', since: at(2).toISOString(), resetsAt: null },
    ], 'the catalogue\'s data names')
    await transitions.activity(second, 1, { state: 'waiting_input', source: 'hook', detail: 'Which branch?' }, at(1))
    await transitions.activity(elsewhere, 1, { state: 'rate_limited', source: 'stream', detail: null, resetsAt: at(60) }, at(1))
    t.match((await ctx.runners.get(elsewhere.id)).activity, { state: 'rate_limited', resetsAt: at(60) })
  })

  await t.test('GET /api/v1/inbox: the waiting runners, oldest wait first, with what they ask', async t => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/inbox' })
    t.equal(res.statusCode, 200)
    const items = res.json().items as Array<Record<string, unknown>>
    t.same(items.map(i => i.runnerId), [second.id, first.id], 'rate-limited waits for the clock, not a person; the oldest wait first')
    t.match(items[0], { project: project.name, agent: 'generic-test', nodeId: NODE, state: 'waiting_input', source: 'hook', detail: 'Which branch?', since: at(1).toISOString() })
    t.ok((items[0]!.waitingSeconds as number) > 0)
    const scoped = await app.inject({ method: 'GET', url: `/api/v1/inbox?project=${other.name}` })
    t.same(scoped.json(), { items: [] })
  })

  await t.test('a viewer may read it; no credential, or a bad query, gets a clear 4xx', async t => {
    const { secret: token } = await ctx.tokens.create({ name: 'inbox-viewer', role: 'viewer' }, 'test')
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/inbox', headers: bearer(token) })).statusCode, 200)
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/inbox', headers: { authorization: undefined } })).statusCode, 401)
    for (const url of ['/api/v1/inbox?project=../etc', '/api/v1/inbox?limit=0', '/api/v1/inbox?state=idle']) {
      const res = await app.inject({ method: 'GET', url })
      t.equal(res.statusCode, 400, url)
      t.match(res.headers['content-type'], /problem\+json/)
    }
  })

  await t.test('the activity on REST, RPC and Lex WebUI runners', async t => {
    const rest = (await app.inject({ method: 'GET', url: `/api/v1/runners/${first.id}` })).json()
    t.same(rest.activity, { state: 'waiting_permission', source: 'hook', detail: 'Bash: rm -rf build', since: at(2).toISOString(), resetsAt: null })
    const webui = (await app.inject({ method: 'GET', url: `/api/v1/runners/get?id=${first.id}` })).json()
    t.same(webui.runner.activity, rest.activity, 'an extra field on the Lex WebUI runner')
    t.equal(webui.runner.status, 'running', 'its own fields unchanged')
    const proto = toRunnerProto(await ctx.runners.get(elsewhere.id))
    t.equal(proto.activity?.state, ActivityState.RATE_LIMITED)
    t.ok(proto.activity?.resetsAt)
  })

  await t.test('an ended process clears the activity, and a late signal changes nothing', async t => {
    const ended = await transitions.exited(first, 1, 'terminated', { code: 0, signal: null }, 'stopped')
    t.equal(ended?.activity.state, 'unknown')
    t.equal(await transitions.activity(first, 1, { state: 'working', source: 'hook', detail: null }, at(9)), null)
    t.same((await app.inject({ method: 'GET', url: '/api/v1/inbox' })).json().items.map((i: { runnerId: string }) => i.runnerId), [second.id])
  })
})
