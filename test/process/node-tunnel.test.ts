// Nodes dial out (issue 10, item 3), as real separate processes: a daemon (API; PGlite or
// Postgres) and `stratavored supervisor --server <url> --join-token <t>` whose attach channel
// listens on loopback and advertises an address nothing listens on, so the API could not dial
// it. Attach and output reach the node's runner through the tunnel the node opened to the API:
// the scrollback (over the API's 64 KiB frame limit, in chunks), an echo both ways, the close
// when the runner ends. Only the node's credential opens the tunnel's sockets, and a session
// only for its own node. Over TLS when the API has it: the node's tunnel is wss.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { createClient, type Interceptor } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import t from 'tap'
import { WebSocket } from 'ws'
import { RunnerService } from '../../src/gen/stratavore/v1/runner_pb.js'
import { openAttach } from '../helpers/attach-client.js'
import { makePki } from '../helpers/certs.js'
import { failOnCrashLines, freePort, startDaemon, waitHealthy, type Daemon } from '../helpers/daemon.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { FAKE_AGENT, tempDir } from '../helpers/temp-dir.js'

t.setTimeout(300_000)

const json = { 'content-type': 'application/json' }
type RunnerDto = { id: string, status: string, nodeId: string | null }

const until = async <T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe()
    if (found) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 150))
  }
}

/** The HTTP status a WebSocket upgrade is refused with, or 101 when it opens (then closed). */
const upgradeStatus = (url: string, headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
  const socket = new WebSocket(url, { headers })
  socket.once('open', () => { socket.close(); resolve(101) })
  socket.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); socket.terminate() })
  socket.once('error', err => { if (socket.readyState !== WebSocket.CLOSED) reject(err) })
})

