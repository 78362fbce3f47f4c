// Nodes dial out, in one process: the API, a supervisor's attach channel on loopback, and the
// node's end of the tunnel (tunnel-client.ts) with the node's credential. The node's registered
// attach URL is made unreachable, so attach and output can only come through the tunnel; the
// registry's refusals (another node's, unknown and expired sessions) and the frame codec too.
import { eq } from 'drizzle-orm'
import t from 'tap'
import type { WebSocket } from 'ws'
import { WebSocket as Client } from 'ws'
import { nodes } from '../../src/adapters/db/schema.js'
import { mintAttachTicket } from '../../src/adapters/supervisor/attach-ticket.js'
import { attachKeyOf, loadNodeIdentity } from '../../src/adapters/supervisor/node-identity.js'
import { createNodeTunnels } from '../../src/adapters/supervisor/node-tunnels.js'
import { startNodeTunnel } from '../../src/adapters/supervisor/tunnel-client.js'
import { createTunnelDecoder, encodeMessage, encodeSignal } from '../../src/adapters/supervisor/tunnel-frames.js'
import { buildApp } from '../../src/api/app.js'
import { adminTokenOf, asAdmin, bearer } from '../helpers/app.js'
import { openAttach } from '../helpers/attach-client.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, waitForRunner } from '../helpers/supervisor.js'

const quiet = { debug () {}, info () {}, warn () {}, error () {} }

const until = async (what: string, probe: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

t.test(`attach and output through a node's tunnel on ${backendName()}`, async t => {
  const { ctx } = await buildSupervisedContext(t)
  const app = asAdmin(await buildApp(ctx), ctx)
  const admin = bearer(adminTokenOf(ctx))
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const server = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const base = `${server.replace('http', 'ws')}/api/v1/runners`
  const identity = loadNodeIdentity(ctx.config.dataDir)!
  const local = (await ctx.repos.supervision.nodeAttachInfo(identity.id))!.attachUrl!
  // Nothing listens on port 9 (discard): a dial from the API fails.
  await ctx.database.db.update(nodes).set({ attachUrl: 'ws://127.0.0.1:9' }).where(eq(nodes.id, identity.id))

  const project = await createProject(t, ctx)
  const runner = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: ['--flood', '100000', '--echo'] }, 'test')
  await waitForRunner(ctx, runner.id, 'running')

  const dialed = await openAttach(`${base}/${runner.id}/attach`, admin)
  t.equal((await dialed.closed).code, 1011, 'without a tunnel the API dials, and the address is unreachable')

  const tunnel = startNodeTunnel({ serverUrl: server, credential: identity.credential, attachUrl: local, log: quiet })
  t.teardown(() => tunnel.close())
  await until('the node\'s control socket', () => ctx.nodeTunnels.has(identity.id))

  const writer = await openAttach(`${base}/${runner.id}/attach?cols=100&rows=30`, admin)
  await writer.waitFor(c => c.output().includes('READY'), 'the scrollback through the tunnel')
  t.match(writer.frames[0], { type: 'hello', role: 'writer', cols: 100, rows: 30 })
  t.ok(writer.output().length > 100_000, 'a scrollback over the 64 KiB frame limit arrives whole')
  writer.socket.send(Buffer.from('hello tunnel'))
  await writer.waitFor(c => c.output().includes('ECHO hello tunnel'), 'the echo')
  writer.socket.send(JSON.stringify({ type: 'input', data: 'as text' }))
  await writer.waitFor(c => c.output().includes('ECHO as text'), 'a text frame relayed as text')

  const output = await app.inject({ method: 'GET', url: `/api/v1/runners/${runner.id}/output` })
  t.equal(output.statusCode, 200)
  t.match(output.body, /ECHO hello tunnel/, 'GET …/output through the tunnel')

  // What the node's attach channel refuses comes back as the dialed socket's refusal would.
  const refusal = async (runnerId: string, key: string) => {
    const socket = ctx.nodeTunnels.dial(identity.id, `/v1/runners/${runnerId}/attach`, mintAttachTicket(key, runnerId, 'viewer'))
    const status = await new Promise(resolve => socket.on('unexpected-response', (_req: unknown, res: { statusCode?: number }) => { resolve(res.statusCode); socket.terminate() }))
    await new Promise(resolve => socket.on('close', resolve))
    return status
  }
  const gone = '00000000-0000-7000-8000-000000000000'
  t.equal(await refusal(gone, attachKeyOf(identity.credential)), 410, 'a runner the node has no process for: 410')
  t.equal(await refusal(runner.id, 'not the key'), 401, 'a ticket the node cannot verify: 401')

  // A node's frame over 64 KiB on its control socket closes it (1009), and the node reconnects.
  const big = new Client(`${server.replace('http', 'ws')}/api/v1/nodes/tunnel`, { headers: bearer(identity.credential) })
  await new Promise(resolve => big.once('open', resolve))
  big.send(Buffer.alloc(70 * 1024))
  t.equal(await new Promise(resolve => big.once('close', code => resolve(code))), 1009, 'an oversized frame is refused')
  await until('the node to reconnect', () => ctx.nodeTunnels.has(identity.id), 20_000)

  await ctx.runners.stop(runner.id, {}, 'test')
  t.equal((await writer.closed).code, 1000, 'the terminal closes cleanly when the runner ends')
  t.match(writer.frames.at(-1), { type: 'exit' })
})

