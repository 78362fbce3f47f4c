// Connect over HTTP/1.1 against the listening Fastify app (the HTTP port): every service,
// parity with REST on the same data, errors as Connect codes with the REST stable codes, and
// oversized or malformed requests refused cleanly.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { NodeService } from '../../../src/gen/stratavore/v1/node_pb.js'
import { ProjectService, ProjectStatus } from '../../../src/gen/stratavore/v1/project_pb.js'
import { ConversationMode, DesiredState, RunnerService, RunnerStatus } from '../../../src/gen/stratavore/v1/runner_pb.js'
import { SessionService } from '../../../src/gen/stratavore/v1/session_pb.js'
import { SystemService } from '../../../src/gen/stratavore/v1/system_pb.js'
import { build, tempDir, withToken } from '../../helpers/app.js'
import { backendName } from '../../helpers/database.js'
import { createProject, insertSession, uniqueName } from '../../helpers/fixtures.js'
import { failureOf } from './helpers.js'

t.test(`Connect on the HTTP port, ${backendName()}`, async t => {
  const { app, ctx, token } = await build(t)
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })
  const transport = createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [withToken(token)] })
  const projects = createClient(ProjectService, transport)
  const runners = createClient(RunnerService, transport)
  const sessions = createClient(SessionService, transport)
  const system = createClient(SystemService, transport)
  const rest = async (method: 'GET' | 'POST', url: string, payload?: object) => (await app.inject({ method, url, ...(payload ? { payload } : {}) })).json()

  t.test('projects: create, get, list, quota, archive, delete', async t => {
    const dir = join(tempDir(t), 'work')
    mkdirSync(dir)
    const name = uniqueName('rpc')
    const { project } = await projects.createProject({ name, path: dir, description: 'made over RPC', tags: ['a', 'b'] })
    t.match(project, { name, description: 'made over RPC', tags: ['a', 'b'], status: ProjectStatus.IDLE, maxConcurrentRunners: 5 })
    t.ok(project?.createdAt, 'created_at is a Timestamp')
    t.notOk(project?.archivedAt, 'archived_at unset while not archived')
    t.equal((await projects.getProject({ name })).project?.path, (await rest('GET', `/api/v1/projects/${name}`)).path, 'same path as REST')

    const listed = await projects.listProjects({})
    t.same(listed.projects.map(p => p.name).sort(), (await rest('GET', '/api/v1/projects')).projects.map((p: { name: string }) => p.name).sort(), 'same projects as REST')
    t.ok((await projects.listProjects({ status: ProjectStatus.IDLE })).projects.some(p => p.name === name))
    t.notOk((await projects.listProjects({ status: ProjectStatus.ARCHIVED })).projects.some(p => p.name === name))

    t.equal((await projects.setQuota({ name, maxConcurrentRunners: 7 })).project?.maxConcurrentRunners, 7)
    t.match(await failureOf(projects.createProject({ name, path: dir })), { code: 'AlreadyExists', detail: 'PROJECT_EXISTS' })
    const archived = (await projects.archiveProject({ name })).project
    t.equal(archived?.status, ProjectStatus.ARCHIVED)
    t.ok(archived?.archivedAt)
    await projects.deleteProject({ name })
    t.match(await failureOf(projects.getProject({ name })), { code: 'NotFound', detail: 'PROJECT_NOT_FOUND', message: `project not found: ${name}` })
  })

  t.test('runners: launch, get, list with the REST cursor, stop', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
    const { runner } = await runners.launchRunner({
      project: project.name, agent: 'generic-test', flags: ['--verbose'], environment: { FOO: 'bar', API_TOKEN: 'secret' }, conversationMode: ConversationMode.NEW,
    })
    t.match(runner, { project: project.name, status: RunnerStatus.PENDING, desiredState: DesiredState.RUNNING, flags: ['--verbose'], conversationMode: ConversationMode.NEW, headless: false })
    t.same(runner?.environment, { FOO: 'bar', API_TOKEN: '********' }, 'secret-looking values are masked')
    t.equal(runner?.stopTimeoutSeconds, undefined, 'a null becomes an unset optional')
    t.equal((await runners.getRunner({ id: runner!.id })).runner?.id, runner!.id)
    t.same((await rest('GET', `/api/v1/runners/${runner!.id}`)).environment, runner!.environment, 'masked the same way as REST')

    const second = (await runners.launchRunner({ project: project.name, agent: 'generic-test' })).runner!
    const page1 = await runners.listRunners({ project: project.name, limit: 1 })
    t.equal(page1.total, 2)
    t.same(page1.runners.map(r => r.id), [second.id], 'newest first')
    t.ok(page1.nextCursor)
    t.equal(page1.nextCursor, (await rest('GET', `/api/v1/runners?project=${project.name}&limit=1`)).nextCursor, 'the same cursor as REST')
    const page2 = await runners.listRunners({ project: project.name, limit: 1, cursor: page1.nextCursor! })
    t.same(page2.runners.map(r => r.id), [runner!.id])
    t.equal(page2.nextCursor, undefined, 'unset on the last page')
    t.equal((await runners.listRunners({ project: project.name, status: RunnerStatus.RUNNING })).total, 0)

    const stopped = (await runners.stopRunner({ id: runner!.id, timeoutSeconds: 5 })).runner!
    t.equal(stopped.status, RunnerStatus.TERMINATED, 'a pending runner stops at once')
    t.match(await failureOf(runners.stopRunner({ id: runner!.id })), { code: 'FailedPrecondition', detail: 'RUNNER_NOT_ACTIVE' })
    t.match(await failureOf(runners.watchRunnerOutput({ runnerId: second.id })[Symbol.asyncIterator]().next()), { code: 'FailedPrecondition', detail: 'RUNNER_NOT_STARTED' })
    t.match(await failureOf(runners.watchRunnerOutput({ runnerId: '00000000-0000-7000-8000-000000000000' })[Symbol.asyncIterator]().next()), { code: 'NotFound' })
  })

  t.test('errors map to Connect codes with the stable REST codes', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 1 })
    await runners.launchRunner({ project: project.name, agent: 'generic-test' })
    t.match(await failureOf(runners.launchRunner({ project: project.name, agent: 'generic-test' })), { code: 'ResourceExhausted', detail: 'QUOTA_EXCEEDED' })
    t.match(await failureOf(runners.launchRunner({ project: 'no-such-project', agent: 'generic-test' })), { code: 'NotFound', detail: 'PROJECT_NOT_FOUND' })
    t.match(await failureOf(runners.launchRunner({ project: project.name, agent: 'nope' })), { code: 'InvalidArgument', detail: 'UNKNOWN_AGENT' })
    for (const environment of [{ LD_PRELOAD: '/x.so' }, { lower: 'x' }] as Array<Record<string, string>>) {
      const restAnswer = await rest('POST', '/api/v1/runners', { project: project.name, agent: 'generic-test', environment })
      t.match(await failureOf(runners.launchRunner({ project: project.name, agent: 'generic-test', environment })), { code: 'InvalidArgument', detail: restAnswer.code }, `${Object.keys(environment)[0]}: as REST`)
    }
    // Refused by the REST schemas before any use case runs.
    const invalid = [
      runners.launchRunner({ project: 'has.dot' }),
      runners.launchRunner({ project: project.name, flags: Array.from({ length: 65 }, () => '-v') }),
      runners.launchRunner({ project: project.name, maxRestartAttempts: 101 }),
      runners.launchRunner({ project: project.name, runtimeType: 'docker' }),
      runners.getRunner({ id: 'not-a-uuid' }),
      runners.listRunners({ limit: 0 }),
      runners.listRunners({ limit: 501 }),
      runners.stopRunner({ id: '00000000-0000-7000-8000-000000000000', timeoutSeconds: 3601 }),
      projects.setQuota({ name: project.name, maxConcurrentRunners: -1 }),
      projects.createProject({ name: 'x', path: '' }),
      sessions.listSessions({ limit: 1001 }),
    ]
    for (const [i, call] of invalid.entries()) t.match(await failureOf(call), { code: 'InvalidArgument', detail: 'VALIDATION_FAILED' }, `invalid request ${i}`)
    t.match(await failureOf(runners.launchRunner({ project: project.name, maxRestartAttempts: 101 })), { message: 'max_restart_attempts must be <= 100' }, 'the message names the proto field')
    t.match(await failureOf(runners.launchRunner({ project: project.name, prompt: 'a\u0000b' })), { code: 'InvalidArgument', detail: 'INVALID_STRING' })
    t.match(await failureOf(runners.listRunners({ status: 99 as RunnerStatus })), { code: 'InvalidArgument', message: /unknown enum value 99/ })
    t.match(await failureOf(runners.listRunners({ cursor: 'bm9wZQ' })), { code: 'InvalidArgument', detail: 'INVALID_CURSOR' })
    t.match(await failureOf(createClient(NodeService, transport).reportHeartbeats({ nodeId: 'n1', heartbeats: [] })), { code: 'PermissionDenied', detail: 'PERMISSION_DENIED' }, 'a supervisor\'s method takes only a node\'s credential, not the admin\'s')
  })

  t.test('sessions: list and get', async t => {
    const project = await createProject(t, ctx)
    const runner = (await runners.launchRunner({ project: project.name, agent: 'generic-test' })).runner!
    await insertSession(ctx, { id: `${project.name}.s1`, projectName: project.name, runnerId: runner.id, tokensUsed: 1234 })
    await insertSession(ctx, { id: `${project.name}.s2`, projectName: project.name, resumable: false })
    const listed = await sessions.listSessions({ project: project.name })
    t.same(listed.sessions.map(s => s.id).sort(), [`${project.name}.s1`, `${project.name}.s2`])
    t.same((await sessions.listSessions({ project: project.name, resumable: true })).sessions.map(s => s.id), [`${project.name}.s1`])
    t.same((await sessions.listSessions({ runnerId: runner.id })).sessions.map(s => s.id), [`${project.name}.s1`])
    const { session } = await sessions.getSession({ id: `${project.name}.s1` })
    t.match(session, { project: project.name, runnerId: runner.id, tokensUsed: 1234n, resumable: true })
    t.equal(session?.endedAt, undefined)
    t.match(await failureOf(sessions.getSession({ id: 'no-such-session' })), { code: 'NotFound', detail: 'SESSION_NOT_FOUND' })
    t.match(await failureOf(sessions.listSessions({ project: 'no-such-project' })), { code: 'NotFound', detail: 'PROJECT_NOT_FOUND' })
  })

  t.test('system: status, metrics, reconcile, health, audit', async t => {
    const status = await system.getStatus({})
    t.equal(status.daemon?.id, ctx.daemonId)
    t.equal(status.daemon?.healthy, true)
    const restMetrics = await rest('GET', '/api/v1/metrics')
    const { metrics } = await system.getMetrics({})
    t.equal(metrics?.activeRunners, restMetrics.active_runners, 'the same count as REST')
    t.equal(metrics?.tokensUsed, BigInt(restMetrics.tokens_used))
    t.match(await system.reconcile({}), { reconciledCount: 0, lostRunnerIds: [], failedRunnerIds: [] })
    t.equal((await system.health({})).status, 'OK')
    const audit = await system.verifyAuditLog({})
    t.equal(audit.ok, true)
    t.ok(audit.checkedRows > 0)
    t.match(await failureOf(system.verifyAuditLog({ chain: '' })), { code: 'InvalidArgument', detail: 'VALIDATION_FAILED' })
  })

  t.test('oversized and malformed requests are refused cleanly', async t => {
    const project = await createProject(t, ctx)
    const huge = 'x'.repeat(ctx.config.daemon.body_limit_bytes + 1)
    t.match(await failureOf(runners.launchRunner({ project: project.name, prompt: huge })), { code: 'ResourceExhausted' })
    const post = (path: string, contentType: string, body: string | Uint8Array) =>
      fetch(`${baseUrl}/stratavore.v1.${path}`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${token}` }, body })
    const garbage = await post('ProjectService/GetProject', 'application/proto', new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))
    // Connect, like grpc-go, calls an undecodable message INTERNAL; the message says what failed.
    t.equal(garbage.status, 500)
    t.match(await garbage.json(), { code: 'internal', message: /^parse binary: / })
    const badJson = await post('ProjectService/GetProject', 'application/json', '{"name":')
    t.equal(badJson.status, 400)
    t.match(await badJson.json(), { code: 'invalid_argument' })
    const unknownField = await post('ProjectService/GetProject', 'application/json', '{"colour":"blue"}')
    t.equal(unknownField.status, 400, 'unknown JSON fields are refused, as REST refuses them')
    const unknownMethod = await post('ProjectService/Nope', 'application/json', '{}')
    t.equal(unknownMethod.status, 404)
    // The REST routes keep their own JSON parser beside the Connect one.
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/reconcile', headers: { 'content-type': 'application/json' }, payload: '' })).statusCode, 200)
  })
})
