// /metrics read as Prometheus reads it (a strict parser of the text format), before and after
// real launches on a real supervisor: the seed's five by name and label, the per-node gauges,
// the histograms of launch to running, heartbeat ingest, outbox age, commit to publish and RPC
// calls. Then a second daemon on the same database: only the lease holder serves fleet gauges.
import { randomUUID } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import t from 'tap'
import { budgets, runners } from '../../src/adapters/db/schema.js'
import { buildApp } from '../../src/api/app.js'
import { buildMetricsServer } from '../../src/api/metrics-server.js'
import { startRelay } from '../../workers/outbox-relay.js'
import { asAdmin, buildContext } from '../helpers/app.js'
import { waitFor } from '../helpers/faults.js'
import { createProject, insertSession } from '../helpers/fixtures.js'
import { parsePrometheusText, valueOf, type Family } from '../helpers/prometheus-text.js'
import { rpcCall } from '../helpers/rpc-inject.js'
import { buildSupervisedContext, waitForRunner } from '../helpers/supervisor.js'

t.test('/metrics follows real launches; the fleet gauges come from the lease holder only', async t => {
  const { ctx } = await buildSupervisedContext(t)
  const app = asAdmin(await buildApp(ctx), ctx)
  t.teardown(() => app.close())
  const metrics = buildMetricsServer(ctx)
  t.teardown(() => metrics.close())
  const relay = await startRelay(ctx)
  t.teardown(async () => { for (const part of relay) await part.stop() })
  const scrape = async (server = metrics): Promise<Map<string, Family>> => {
    const res = await server.inject({ method: 'GET', url: '/metrics' })
    t.equal(res.statusCode, 200)
    return parsePrometheusText(res.body)
  }

  const before = await scrape()
  t.equal(before.get('stratavore_runners_total')?.type, 'gauge', 'runners_total is a gauge, as the seed had it')
  t.same(before.get('stratavore_runners_total')!.samples.map(s => s.labels.status).sort(),
    ['failed', 'lost', 'paused', 'pending', 'running', 'starting', 'stopping', 'terminated'], 'one series per status, zeros included')
  t.equal(before.get('stratavore_sessions_total')?.type, 'counter')
  t.equal(before.get('stratavore_tokens_used_total')?.type, 'counter')
  t.equal(valueOf(before, 'stratavore_tokens_used_total', { scope: 'global' }), 0)
  t.equal(before.get('stratavore_heartbeat_latency_seconds')?.type, 'histogram')
  t.equal(before.get('stratavore_runners_by_project')?.type, 'gauge')
  t.equal(valueOf(before, 'stratavore_metrics_leader'), 1, 'the only daemon holds the lease')
  t.equal(valueOf(before, 'stratavore_database_gate_open'), 0)
  t.ok(before.has('http_request_duration_seconds'), 'REST request histograms are still there')

  const project = await createProject(t, ctx)
  // One runner over REST that keeps running, one over Connect whose agent fails every start.
  const ok = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'fake', flags: [] } })
  t.equal(ok.statusCode, 201)
  const failing = await rpcCall(app, 'RunnerService/LaunchRunner', { project: project.name, agent: 'fake', flags: ['--exit-code', '1'], maxRestartAttempts: 0 })
  t.equal(failing.status, 200)
  const running = await waitForRunner(ctx, ok.json().id, 'running')
  const failed = await waitForRunner(ctx, (failing.json.runner as { id: string }).id, 'failed')
  await insertSession(ctx, { id: `session-${running.id}`, projectName: project.name, runnerId: running.id })
  // Tokens as a heartbeat stores them (the fake agent reports none).
  await ctx.database.db.update(runners).set({ tokensUsed: 1500 }).where(eq(runners.id, failed.id))
  await ctx.database.db.insert(budgets).values({
    id: randomUUID(), scope: 'project', scopeId: project.name, limitTokens: 1000, usedTokens: 1500, period: 'day', createdBy: 'test',
    periodStart: sql`now() - interval '1 hour'`, periodEnd: sql`now() + interval '1 hour'`,
  })
  await waitFor('a heartbeat ingested and an event published', async () => {
    const m = await scrape()
    return valueOf(m, 'stratavore_heartbeat_latency_seconds_count') > 0 && valueOf(m, 'stratavore_event_commit_to_publish_seconds_count') > 0
  }, { timeoutMs: 20_000 })
  await metrics.fleet.refresh()

  const after = await scrape()
  t.equal(valueOf(after, 'stratavore_runners_total', { status: 'running' }), 1)
  t.equal(valueOf(after, 'stratavore_runners_total', { status: 'failed' }), 1)
  t.equal(valueOf(after, 'stratavore_runners_total', { status: 'pending' }), 0)
  t.equal(valueOf(after, 'stratavore_runners_by_project', { project: project.name }), 1, 'active runners per project')
  t.equal(valueOf(after, 'stratavore_runners_by_activity', { project: project.name, state: 'unknown' }), 1, 'its agent (the fake one) says nothing')
  t.equal(valueOf(after, 'stratavore_runners_by_activity', { project: project.name, state: 'waiting_permission' }), 0, 'every state present')
  t.equal(valueOf(after, 'stratavore_runner_failures_total'), 1)
  t.equal(valueOf(after, 'stratavore_sessions_total'), 1)
  t.equal(valueOf(after, 'stratavore_tokens_used_total', { scope: 'global' }), 1500)
  t.equal(valueOf(after, 'stratavore_project_tokens_used_total', { project: project.name }), 1500)
  t.equal(valueOf(after, 'stratavore_budget_used_ratio', { scope: 'project', scope_id: project.name, period: 'day' }), 1.5)
  const node = after.get('stratavore_node_up')!.samples
  t.equal(node.length, 1, 'one node')
  t.equal(node[0]!.value, 1, 'and it is ready')
  t.equal(valueOf(after, 'stratavore_node_runners', { node: node[0]!.labels.node! }), 1)
  t.equal(valueOf(after, 'stratavore_node_capacity', { node: node[0]!.labels.node! }), ctx.config.supervisor.capacity)
  t.ok(valueOf(after, 'stratavore_runner_launch_to_running_seconds_count') >= 1, 'launch to running observed')
  t.ok(valueOf(after, 'stratavore_outbox_age_seconds_count') > 0, 'outbox age observed at claim')
  t.equal(valueOf(after, 'stratavore_outbox_dead_rows'), 0)
  t.equal(valueOf(after, 'stratavore_rpc_duration_seconds_count', { service: 'stratavore.v1.RunnerService', method: 'LaunchRunner', protocol: 'connect', code: 'ok' }), 1)
  const refused = await rpcCall(app, 'RunnerService/GetRunner', { id: '00000000-0000-7000-8000-000000000000' })
  t.equal(refused.status, 404)
  t.equal(valueOf(await scrape(), 'stratavore_rpc_duration_seconds_count', { service: 'stratavore.v1.RunnerService', method: 'GetRunner', code: 'not_found' }), 1,
    'a refused call is timed with its code')
  t.equal(valueOf(after, 'stratavore_runners_active'), 1, 'the names from before the seed\'s are kept')

  // A second daemon on the same database: process metrics only, until the holder lets go.
  const other = await buildContext(t, undefined, { database: ctx.database })
  const otherMetrics = buildMetricsServer(other)
  t.teardown(() => otherMetrics.close())
  const second = await scrape(otherMetrics)
  t.equal(valueOf(second, 'stratavore_metrics_leader'), 0)
  t.notOk(second.has('stratavore_runners_total'), 'no fleet gauge from the second daemon: a sum counts each runner once')
  t.ok(second.has('stratavore_heartbeat_latency_seconds'), 'its own histograms are served')
  await metrics.close()
  await otherMetrics.fleet.refresh()
  const taken = await scrape(otherMetrics)
  t.equal(valueOf(taken, 'stratavore_metrics_leader'), 1, 'the lease passes once released')
  t.equal(valueOf(taken, 'stratavore_runners_total', { status: 'running' }), 1)
})
