// Heartbeats reported over the API by a supervisor that authenticates with its node's
// credential: REST (409 names the fenced runners) and RPC (fenced_runner_ids), and the runner
// output stream over RPC from a real supervised terminal.
import t from 'tap'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { eq } from 'drizzle-orm'
import { buildApp } from '../../src/api/app.js'
import { runners } from '../../src/adapters/db/schema.js'
import { credentialHash } from '../../src/adapters/supervisor/node-identity.js'
import { NodeService } from '../../src/gen/stratavore/v1/node_pb.js'
import { RunnerService } from '../../src/gen/stratavore/v1/runner_pb.js'
import { adminTokenOf, asAdmin, withToken } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, waitForRunner } from '../helpers/supervisor.js'
import { failureOf } from './rpc/helpers.js'

const NODE = '01900000-0000-7000-8000-0000000a11ce'
const CREDENTIAL = 'a-node-credential-of-enough-length-000000'

t.test(`node heartbeats and runner output over the API on ${backendName()}`, async t => {
  const { ctx } = await buildSupervisedContext(t)
  const app = asAdmin(await buildApp(ctx), ctx)
  t.teardown(() => app.close())
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })
  const project = await createProject(t, ctx, { maxConcurrentRunners: 10 })
  await ctx.repos.supervision.registerNode({
    id: NODE, name: 'remote-node', hostname: 'remote', version: 'test', capacity: 10, credentialHash: credentialHash(CREDENTIAL), attachUrl: 'ws://127.0.0.1:9', attachKey: 'k',
  })
  const plant = async (status: string, generation: number) => {
    const r = await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
    // Kept off the local supervisor: this runner belongs to the remote node.
    await ctx.database.db.update(runners).set({ nodeId: NODE, status, generation }).where(eq(runners.id, r.id))
    return r.id
  }
  const alive = await plant('running', 2)
  const lost = await plant('lost', 1)
  const finished = await plant('failed', 1)
  const beat = (runnerId: string, generation: number) => ({ runnerId, generation, cpuPercent: 1, memoryMb: 10, inputTokens: 5, outputTokens: 5, cacheReadTokens: 0, cacheCreationTokens: 0 })
  const post = (body: unknown, credential: string | null = CREDENTIAL) => app.inject({
    method: 'POST', url: `/api/v1/nodes/${NODE}/heartbeats`, payload: body as object, headers: { authorization: credential ? `Bearer ${credential}` : undefined },
  })

  const ok = await post({ heartbeats: [beat(alive, 2), beat(lost, 1)] })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { accepted: [alive], recovered: [lost] }, 'a lost runner that beats again is recovered')
  t.equal((await ctx.runners.get(lost)).status, 'running')

  // An id no runner has: alive's with another last digit (replacing it with '0' was alive itself one time in 16).
  const unknown = alive.slice(0, -1) + (alive.endsWith('0') ? '1' : '0')
  const fenced = await post({ heartbeats: [beat(alive, 2), beat(finished, 1), beat(unknown, 1)] })
  t.equal(fenced.statusCode, 409, 'a late heartbeat from a finished runner gets a 409')
  t.match(fenced.json(), { code: 'HEARTBEAT_FENCED', accepted: [alive] })
  t.same(fenced.json().fenced.length, 2)
  t.equal((await ctx.runners.get(finished)).status, 'failed', 'and changes nothing about it')

  t.equal((await post({ heartbeats: [] }, 'wrong')).statusCode, 401)
  t.equal((await post({ heartbeats: [] }, null)).statusCode, 401)
  t.equal((await post({ heartbeats: [{ ...beat(alive, 2), cpuPercent: -1 }] })).statusCode, 400)
  t.equal((await post({ heartbeats: [beat(alive, 2)], extra: 1 })).statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/nodes/not-a-node/heartbeats', payload: { heartbeats: [] }, headers: { authorization: `Bearer ${CREDENTIAL}` } })).statusCode, 404)

  const transport = createConnectTransport({ baseUrl, httpVersion: '1.1' })
  const nodeClient = createClient(NodeService, transport)
  const admin = createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [withToken(adminTokenOf(ctx))] })
  const headers = { authorization: `Bearer ${CREDENTIAL}` }
  const rpc = await nodeClient.reportHeartbeats({ nodeId: NODE, heartbeats: [{ ...beat(alive, 2), generation: 2n, inputTokens: 7n, outputTokens: 0n, cacheReadTokens: 0n, cacheCreationTokens: 0n }, { ...beat(finished, 1), generation: 1n, inputTokens: 0n, outputTokens: 0n, cacheReadTokens: 0n, cacheCreationTokens: 0n }] }, { headers })
  t.same({ accepted: rpc.acceptedRunnerIds, fenced: rpc.fencedRunnerIds }, { accepted: [alive], fenced: [finished] }, 'RPC lists the fenced runners')
  t.match(await failureOf(nodeClient.reportHeartbeats({ nodeId: NODE, heartbeats: [] })), { code: 'Unauthenticated', detail: 'UNAUTHENTICATED' }, 'refused before the handler: no credential')
  t.match(await failureOf(nodeClient.reportHeartbeats({ nodeId: NODE, heartbeats: [] }, { headers: { authorization: `Bearer ${adminTokenOf(ctx)}` } })), { code: 'PermissionDenied', detail: 'PERMISSION_DENIED' }, 'the admin is not a node')

  // WatchRunnerOutput: a real terminal, through the local supervisor's attach channel.
  const runnerClient = createClient(RunnerService, admin)
  const echo = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: ['--echo', '--after-ms', '1500', '--exit-code', '0'] }, 'test')
  await waitForRunner(ctx, echo.id, 'running')
  let text = ''
  let exit: unknown = null
  for await (const message of runnerClient.watchRunnerOutput({ runnerId: echo.id, follow: true })) {
    text += Buffer.from(message.data).toString('utf8')
    if (message.exit) exit = message.exit
  }
  t.match(text, /READY/, 'the output arrives')
  t.match(exit, { code: 0 }, 'and the stream ends with the exit')
  await waitForRunner(ctx, echo.id, 'terminated')
  // Ended: what was kept of its output, and with follow how it ended.
  const kept: Array<{ data: string, exit?: unknown }> = []
  for await (const message of runnerClient.watchRunnerOutput({ runnerId: echo.id, follow: true })) kept.push({ data: Buffer.from(message.data).toString('utf8'), ...(message.exit ? { exit: message.exit } : {}) })
  t.match(kept, [{ data: /READY/ }, { data: '', exit: { code: 0 } }], 'an ended runner\'s output comes from the database, then its exit')
})
