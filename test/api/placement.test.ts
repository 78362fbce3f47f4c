// Placement with two registered nodes: a launch's node and nodeSelector, the agents each node
// has, its capacity and the spread; when nothing fits, 409 NO_NODE_FITS with the reason per
// node, and nothing written. No supervisor runs: runners stay pending where they were placed.
import t from 'tap'
import { sql } from 'drizzle-orm'
import { runners } from '../../src/adapters/db/schema.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { rpcCall } from '../helpers/rpc-inject.js'

const A = '01900000-0000-7000-8000-00000000000a'
const B = '01900000-0000-7000-8000-00000000000b'

t.test(`placement on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => {
    // Configured here, installed on neither node.
    config.agents['missing-test'] = { name: 'missing-test', kind: 'generic', command: ['/bin/true'], env: {} }
  })
  const register = (id: string, name: string, capacity: number, labels: Record<string, string>) => ctx.repos.supervision.registerNode({
    id, name, hostname: name, version: 'test', capacity, credentialHash: `hash-${name}`, attachUrl: 'ws://127.0.0.1:9', attachKey: 'k',
    labels, agents: { 'generic-test': '9.1' },
  })
  await register(A, 'node-a', 2, { zone: 'a', gpu: 'yes' })
  await register(B, 'node-b', 3, { zone: 'b' })
  const project = await createProject(t, ctx, { maxConcurrentRunners: 50 })
  const launch = (extra: object = {}) => app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'generic-test', ...extra } })
  const count = async () => (await ctx.database.db.select({ n: sql<number>`count(*)::int` }).from(runners))[0]!.n
  const nodeOf = async (res: Awaited<ReturnType<typeof launch>>) => {
    t.equal(res.statusCode, 201, res.body)
    return (await ctx.runners.get(res.json().id)).nodeId
  }

  t.equal(await nodeOf(await launch({ nodeSelector: { zone: 'a' } })), A, 'a selector picks the node with those labels')
  t.equal(await nodeOf(await launch({ node: 'node-b' })), B, 'a node by name')
  t.equal(await nodeOf(await launch({ node: A })), A, 'a node by id')
  // A is full (2/2), B holds 1/3: unqualified launches spread onto B.
  t.equal(await nodeOf(await launch()), B)
  t.equal(await nodeOf(await launch()), B)

  const before = await count()
  const full = await launch({ nodeSelector: { gpu: 'yes' } })
  t.equal(full.statusCode, 409)
  t.match(full.json(), { code: 'NO_NODE_FITS', nodes: [{ node: 'node-a', reason: /full: 2\/2/ }, { node: 'node-b', reason: /labels do not match: wants gpu=yes; has no gpu/ }] })
  const missing = await launch({ agent: 'missing-test' })
  t.equal(missing.statusCode, 409)
  t.match(missing.json(), { code: 'NO_NODE_FITS', nodes: [{ node: 'node-a', reason: /agent missing-test is not installed/ }, { node: 'node-b', reason: /agent missing-test is not installed/ }] })
  const unknown = await launch({ node: 'node-z' })
  t.match(unknown.json(), { code: 'NO_NODE_FITS', detail: /no node is named node-z/ })
  t.equal(unknown.statusCode, 409)
  const rpc = await rpcCall(app, 'RunnerService/LaunchRunner', { project: project.name, agent: 'generic-test', nodeSelector: { zone: 'c' } })
  t.equal(rpc.detail, 'NO_NODE_FITS', 'the same over RPC')
  for (const bad of [{ nodeSelector: { 'bad key': 'x' } }, { nodeSelector: { k: 1 } }, { node: '../etc' }]) {
    t.equal((await launch(bad)).statusCode, 400, JSON.stringify(bad))
  }
  t.equal(await count(), before, 'a refused launch writes nothing')

  // Both full now (2/2, 3/3): an unqualified launch waits unassigned, claimed only by a node with its agent.
  t.equal(await nodeOf(await launch()), null, 'waits for room')
  await ctx.database.db.execute(sql`update nodes set agents = '{"other": "1"}'::jsonb where id = ${A}`)
  t.same(await ctx.repos.supervision.claimUnassigned(A, 5), [], 'a node without the agent does not claim it')
  t.equal((await ctx.repos.supervision.claimUnassigned(B, 5)).length, 1)

  const listed = (await app.inject({ url: '/api/v1/nodes' })).json().nodes
  t.match(listed, [
    { name: 'node-a', status: 'ready', capacity: 2, activeRunners: 2, labels: { zone: 'a', gpu: 'yes' }, agents: { other: '1' } },
    { name: 'node-b', status: 'ready', capacity: 3, activeRunners: 4, labels: { zone: 'b' }, agents: { 'generic-test': '9.1' } },
  ])
  const rpcList = await rpcCall(app, 'NodeService/ListNodes', {})
  t.match(rpcList.json, { nodes: [{ name: 'node-a', activeRunners: 2 }, { name: 'node-b', activeRunners: 4 }] })
})
