// Failover: a runner lost past daemon.lost_grace_seconds is handed to a ready node with room,
// resuming its conversation, or failed when its agent cannot resume or no node can take it; a
// stop of a lost runner ends it at once; the node that comes back late is fenced.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { eq, sql } from 'drizzle-orm'
import { nodes, runners } from '../../src/adapters/db/schema.js'
import type { Context } from '../../src/context.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { eventsOf } from '../helpers/supervisor.js'
import { createProject } from '../helpers/fixtures.js'

const registerNode = async (ctx: Context, name: string, capacity = 10) => {
  const id = randomUUID()
  await ctx.repos.supervision.registerNode({ id, name, hostname: name, version: 'test', capacity, credentialHash: `hash-${id}`, attachUrl: 'ws://127.0.0.1:9', attachKey: 'k' })
  return id
}

const setNodeStatus = (ctx: Context, id: string, status: 'ready' | 'lost' | 'down') =>
  ctx.database.db.update(nodes).set({ status }).where(eq(nodes.id, id))

t.test(`runners of a lost node on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => {
    config.daemon.lost_grace_seconds = 60
    config.agents.stubborn = { name: 'stubborn', kind: 'claude', command: ['claude'], env: {}, onNodeLost: 'fail' }
  })
  const project = await createProject(t, ctx, { maxConcurrentRunners: 20 })
  const dead = await registerNode(ctx, 'dead-node')
  // What a node that died leaves: its runners lost for longer than their TTL and the grace.
  const lostOn = async (node: string, agent: string, sessionId: string | null) => {
    const { id } = await ctx.runners.launch({ project: project.name, agent }, 'test')
    await ctx.database.db.update(runners).set({
      nodeId: node, status: 'lost', generation: 3, sessionId, runtimeId: '4242',
      startedAt: sql`now() - interval '10 minutes'`, lastHeartbeat: sql`now() - interval '200 seconds'`,
    }).where(eq(runners.id, id))
    return ctx.runners.get(id)
  }

  await t.test('handed to a ready node with room, resuming the session; the dead node is fenced', async t => {
    const spare = await registerNode(ctx, 'spare-node')
    await setNodeStatus(ctx, dead, 'lost')
    const sessionId = randomUUID()
    const before = await lostOn(dead, 'claude', sessionId)
    const result = await ctx.reconciler.reconcile('test')
    t.same(result.rescheduledRunnerIds, [before.id])
    t.same(result.failedRunnerIds, [])
    const after = await ctx.runners.get(before.id)
    t.match(after, { status: 'pending', nodeId: spare, generation: before.generation + 1, conversationMode: 'resume', sessionId, runtimeId: '' })
    t.match((await eventsOf(ctx, before.id)).at(-1), {
      type: 'runner.rescheduled', data: { reason: 'node_lost', from_node_id: dead, node_id: spare, session_id: sessionId, conversation_mode: 'resume' },
    })
    const late = await ctx.repos.supervision.heartbeat(dead, [{ runnerId: before.id, generation: before.generation, cpuPercent: 0, memoryMb: 1, inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0 }])
    t.same(late.fenced, [before.id], 'a late report from the dead node is refused: it stops that process')
    t.equal((await ctx.runners.get(before.id)).status, 'pending', 'and changes nothing')
    t.same((await ctx.reconciler.reconcile('test')).rescheduledRunnerIds, [], 'a second pass moves nothing')
    // The late heartbeat brought the dead node back; it dies again for the tests below.
    await setNodeStatus(ctx, dead, 'lost')
    await setNodeStatus(ctx, spare, 'down')
  })

  await t.test('spread over the ready nodes by room left', async t => {
    const [a, b] = [await registerNode(ctx, 'node-a', 4), await registerNode(ctx, 'node-b', 4)]
    const lost = await Promise.all(Array.from({ length: 4 }, () => lostOn(dead, 'codex', randomUUID())))
    const result = await ctx.reconciler.reconcile('test')
    t.same([...result.rescheduledRunnerIds].sort(), lost.map(r => r.id).sort())
    const placed = await Promise.all(lost.map(async r => (await ctx.runners.get(r.id)).nodeId))
    t.same([placed.filter(n => n === a).length, placed.filter(n => n === b).length], [2, 2])
    for (const id of [a, b]) await setNodeStatus(ctx, id, 'down')
  })

  await t.test('failed when the agent cannot resume, is set to fail, or no node is ready', async t => {
    const generic = await lostOn(dead, 'generic-test', null)
    const stubborn = await lostOn(dead, 'stubborn', randomUUID())
    const homeless = await lostOn(dead, 'claude', randomUUID())
    const result = await app.inject({ method: 'POST', url: '/api/v1/reconcile' })
    t.equal(result.statusCode, 200)
    t.same([...result.json().failedRunnerIds].sort(), [generic.id, stubborn.id, homeless.id].sort(), 'the Lex WebUI route lists them')
    for (const r of [generic, stubborn]) t.match((await eventsOf(ctx, r.id)).at(-1), { type: 'runner.failed', data: { reason: 'lost' } })
    t.match((await eventsOf(ctx, homeless.id)).at(-1), { type: 'runner.failed', data: { reason: /no ready node/ } })
    for (const r of [generic, stubborn, homeless]) t.match(await ctx.runners.get(r.id), { status: 'failed', desiredState: 'stopped' }, 'holding no quota')
  })

  await t.test('a stop of a lost runner ends it at once, in a new generation', async t => {
    const r = await lostOn(dead, 'claude', randomUUID())
    const res = await app.inject({ method: 'POST', url: `/api/v1/runners/${r.id}/stop`, payload: {} })
    t.equal(res.statusCode, 202)
    t.match(res.json(), { status: 'terminated', desiredState: 'stopped' })
    t.equal((await ctx.runners.get(r.id)).generation, r.generation + 1)
    t.match((await eventsOf(ctx, r.id)).at(-1), { type: 'runner.stopped', data: { reason: 'stopped while its node was lost' } })
  })
})
