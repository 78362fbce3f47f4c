// A supervisor that needs only the API, as real separate processes: a daemon (API, relay,
// reconciler; PGlite or Postgres) and `stratavored supervisor --server <url> --join-token <t>`
// with its own data dir and no database or broker settings. It joins, runs the runners the API
// hands it (a fake agent, and the real Codex CLI against the mock model API for its tokens and
// session), reports exits; a used or revoked join token is refused; a restart reuses the node
// credential it kept; the credential reaches nothing but its own node's supervision calls.
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import t from 'tap'
import { SupervisionService } from '../../src/gen/stratavore/v1/supervision_pb.js'
import { startMockOpenAI } from '../fixtures/mock-openai.js'
import { cliAvailable, codexBin, codexEnv } from '../helpers/agent-clis.js'
import { tempDir } from '../helpers/temp-dir.js'
import { failOnCrashLines, startDaemon, waitHealthy, type Daemon } from '../helpers/daemon.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { FAKE_AGENT } from '../helpers/temp-dir.js'
import { openTcpProxy } from '../helpers/tcp-proxy.js'

// Four processes start here (the daemon, the node twice, two refused nodes), each seconds under load.
t.setTimeout(600_000)

const json = { 'content-type': 'application/json' }
type RunnerDto = { id: string, status: string, nodeId: string | null, exitCode: number | null, generation: number, inputTokens: number, outputTokens: number, cacheReadTokens: number, sessionId: string | null }

const until = async <T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe()
    if (found) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 150))
  }
}

const supervisionClient = (url: string, credential: string) => {
  const bearer: Interceptor = next => request => { request.header.set('authorization', `Bearer ${credential}`); return next(request) }
  return createClient(SupervisionService, createConnectTransport({ baseUrl: url, httpVersion: '1.1', interceptors: [bearer] }))
}

const codeOf = async (call: Promise<unknown>) => {
  try {
    await call
    return 'ok'
  } catch (err) {
    return err instanceof ConnectError ? Code[err.code] : String(err)
  }
}

