// A remote node's activity and usage-limit reports over SupervisionService (ReportActivity,
// ReportUsageLimit), through the node's own RPC adapter against a listening API: recorded as the
// in-process supervisor records them (REST shows them, one event each), bad input refused with
// INVALID_ARGUMENT and nothing changed, another node's runner PERMISSION_DENIED, an old generation
// FAILED_PRECONDITION (null to the adapter, as the database adapter answers a moved-on runner).
// A pause that reaches other nodes (a usage limit, a budget) answers only the caller's runners.
import t from 'tap'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { eq } from 'drizzle-orm'
import { runners } from '../../src/adapters/db/schema.js'
import { credentialHash } from '../../src/adapters/supervisor/node-identity.js'
import { createRpcSupervision } from '../../src/adapters/supervisor/rpc-supervision.js'
import type { Runner } from '../../src/core/runners/runner.js'
import { SupervisionService } from '../../src/gen/stratavore/v1/supervision_pb.js'
import { build, withToken } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { eventsOf } from '../helpers/supervisor.js'
import { failureOf } from './rpc/helpers.js'

const NODE_A = '01900000-0000-7000-8000-00000000a0a0'
const NODE_B = '01900000-0000-7000-8000-00000000b0b0'
const CREDENTIAL_A = 'node-a-credential-of-enough-length-0000000'
const CREDENTIAL_B = 'node-b-credential-of-enough-length-0000000'
const HOUR = 3600_000