t.test(`attach and output reach a node through the tunnel it opened, on ${backendName()}`, async t => {
  const home = tempDir(t)
  const projectDir = join(home, 'work')
  mkdirSync(projectDir)
  const agents = { fake: { kind: 'generic', command: [process.execPath, FAKE_AGENT], allow_flags: ['*'] } }
  const daemonConfig = join(home, 'daemon.yaml')
  writeFileSync(daemonConfig, JSON.stringify({ daemon: { heartbeat_interval_seconds: 1 }, docker: { prometheus: { enabled: false } }, agents }))
  const databaseUrl = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const api = await startDaemon(['api', 'relay', 'reconciler', '--config', daemonConfig], {
    HOME: home, STRATAVORE_DATA_DIR: join(home, 'daemon'), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  })
  t.teardown(async () => { api.child.kill('SIGTERM'); await api.exited })
  failOnCrashLines(t, api, 'the daemon')
  await waitHealthy(api, 180_000)
  const wsUrl = api.url.replace(/^http/, 'ws')
  const rest = async (method: string, path: string, body?: object, headers = api.headers(json)) => {
    const res = await fetch(`${api.url}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) })
    return { status: res.status, body: await res.json().catch(() => null) as Record<string, unknown> }
  }
  const runner = async (id: string) => (await rest('GET', `/api/v1/runners/${id}`, undefined, api.headers())).body as unknown as RunnerDto

  // The node: loopback only, and an advertised attach URL where nothing listens (port 9,
  // discard): were the API to dial the node, attach would fail.
  const nodeConfig = join(home, 'node.yaml')
  writeFileSync(nodeConfig, JSON.stringify({
    daemon: { heartbeat_interval_seconds: 1 },
    supervisor: { node_name: 'behind-nat', listen_host: '127.0.0.1', advertise_url: 'ws://127.0.0.1:9', detect_agent_versions: false, on_shutdown: 'stop' },
    agents,
  }))
  const nodeDir = join(home, 'node')
  const made = (await rest('POST', '/api/v1/nodes/join-tokens', {})).body as { token: string }
  const node: Daemon = await startDaemon(['supervisor', '--config', nodeConfig, '--server', api.url, '--join-token', made.token], { HOME: home, STRATAVORE_DATA_DIR: nodeDir })
  t.teardown(async () => { node.child.kill('SIGTERM'); await node.exited })
  failOnCrashLines(t, node, 'the node')
  await until('the node to be ready', async () => {
    const nodes = (await rest('GET', '/api/v1/nodes', undefined, api.headers())).body.nodes as Array<{ name: string, status: string }>
    return nodes.find(n => n.name === 'behind-nat' && n.status === 'ready')
  })
  await until('the tunnel to open', async () => /tunnel to the API open/.test(node.output()), 30_000)
  const identity = JSON.parse(readFileSync(join(nodeDir, 'node-identity.json'), 'utf8')) as { id: string, credential: string }
  t.equal((await rest('POST', '/api/v1/projects', { name: 'nat', path: projectDir })).status, 201)

  // Over 64 KiB of scrollback: one message on the attach channel, chunks through the tunnel.
  const launched = (await rest('POST', '/api/v1/runners', { project: 'nat', agent: 'fake', node: 'behind-nat', flags: ['--flood', '100000', '--echo'] })).body as unknown as RunnerDto
  const running = await until('the runner to run', async () => { const r = await runner(launched.id); return r.status === 'running' ? r : null })
  t.equal(running.nodeId, identity.id)

  await t.test('attach shows the scrollback and echoes input, through the tunnel', async t => {
    const term = await openAttach(`${wsUrl}/api/v1/runners/${launched.id}/attach`, api.headers())
    await term.waitFor(c => c.output().includes('READY'), 'the scrollback')
    t.match(term.frames[0], { type: 'hello', role: 'writer' })
    t.ok(term.output().length > 100_000, `the whole scrollback (${term.output().length} bytes) in one piece`)
    term.socket.send(Buffer.from('through the tunnel'))
    await term.waitFor(c => c.output().includes('ECHO through the tunnel'), 'the echo: API → node → PTY and back')
    term.socket.send(JSON.stringify({ type: 'resize', cols: 101, rows: 33 }))
    await term.waitFor(c => c.output().includes('SIZE 101 33'), 'a resize frame as text')
    const viewer = await openAttach(`${wsUrl}/api/v1/runners/${launched.id}/attach?mode=read`, api.headers())
    await viewer.waitFor(c => c.output().includes('ECHO through the tunnel'), 'a second session at once')
    t.match(viewer.frames[0], { type: 'hello', role: 'viewer' })
    viewer.socket.close()
    term.socket.close()
    await Promise.all([term.closed, viewer.closed])
  })

  await t.test('output over REST and RPC, through the tunnel', async t => {
    const res = await fetch(`${api.url}/api/v1/runners/${launched.id}/output`, { headers: api.headers() })
    t.equal(res.status, 200)
    const text = await res.text()
    t.ok(text.includes('READY') && text.includes('ECHO through the tunnel'), 'GET /api/v1/runners/{id}/output has the scrollback')
    const bearer: Interceptor = next => request => { request.header.set('authorization', `Bearer ${api.token}`); return next(request) }
    const rpc = createClient(RunnerService, createConnectTransport({ baseUrl: api.url, httpVersion: '1.1', interceptors: [bearer] }))
    let seen = ''
    for await (const chunk of rpc.watchRunnerOutput({ runnerId: launched.id, follow: false })) seen += Buffer.from(chunk.data).toString('utf8')
    t.ok(seen.includes('ECHO through the tunnel'), 'WatchRunnerOutput streams it')
  })

  await t.test('only a node credential opens the tunnel, and a session only for its own node', async t => {
    const other = (await rest('POST', '/api/v1/nodes/join-tokens', {})).body as { token: string }
    const bystander = (await rest('POST', '/api/v1/nodes/join', { token: other.token, name: 'bystander', hostname: 'b.example', version: '1', capacity: 1 }, json)).body as { credential: string }
    const session = 'A'.repeat(24)
    t.equal(await upgradeStatus(`${wsUrl}/api/v1/nodes/tunnel`, {}), 401, 'no credential')
    t.equal(await upgradeStatus(`${wsUrl}/api/v1/nodes/tunnel/${session}`, {}), 401)
    t.equal(await upgradeStatus(`${wsUrl}/api/v1/nodes/tunnel`, api.headers()), 403, 'the admin token is no node')
    t.equal(await upgradeStatus(`${wsUrl}/api/v1/nodes/tunnel/${session}`, { authorization: `Bearer ${identity.credential}` }), 404, 'an unknown session')
    t.equal(await upgradeStatus(`${wsUrl}/api/v1/nodes/tunnel/${session}`, { authorization: `Bearer ${bystander.credential}` }), 404)
    t.equal(await upgradeStatus(`${wsUrl}/api/v1/nodes/tunnel/short`, { authorization: `Bearer ${identity.credential}` }), 400, 'a malformed session id')
    // Another node's control socket changes nothing for this one.
    const intruder = new WebSocket(`${wsUrl}/api/v1/nodes/tunnel`, { headers: { authorization: `Bearer ${bystander.credential}` } })
    const dials: string[] = []
    intruder.on('message', data => dials.push(data.toString()))
    await new Promise((resolve, reject) => { intruder.once('open', resolve); intruder.once('error', reject) })
    const term = await openAttach(`${wsUrl}/api/v1/runners/${launched.id}/attach?mode=read`, api.headers())
    await term.waitFor(c => c.output().includes('READY'), 'the scrollback, with another node\'s tunnel open')
    t.same(dials, [], 'another node is never asked to dial this node\'s runner')
    term.socket.close()
    intruder.close()
    await term.closed
  })

  await t.test('the terminal closes when the runner ends', async t => {
    const term = await openAttach(`${wsUrl}/api/v1/runners/${launched.id}/attach`, api.headers())
    await term.waitFor(c => c.output().includes('READY'), 'the scrollback')
    t.equal((await rest('POST', `/api/v1/runners/${launched.id}/stop`, {})).status, 202)
    t.equal((await term.closed).code, 1000, 'closed 1000 through the tunnel')
    t.match(term.frames.at(-1), { type: 'exit' }, 'after the exit frame')
  })
})

/** A JSON request over https trusting `ca`: the status and the parsed body. */
const httpsJson = (url: string, ca: Buffer, method: string, headers: Record<string, string>, body?: object) => new Promise<{ status: number, body: Record<string, unknown> }>((resolve, reject) => {
  const req = httpsRequest(url, { method, ca, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) } }, res => {
    let text = ''
    res.on('data', d => { text += d })
    res.on('end', () => { let parsed = {}; try { parsed = JSON.parse(text) as object } catch { /* not JSON */ } resolve({ status: res.statusCode ?? 0, body: parsed as Record<string, unknown> }) })
  })
  req.on('error', reject)
  req.end(body ? JSON.stringify(body) : undefined)
})

t.test(`over TLS: the node's tunnel is wss when the API is https, on ${backendName()}`, async t => {
  const pki = await makePki(t)
  const ca = readFileSync(pki.ca.cert)
  const home = tempDir(t)
  const projectDir = join(home, 'work')
  mkdirSync(projectDir)
  const agents = { fake: { kind: 'generic', command: [process.execPath, FAKE_AGENT], allow_flags: ['*'] } }
  const daemonConfig = join(home, 'daemon.yaml')
  writeFileSync(daemonConfig, JSON.stringify({ daemon: { heartbeat_interval_seconds: 1 }, docker: { prometheus: { enabled: false } }, agents }))
  const databaseUrl = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const port = await freePort()
  const api = await startDaemon(['api', 'relay', 'reconciler', '--config', daemonConfig], {
    HOME: home, STRATAVORE_DATA_DIR: join(home, 'daemon'), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    STRATAVORE_DAEMON_HTTP_PORT: String(port), STRATAVORE_DAEMON_TLS_CERT_FILE: pki.server.cert, STRATAVORE_DAEMON_TLS_KEY_FILE: pki.server.key,
  })
  t.teardown(async () => { api.child.kill('SIGTERM'); await api.exited })
  failOnCrashLines(t, api, 'the daemon')
  const url = `https://localhost:${port}`
  const rest = (method: string, path: string, body?: object) => httpsJson(`${url}${path}`, ca, method, api.headers(), body)
  await until('the API over https', async () => (await rest('GET', '/api/v1/health').catch(() => ({ status: 0 }))).status === 200, 180_000)

  const nodeConfig = join(home, 'node.yaml')
  writeFileSync(nodeConfig, JSON.stringify({
    daemon: { heartbeat_interval_seconds: 1 },
    supervisor: { node_name: 'tls-node', advertise_url: 'ws://127.0.0.1:9', detect_agent_versions: false, on_shutdown: 'stop' },
    agents,
  }))
  const made = (await rest('POST', '/api/v1/nodes/join-tokens', {})).body as { token: string }
  const node: Daemon = await startDaemon(['supervisor', '--config', nodeConfig, '--server', url, '--join-token', made.token], {
    HOME: home, STRATAVORE_DATA_DIR: join(home, 'node'), NODE_EXTRA_CA_CERTS: pki.ca.cert,
  })
  t.teardown(async () => { node.child.kill('SIGTERM'); await node.exited })
  failOnCrashLines(t, node, 'the node')
  await until('the tunnel to open over wss', async () => /"server":"wss:\/\/localhost:\d+".*tunnel to the API open/.test(node.output()), 60_000)
    .catch(err => { throw new Error(`${(err as Error).message}\n${node.output().slice(-3000)}`) })
  t.equal((await rest('POST', '/api/v1/projects', { name: 'tls', path: projectDir })).status, 201)
  const launched = (await rest('POST', '/api/v1/runners', { project: 'tls', agent: 'fake', node: 'tls-node', flags: ['--echo'] })).body as unknown as RunnerDto
  await until('the runner to run', async () => ((await rest('GET', `/api/v1/runners/${launched.id}`)).body as unknown as RunnerDto).status === 'running')

  const socket = new WebSocket(`wss://localhost:${port}/api/v1/runners/${launched.id}/attach`, { ca, headers: api.headers() })
  let output = ''
  socket.on('message', (data, isBinary) => { if (isBinary) output += data.toString() })
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  await until('the scrollback over wss', async () => output.includes('READY'), 15_000)
  socket.send(Buffer.from('encrypted both ways'))
  await until('the echo over wss', async () => output.includes('ECHO encrypted both ways'), 15_000)
  t.pass('attach over wss reaches the node through its wss tunnel')
  socket.close()
})