t.test(`a supervisor with only the API's URL and a join token, on ${backendName()}`, async t => {
  const codex = cliAvailable(t, codexBin)
  const openai = await startMockOpenAI(t)
  const home = tempDir(t)
  const projectDir = join(home, 'work')
  mkdirSync(projectDir)
  const codexHome = codex ? codexEnv(t, { baseUrl: openai.url }) : null
  const agents = {
    fake: { kind: 'generic', command: [process.execPath, FAKE_AGENT], allow_flags: ['*'] },
    // Config may not set PATH: the processes' own PATH is the test's.
    ...(codex && codexHome ? { codex: { kind: 'codex', command: [codex], env: Object.fromEntries(Object.entries(codexHome.env).filter(([k]) => k !== 'PATH')) } } : {}),
  }
  const daemonConfig = join(home, 'daemon.yaml')
  writeFileSync(daemonConfig, JSON.stringify({ daemon: { heartbeat_interval_seconds: 1 }, docker: { prometheus: { enabled: false } }, agents }))
  const databaseUrl = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const api = await startDaemon(['api', 'relay', 'reconciler', '--config', daemonConfig], {
    HOME: home, STRATAVORE_DATA_DIR: join(home, 'daemon'), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  })
  t.teardown(async () => { api.child.kill('SIGTERM'); await api.exited })
  failOnCrashLines(t, api, 'the daemon')
  await waitHealthy(api, 180_000)
  const rest = async (method: string, path: string, body?: object, headers = api.headers(json)) => {
    const res = await fetch(`${api.url}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) })
    return { status: res.status, body: await res.json().catch(() => null) as Record<string, unknown> }
  }
  const runner = async (id: string) => (await rest('GET', `/api/v1/runners/${id}`, undefined, api.headers())).body as unknown as RunnerDto
  const joinToken = async (body: object = {}) => (await rest('POST', '/api/v1/nodes/join-tokens', body)).body as { token: string, joinToken: { id: string }, command: string }

  // The node's host: its own data dir and config, no DATABASE_URL, no AMQP_URL.
  const nodeConfig = join(home, 'node.yaml')
  writeFileSync(nodeConfig, JSON.stringify({ daemon: { heartbeat_interval_seconds: 1 }, supervisor: { node_name: 'far-away', on_shutdown: 'handover', detect_agent_versions: false }, agents }))
  const nodeDir = join(home, 'node')
  const startNode = async (args: string[], dataDir = nodeDir) => {
    const node: Daemon = await startDaemon(['supervisor', '--config', nodeConfig, ...args], { HOME: home, STRATAVORE_DATA_DIR: dataDir })
    t.teardown(async () => { node.child.kill('SIGTERM'); await node.exited })
    failOnCrashLines(t, node, 'the remote supervisor')
    return node
  }
  const nodeReady = () => until('the node to be ready', async () => {
    const nodes = (await rest('GET', '/api/v1/nodes', undefined, api.headers())).body.nodes as Array<{ id: string, name: string, status: string }>
    return nodes.find(n => n.name === 'far-away' && n.status === 'ready')
  })

  // The node reaches the API through a proxy the test can cut, as a network partition would.
  const proxy = await openTcpProxy(t, { host: '127.0.0.1', port: Number(new URL(api.url).port) })
  const server = `http://127.0.0.1:${proxy.port}`

  const made = await joinToken()
  const command = made.command.replace(/^stratavored /, '').split(' ')
  t.same(command, ['supervisor', '--server', api.url, '--join-token', made.token], 'the token comes with the command that joins')
  let node = await startNode(['--server', server, '--join-token', made.token])
  const ready = await nodeReady()
  const identityFile = join(nodeDir, 'node-identity.json')
  const identity = JSON.parse(readFileSync(identityFile, 'utf8')) as { id: string, credential: string }
  t.equal(identity.id, ready.id, 'the node credential is kept in its data dir')
  t.equal(statSync(identityFile).mode & 0o777, 0o600, 'readable by its user alone')
  t.equal((await rest('POST', '/api/v1/projects', { name: 'remote', path: projectDir })).status, 201)

  await t.test('a runner runs on the remote node and its exit is reported', async t => {
    const launched = (await rest('POST', '/api/v1/runners', { project: 'remote', agent: 'fake', flags: ['--exit-code', '0', '--after-ms', '500'] })).body as unknown as RunnerDto
    const done = await until('the runner to end', async () => { const r = await runner(launched.id); return r.status === 'terminated' || r.status === 'failed' ? r : null }, 20_000)
    t.match(done, { status: 'terminated', nodeId: identity.id, exitCode: 0 })
    const failing = (await rest('POST', '/api/v1/runners', { project: 'remote', agent: 'fake', flags: ['--exit-code', '7'] })).body as unknown as RunnerDto
    const failed = await until('the failing runner to fail', async () => { const r = await runner(failing.id); return r.status === 'failed' ? r : null })
    t.match(failed, { nodeId: identity.id, exitCode: 7 }, 'a failing agent is restarted, then failed, all over the API')
  })

  await t.test('tokens and the session of a real agent CLI are counted', { skip: codex ? false : 'no Codex CLI' }, async t => {
    const launched = (await rest('POST', '/api/v1/runners', { project: 'remote', agent: 'codex', prompt: 'Remember the word papaya' })).body as unknown as RunnerDto
    const done = await until('the codex run to end', async () => { const r = await runner(launched.id); return r.status === 'terminated' || r.status === 'failed' ? r : null }, 120_000)
    t.match(done, { status: 'terminated', nodeId: identity.id, inputTokens: 500, outputTokens: 30, cacheReadTokens: 1500 }, 'the exact tokens the mock reported')
    t.match(done.sessionId, /^[0-9a-f-]{36}$/, 'with its session')
    const session = (await rest('GET', `/api/v1/sessions/${done.sessionId}`, undefined, api.headers())).body
    t.match(session, { runnerId: launched.id, agent: 'codex' }, 'recorded as a session')
  })

  const other = await joinToken()
  const otherJoin = (await rest('POST', '/api/v1/nodes/join', { token: other.token, name: 'bystander', hostname: 'b.example', version: '1', capacity: 1 }, json)).body as { nodeId: string, credential: string }

  const idle = (await rest('POST', '/api/v1/runners', { project: 'remote', agent: 'fake', node: 'far-away', flags: ['--echo'] })).body as unknown as RunnerDto
  const running = await until('the idle runner to run', async () => { const r = await runner(idle.id); return r.status === 'running' ? r : null })
  t.equal(running.nodeId, identity.id)

  await t.test('a node credential reaches its own runners and nothing else', async t => {
    const mine = supervisionClient(api.url, identity.credential)
    const theirs = supervisionClient(api.url, otherJoin.credential)
    t.equal((await rest('GET', '/api/v1/runners', undefined, { authorization: `Bearer ${identity.credential}` })).status, 403, 'no user route')
    t.equal((await rest('POST', '/api/v1/runners', { project: 'remote', agent: 'fake' }, { ...json, authorization: `Bearer ${identity.credential}` })).status, 403, 'no launch')
    const report = { runner: { runnerId: idle.id, generation: BigInt(running.generation) }, status: 'terminated', reason: 'forged' }
    t.equal(await codeOf(theirs.reportExited(report)), 'PermissionDenied', "another node's runner: 403")
    t.equal(await codeOf(theirs.reportSession({ runner: report.runner, sessionId: 'x' })), 'PermissionDenied')
    t.equal(await codeOf(theirs.getTranscriptPosition({ sessionId: 'x' })), 'PermissionDenied', "and no session of another node's")
    t.same((await theirs.listAssignedRunners({})).runners, [], 'it sees only its own runners')
    t.same((await theirs.reportUsage({ usage: [{ runnerId: idle.id, generation: BigInt(running.generation), inputTokens: 999999n }] })).fencedRunnerIds, [idle.id], 'a heartbeat for it is refused')
    t.equal((await runner(idle.id)).status, 'running', 'nothing changed')
    t.equal((await runner(idle.id)).inputTokens, 0, 'nothing counted')
    t.ok((await mine.listAssignedRunners({})).runners.some(r => r.id === idle.id), 'its own node sees it')
    t.equal(await codeOf(supervisionClient(api.url, api.token).listAssignedRunners({})), 'PermissionDenied', 'an admin is no node')
  })

  await t.test('a used or revoked join token is refused, and changes nothing', async t => {
    const used = await startNode(['--server', api.url, '--join-token', made.token], join(home, 'node-used'))
    t.not((await used.exited).code, 0, 'the second use of a one-use token fails to start')
    t.match(used.output(), /JOIN_TOKEN_USED_UP|no uses left/)
    const revoked = await joinToken()
    t.equal((await rest('DELETE', `/api/v1/nodes/join-tokens/${revoked.joinToken.id}`, undefined, api.headers())).status, 200)
    const refused = await startNode(['--server', api.url, '--join-token', revoked.token], join(home, 'node-revoked'))
    t.not((await refused.exited).code, 0)
    t.match(refused.output(), /revoked/)
    const nodes = (await rest('GET', '/api/v1/nodes', undefined, api.headers())).body.nodes as unknown[]
    t.equal(nodes.length, 2, 'no node was added')
  })

  await t.test('cut off from the control plane, the node keeps its agents running and replays the exit it kept on disk', async t => {
    // Long enough to see it running and cut the node off before it ends, under any load.
    const ending = (await rest('POST', '/api/v1/runners', { project: 'remote', agent: 'fake', node: 'far-away', flags: ['--after-ms', '8000', '--exit-code', '0'] })).body as unknown as RunnerDto
    let last = ''
    const started = await until('the short runner to run', async () => { const r = await runner(ending.id); last = JSON.stringify(r); return r.status === 'running' ? r : null })
      .catch(err => { throw new Error(`${(err as Error).message}: ${last}\n${node.output().slice(-3000)}`) })
    proxy.partition()
    const kept = join(nodeDir, 'unreported.jsonl')
    await until('the exit to be kept on disk', async () => { try { return readFileSync(kept, 'utf8').includes(ending.id) } catch { return false } }, 30_000)
    t.equal(statSync(kept).mode & 0o777, 0o600, 'kept readable by its user alone')
    const idlePid = Number((await runner(idle.id) as unknown as { runtimeId: string }).runtimeId)
    t.doesNotThrow(() => process.kill(idlePid, 0), 'the other agent is still running')
    proxy.heal()
    const ended = await until('the kept exit to be replayed', async () => { const r = await runner(ending.id); return r.status === 'terminated' ? r : null }, 30_000)
    t.match(ended, { exitCode: 0, generation: started.generation }, 'recorded as it happened, not restarted as an orphan')
    await until('the buffer to empty', async () => readFileSync(kept, 'utf8') === '', 30_000)
    const idleAfter = await until('the other runner to beat again', async () => { const r = await runner(idle.id); return r.status === 'running' ? r : null }, 30_000)
    t.equal(idleAfter.generation, running.generation, 'the agent that kept running is the same runner life')
    t.doesNotThrow(() => process.kill(idlePid, 0), 'and the same process')
  })

  await t.test('a stopped node hands its runner over; its late report is fenced; restarted, it reuses its credential', async t => {
    node.child.kill('SIGTERM')
    t.same(await node.exited, { code: 0, signal: null }, 'the supervisor stops cleanly')
    const handed = await runner(idle.id)
    t.match(handed, { status: 'pending', nodeId: null }, 'handed over (supervisor.on_shutdown: handover)')
    t.ok(handed.generation > running.generation, 'in a new generation')
    const late = supervisionClient(api.url, identity.credential).reportExited({ runner: { runnerId: idle.id, generation: BigInt(running.generation) }, status: 'failed', reason: 'late' })
    t.equal(await codeOf(late), 'FailedPrecondition', 'a report about a runner that moved on: 409')
    t.equal((await runner(idle.id)).status, 'pending', 'and changes nothing')

    node = await startNode(['--server', server])
    await nodeReady()
    t.match(node.output(), /using the node credential in the data dir/)
    const again = await until('the runner to run again', async () => { const r = await runner(idle.id); return r.status === 'running' ? r : null })
    t.equal(again.nodeId, identity.id, 'the same node, without a new join token')
    t.equal(JSON.parse(readFileSync(identityFile, 'utf8')).credential, identity.credential, 'the same credential')
    t.equal((await rest('POST', `/api/v1/runners/${idle.id}/stop`, {})).status, 202)
    await until('the runner to stop', async () => (await runner(idle.id)).status === 'terminated')
  })
})