t.test(`activity and usage limits reported by a remote node on ${backendName()}`, async t => {
  const { app, ctx, token } = await build(t, config => {
    for (const [name, account] of [['limited', 'acct-remote'], ['solo', 'acct-solo']] as const) {
      config.agents[name] = { name, kind: 'generic', command: ['/bin/sleep', '3600'], env: {}, account }
    }
  })
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  for (const [id, name, credential] of [[NODE_A, 'remote-a', CREDENTIAL_A], [NODE_B, 'remote-b', CREDENTIAL_B]] as const) {
    await ctx.repos.supervision.registerNode({ id, name, hostname: name, version: 'test', capacity: 10, credentialHash: credentialHash(credential), attachUrl: 'ws://127.0.0.1:9', attachKey: 'k' })
  }
  /** A runner running on `node` in `generation`, as its supervisor would have made it. */
  const plant = async (node: string, agent = 'generic-test', generation = 2): Promise<Runner> => {
    const { id } = await ctx.runners.launch({ project: project.name, agent }, 'test')
    await ctx.database.db.update(runners).set({ nodeId: node, status: 'running', generation }).where(eq(runners.id, id))
    return ctx.runners.get(id)
  }
  const nodeA = createRpcSupervision({ serverUrl: baseUrl, credential: CREDENTIAL_A })
  const client = (credential: string) => createClient(SupervisionService, createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [withToken(credential)] }))
  const rawA = client(CREDENTIAL_A)
  const activityEvents = async (id: string) => (await eventsOf(ctx, id)).filter(e => e.type === 'runner.activity')
  const at = (seconds: number) => new Date(Date.UTC(2026, 11, 7, 12, 0, seconds))

  await t.test('ReportActivity records what the agent does, once per change', async t => {
    const r = await plant(NODE_A)
    const changed = await nodeA.activity(r, 2, { state: 'waiting_permission', source: 'hook', detail: 'Bash: rm -rf build' }, at(1))
    t.match(changed?.runner, { id: r.id, generation: 2, activity: { state: 'waiting_permission', source: 'hook', detail: 'Bash: rm -rf build', since: at(1), resetsAt: null } })
    t.same(changed?.previous, { state: 'unknown', source: null, detail: null, since: null, resetsAt: null }, 'what it did before, for the human-wait metric')
    const res = await app.inject({ method: 'GET', url: `/api/v1/runners/${r.id}` })
    t.match(res.json().activity, { state: 'waiting_permission', source: 'hook', detail: 'Bash: rm -rf build', since: at(1).toISOString() }, 'REST shows it')
    t.same((await activityEvents(r.id)).map(e => e.data), [
      { runnerId: r.id, state: 'waiting_permission', previousState: 'unknown', source: 'hook', detail: 'Bash: rm -rf build', since: at(1).toISOString(), resetsAt: null },
    ], 'one runner.activity event, with the catalogue\'s data names')

    t.equal(await nodeA.activity(r, 2, { state: 'waiting_permission', source: 'hook', detail: 'Bash: rm -rf build' }, at(2)), null, 'the same again is no change')
    t.equal(await nodeA.activity(r, 2, { state: 'waiting_permission', source: 'hook', detail: 'Claude needs your permission', keepsDetail: true }, at(3)), null,
      'a generic follow-up keeps the precise detail')
    t.equal(await nodeA.activity(r, 3, { state: 'idle', source: 'hook', detail: null }, at(3)), null, 'a generation the runner has not reached changes nothing')
    t.equal((await activityEvents(r.id)).length, 1)

    const before = Date.now()
    const unset = await rawA.reportActivity({ runner: { runnerId: r.id, generation: 2n }, state: 'rate_limited', source: 'stream', resetsAt: timestampFromDate(at(3600)) })
    t.equal(unset.changed, true)
    const now = await ctx.runners.get(r.id)
    t.match(now.activity, { state: 'rate_limited', source: 'stream', detail: null, resetsAt: at(3600) })
    t.ok(now.activity.since!.getTime() >= before - 1000, 'no since: the API\'s clock')
    t.match(unset.previous, { state: 'waiting_permission', source: 'hook', detail: 'Bash: rm -rf build' })
  })

  await t.test('bad input is refused with INVALID_ARGUMENT and changes nothing', async t => {
    const r = await plant(NODE_A)
    await nodeA.activity(r, 2, { state: 'working', source: 'hook', detail: 'Edit' }, at(1))
    const ref = { runnerId: r.id, generation: 2n }
    const good = { runner: ref, state: 'idle', source: 'hook' }
    for (const [what, request] of [
      ['an unknown state', { ...good, state: 'sleeping' }],
      ['an unspecified state', { ...good, state: '' }],
      ['an unknown source', { ...good, source: 'guess' }],
      ['a 10 KB detail', { ...good, detail: 'x'.repeat(10_240) }],
      ['a NUL byte in the detail', { ...good, detail: 'a\u0000b' }],
      ['a since beyond year 9999', { ...good, since: { seconds: 300_000_000_000n, nanos: 0 } }],
      ['a resets_at before 1970', { ...good, resetsAt: { seconds: -10n, nanos: 0 } }],
      ['a malformed runner id', { ...good, runner: { runnerId: 'not-a-runner', generation: 2n } }],
      ['a negative generation', { ...good, runner: { runnerId: r.id, generation: -1n } }],
      ['no runner', { state: 'idle', source: 'hook' }],
    ] as const) {
      t.match(await failureOf(rawA.reportActivity(request)), { code: 'InvalidArgument', detail: 'INVALID_ARGUMENT' }, what)
    }
    t.match(await failureOf(rawA.reportActivity({ ...good, state: 'sleeping' })), { message: /state must be one of working, waiting_permission/ }, 'the message names what is allowed')
    t.match((await ctx.runners.get(r.id)).activity, { state: 'working', detail: 'Edit' }, 'nothing changed')
    t.equal((await activityEvents(r.id)).length, 1, 'and no event was written')

    const long = await rawA.reportActivity({ ...good, detail: `  Bash:\n  ${'y'.repeat(1000)}  ` })
    t.equal(long.runner?.activity?.detail?.length, 500, 'a detail under the refusal bound is kept as one line of 500 characters')
    t.match(long.runner?.activity?.detail, /^Bash: y+…$/)
  })

  await t.test('another node\'s runner, an old generation, an unknown runner, a user token', async t => {
    const theirs = await plant(NODE_B)
    const mine = await plant(NODE_A, 'generic-test', 3)
    const signal = { state: 'working', source: 'hook' }
    t.match(await failureOf(rawA.reportActivity({ runner: { runnerId: theirs.id, generation: 2n }, ...signal })), { code: 'PermissionDenied', detail: 'RUNNER_NOT_YOURS' })
    t.match(await failureOf(rawA.reportActivity({ runner: { runnerId: mine.id, generation: 2n }, ...signal })), { code: 'FailedPrecondition', detail: 'RUNNER_FENCED' })
    t.equal(await nodeA.activity({ ...mine, generation: 2 }, 2, { state: 'working', source: 'hook', detail: null }, at(1)), null, 'fenced: null to the node, which stops that process')
    const unknown = mine.id.slice(0, -1) + (mine.id.endsWith('0') ? '1' : '0')
    t.match(await failureOf(rawA.reportActivity({ runner: { runnerId: unknown, generation: 1n }, ...signal })), { code: 'NotFound', detail: 'RUNNER_NOT_FOUND' })
    t.match(await failureOf(client(token).reportActivity({ runner: { runnerId: mine.id, generation: 3n }, ...signal })), { code: 'PermissionDenied' }, 'the admin is not a node')
    t.match(await failureOf(rawA.reportUsageLimit({ runner: { runnerId: theirs.id, generation: 2n } })), { code: 'PermissionDenied', detail: 'RUNNER_NOT_YOURS' })
    t.match(await failureOf(client(token).reportUsageLimit({ runner: { runnerId: mine.id, generation: 3n } })), { code: 'PermissionDenied' })
    for (const id of [theirs.id, mine.id]) t.match(await ctx.runners.get(id), { status: 'running', activity: { state: 'unknown' } }, 'nothing changed')
  })

  await t.test('ReportUsageLimit pauses the runner and its account\'s runners, and answers this node\'s', async t => {
    const reporter = await plant(NODE_A, 'limited')
    const sibling = await plant(NODE_A, 'limited')
    const elsewhere = await plant(NODE_B, 'limited')
    const other = await plant(NODE_A)
    const ref = { runnerId: reporter.id, generation: 2n }

    // Refused first: nothing is paused by bad input or an old generation.
    t.match(await failureOf(rawA.reportUsageLimit({ runner: ref, message: 'z'.repeat(10_240) })), { code: 'InvalidArgument', detail: 'INVALID_ARGUMENT' }, 'a 10 KB message')
    t.match(await failureOf(rawA.reportUsageLimit({ runner: ref, resetsAt: { seconds: 300_000_000_000n, nanos: 0 } })), { code: 'InvalidArgument' }, 'a reset beyond year 9999')
    t.match(await failureOf(rawA.reportUsageLimit({ runner: { runnerId: 'nope', generation: 2n } })), { code: 'InvalidArgument' }, 'a malformed runner id')
    t.match(await failureOf(rawA.reportUsageLimit({ runner: ref, source: 'telepathy' })), { code: 'InvalidArgument' }, 'an unknown source')
    t.match(await failureOf(rawA.reportUsageLimit({ runner: { runnerId: reporter.id, generation: 1n } })), { code: 'FailedPrecondition', detail: 'RUNNER_FENCED' })
    const fenced = await nodeA.pauseForUsageLimit({ ...reporter, generation: 1 }, 1, { resetsAt: null, message: null, source: 'stream' })
    t.same(fenced.paused, [], 'fenced: the node pauses nothing')
    for (const r of [reporter, sibling, elsewhere]) t.equal((await ctx.runners.get(r.id)).status, 'running', 'nothing paused yet')

    // The agent's own signal first (what the in-process supervisor records too), then the limit.
    const resetsAt = new Date(Date.now() + HOUR)
    await nodeA.activity(reporter, 2, { state: 'rate_limited', source: 'stream', detail: 'You\'ve hit your limit', resetsAt }, new Date())
    const outcome = await nodeA.pauseForUsageLimit(reporter, 2, { resetsAt, message: 'You\'ve hit your 5-hour limit · resets 7:29pm (UTC)', source: 'transcript' })
    t.same(outcome.resetsAt, resetsAt)
    t.equal(outcome.adjusted, 'none')
    t.same(outcome.paused.map(r => r.id).sort(), [reporter.id, sibling.id].sort(), 'this node\'s paused runners; another node\'s are paused but not listed')
    t.match(outcome.paused.find(r => r.id === reporter.id), { status: 'paused', pauseReason: 'usage_limit', generation: 2, resetsAt }, 'what the heartbeat tick needs to end the agent')

    const res = await app.inject({ method: 'GET', url: `/api/v1/runners/${reporter.id}` })
    t.match(res.json(), { status: 'paused', pauseReason: 'usage_limit', resetsAt: resetsAt.toISOString(), activity: { state: 'rate_limited', resetsAt: resetsAt.toISOString(), source: 'transcript', detail: /5-hour limit/ } }, 'rate_limited, in the words and from the source the node gave')
    t.match(await ctx.runners.get(elsewhere.id), { status: 'paused', pauseReason: 'usage_limit', resetsAt }, 'the account\'s runner on another node is paused too')
    t.match(await ctx.runners.get(other.id), { status: 'running' }, 'another account\'s runner is not')
    const paused = (await eventsOf(ctx, reporter.id)).find(e => e.type === 'runner.paused')
    t.match(paused?.data, { reason: 'usage_limit', resets_at: resetsAt.toISOString(), account: 'acct-remote', reported_by: reporter.id, reset_adjusted: 'none', message: 'You\'ve hit your 5-hour limit · resets 7:29pm (UTC)', node_id: NODE_A })

    const solo = await plant(NODE_A, 'solo')
    const unknownReset = await rawA.reportUsageLimit({ runner: { runnerId: solo.id, generation: 2n } })
    t.equal(unknownReset.adjusted, 'unknown', 'no reset given: a fixed wait')
    t.same(unknownReset.paused.map(r => r.id), [solo.id])
  })

  await t.test('ReportUsage answers only this node\'s runners a budget paused', async t => {
    const budgeted = await createProject(t, ctx, { maxConcurrentRunners: 10 })
    const made = await app.inject({ method: 'POST', url: '/api/v1/budgets', payload: { scope: 'project', scopeId: budgeted.name, period: 'day', limitTokens: 100 } })
    t.equal(made.statusCode, 201)
    const planted = async (node: string) => {
      const { id } = await ctx.runners.launch({ project: budgeted.name, agent: 'generic-test' }, 'test')
      await ctx.database.db.update(runners).set({ nodeId: node, status: 'running', generation: 2 }).where(eq(runners.id, id))
      return id
    }
    const mine = await planted(NODE_A)
    const theirs = await planted(NODE_B)
    const outcome = await nodeA.heartbeat([{ runnerId: mine, generation: 2, cpuPercent: 1, memoryMb: 0, inputTokens: 500, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }])
    t.same(outcome.accepted, [mine])
    t.same(outcome.paused.map(r => r.id), [mine], 'this node\'s runner, not another node\'s (its flags and environment are not this credential\'s)')
    t.match(await ctx.runners.get(theirs), { status: 'paused', pauseReason: 'budget' }, 'which is paused all the same')
  })
})