t.test('the registry pairs a session with its own node only, once, in time', async t => {
  const tunnels = createNodeTunnels({ log: quiet, dialTimeoutMs: 300 })
  t.teardown(() => tunnels.close())
  const sent: string[] = []
  const control = { readyState: 1, send: (s: string) => sent.push(s), on () {}, close () {} } as unknown as WebSocket
  tunnels.connect('node-a', control)
  t.notOk(tunnels.has('node-b'))
  const socket = tunnels.dial('node-a', '/v1/runners/x/attach', 'ticket')
  const { session, type, path, ticket } = JSON.parse(sent[0]!) as Record<string, string>
  t.same({ type, path, ticket }, { type: 'dial', path: '/v1/runners/x/attach', ticket: 'ticket' })
  const intruder = { close () { throw new Error('touched') } } as unknown as WebSocket
  t.notOk(tunnels.owns('node-b', session!), 'another node does not own it')
  t.notOk(tunnels.accept('node-b', session!, intruder), 'another node\'s socket is refused')
  t.notOk(tunnels.accept('node-a', 'unknown', intruder), 'an unknown session is refused')
  t.ok(tunnels.owns('node-a', session!), 'and the session still waits for its node')
  const events: string[] = []
  socket.on('error', () => events.push('error'))
  const closed = new Promise<number>(resolve => socket.on('close', (code: number) => resolve(code)))
  t.equal(await closed, 1006, 'unanswered, it fails as an unreachable dial does')
  t.same(events, ['error'])
  t.notOk(tunnels.owns('node-a', session!), 'and is gone')

  const orphan = tunnels.dial('node-c', '/v1/runners/x/attach', 't')
  t.equal(await new Promise(resolve => { orphan.on('error', () => {}); orphan.on('close', resolve) }), 1006, 'a node with no tunnel here fails at once')
})

t.test('frames: chunked, reassembled, bounded', async t => {
  const data = Buffer.alloc(200_000, 7)
  const chunks = encodeMessage(data, true)
  t.ok(chunks.every(c => c.length <= 64 * 1024), 'every chunk fits the API\'s frame limit')
  const decode = createTunnelDecoder()
  const items = chunks.map(decode)
  t.same(items.slice(0, -1), chunks.slice(0, -1).map(() => null))
  t.same(items.at(-1), { kind: 'message', data, isBinary: true })
  t.same(decode(encodeMessage(Buffer.from('{}'), false)[0]!), { kind: 'message', data: Buffer.from('{}'), isBinary: false })
  t.same(decode(encodeMessage(Buffer.alloc(0), true)[0]!), { kind: 'message', data: Buffer.alloc(0), isBinary: true }, 'an empty message')
  t.same(decode(encodeSignal({ type: 'refused', status: 410 })), { kind: 'signal', signal: { type: 'refused', status: 410 } })
  t.throws(() => createTunnelDecoder(10)(encodeMessage(Buffer.alloc(11), true)[0]!), /over 10 bytes/, 'an oversized message')
  t.throws(() => decode(Buffer.from([0x04, 0x7b])), /not JSON/)
  t.throws(() => decode(Buffer.concat([Buffer.from([0x04]), Buffer.from('{"type":"dial"}')])), /unknown tunnel signal/)
  t.throws(() => decode(Buffer.alloc(0)), /empty/)
})
