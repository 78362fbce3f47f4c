// The supervisor against a real database and real processes (the fake agent): start, exit
// codes, restarts with backoff, stop with and without SIGTERM honoured, heartbeats and fencing.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { runners } from '../../src/adapters/db/schema.js'
import type { BusMessage } from '../../src/core/ports.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildContext } from '../helpers/app.js'
import { buildSupervisedContext, eventsOf, runnerEventsOf, startTestSupervisor, supervisorTestConfig, waitForRunner } from '../helpers/supervisor.js'

const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }

t.test(`runner lifecycle under a supervisor on ${backendName()}`, async t => {
  // These crashes repeat at start on purpose, to count attempts and backoff: the rule that
  // stops a failure at start repeating is off here (supervisor-failures.test.ts tests it).
  const { ctx } = await buildSupervisedContext(t, config => { config.supervisor.start_failure_window_seconds = 0 })
  const project = await createProject(t, ctx, { maxConcurrentRunners: 20 })
  const launch = (flags: string[], extra: { maxRestartAttempts?: number } = {}) =>
    ctx.runners.launch({ project: project.name, agent: 'fake', flags, ...extra }, 'test')

  await t.test('a clean exit ends terminated with its code and a runner.stopped event', async t => {
    const launched = await launch(['--after-ms', '700', '--exit-code', '0'])
    const running = await waitForRunner(ctx, launched.id, 'running')
    t.ok(Number(running.runtimeId) > 0, 'the runner carries its pid')
    t.equal(running.generation, 1)
    const done = await waitForRunner(ctx, launched.id, 'terminated')
    t.equal(done.exitCode, 0)
    t.equal(done.desiredState, 'stopped')
    t.same((await runnerEventsOf(t, ctx, launched.id)).map(e => e.type), ['runner.launched', 'runner.starting', 'runner.started', 'runner.stopped'])
  })

  await t.test('a crash is restarted with backoff, then failed when attempts run out', async t => {
    const launched = await launch(['--after-ms', '200', '--exit-code', '3'], { maxRestartAttempts: 2 })
    const failed = await waitForRunner(ctx, launched.id, 'failed')
    t.equal(failed.exitCode, 3)
    t.equal(failed.generation, 3, 'three lives: the first start and two restarts')
    t.equal(failed.restartAttempts, 2)
    const events = await runnerEventsOf(t, ctx, launched.id)
    t.same(events.map(e => e.type), [
      'runner.launched', 'runner.starting', 'runner.started', 'runner.restarting', 'runner.started', 'runner.restarting', 'runner.started', 'runner.failed',
    ])
    t.same(events.filter(e => e.type === 'runner.restarting').map(e => e.data.attempt), [1, 2])
    t.match(events.at(-1)!.data, { exit_code: 3, reason: /exited with code 3/ })
  })

  await t.test('no restart policy: a crash fails at once', async t => {
    const launched = await launch(['--exit-code', '7'], { maxRestartAttempts: 0 })
    const failed = await waitForRunner(ctx, launched.id, 'failed')
    t.equal(failed.exitCode, 7)
    t.equal(failed.generation, 1)
  })

  await t.test('stop: SIGTERM to the group, terminated with runner.stopped', async t => {
    const launched = await launch([])
    const running = await waitForRunner(ctx, launched.id, 'running')
    await ctx.runners.stop(launched.id, {}, 'test')
    const done = await waitForRunner(ctx, launched.id, 'terminated')
    t.equal(done.exitCode, null, 'ended by a signal')
    t.notOk(alive(Number(running.runtimeId)), 'the process is gone')
    t.same((await runnerEventsOf(t, ctx, launched.id)).map(e => e.type).slice(-2), ['runner.stop_requested', 'runner.stopped'])
  })

  await t.test('stop with a timeout: an agent that ignores SIGTERM is killed after it', async t => {
    const launched = await launch(['--ignore-sigterm'])
    const running = await waitForRunner(ctx, launched.id, 'running')
    // Running means spawned; give Node a moment to install the agent's SIGTERM handler.
    await new Promise(resolve => setTimeout(resolve, 1000))
    const asked = Date.now()
    await ctx.runners.stop(launched.id, { timeoutSeconds: 1 }, 'test')
    await waitForRunner(ctx, launched.id, 'terminated')
    t.ok(Date.now() - asked >= 1000, 'it was given its timeout before the kill')
    t.notOk(alive(Number(running.runtimeId)))
    const stopped = (await eventsOf(ctx, launched.id)).at(-1)!
    t.match(stopped.data, { reason: 'stopped', signal: 'SIGKILL' })
  })

  await t.test('no orphaned grandchildren after a stop', async t => {
    const launched = await launch(['--spawn-grandchild'])
    await waitForRunner(ctx, launched.id, 'running')
    await new Promise(resolve => setTimeout(resolve, 300))
    await ctx.runners.stop(launched.id, { force: true }, 'test')
    await waitForRunner(ctx, launched.id, 'terminated')
    const { execFileSync } = await import('node:child_process')
    const left = execFileSync('sh', ['-c', `grep -l "STRATAVORE_RUNNER_ID=${launched.id}" /proc/[0-9]*/environ 2>/dev/null || true`]).toString().trim()
    t.equal(left, '', 'no process of the runner is left')
  })

  await t.test('heartbeats carry CPU and memory; a fenced runner is killed', async t => {
    const published: BusMessage[] = []
    const subscription = await ctx.bus.subscribe('runner.heartbeat.#', message => { published.push(message) })
    t.teardown(() => subscription.close())
    const launched = await launch(['--busy-child'])
    const running = await waitForRunner(ctx, launched.id, r => r.status === 'running' && r.memoryMb > 0 && r.cpuPercent > 0)
    t.ok(running.lastHeartbeat, 'the heartbeat is stamped')
    // A beat is published after its row is written (and delivered on a later turn of the
    // loop), so the row can show it first: wait for the message rather than race it.
    const beatOf = () => published.find(m => m.routingKey === `runner.heartbeat.${launched.id}` && (m.body.data as { cpu_percent: number }).cpu_percent > 0)
    const publishedBy = Date.now() + 5000
    while (!beatOf() && Date.now() < publishedBy) await new Promise(resolve => setTimeout(resolve, 20))
    const beat = beatOf()
    t.ok(beat, 'each heartbeat is published as runner.heartbeat.<runner_id>')
    t.match(beat!.body, {
      version: 1, event_id: beat!.messageId, type: 'runner.heartbeat', project: project.name, aggregate_type: 'runner', aggregate_id: launched.id,
      seq: running.eventSeq, actor: 'supervisor', data: { node_id: running.nodeId, generation: 1, memory_mb: Number, tokens_used: 0 },
    }, 'in the event envelope, with the seq of the runner\'s latest event')
    t.notOk((await eventsOf(ctx, launched.id)).some(e => e.type === 'runner.heartbeat'), 'and never through the outbox')
    // The reconciler (or a newer life) has moved on: the next heartbeat is refused.
    await ctx.database.db.update(runners).set({ status: 'failed', terminatedAt: new Date() }).where(eq(runners.id, launched.id))
    const deadline = Date.now() + 10_000
    while (alive(Number(running.runtimeId)) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
    t.notOk(alive(Number(running.runtimeId)), 'the supervisor killed the fenced process')
    t.equal((await ctx.runners.get(launched.id)).status, 'failed', 'and reported nothing over the failure')
  })
})

t.test(`a supervisor stopped gracefully hands its runners over (supervisor.on_shutdown: handover) on ${backendName()}`, async t => {
  const { ctx, supervisor } = await buildSupervisedContext(t)
  const project = await createProject(t, ctx)
  const launched = await Promise.all([3, 0].map(maxRestartAttempts => ctx.runners.launch({ project: project.name, agent: 'fake', flags: [], maxRestartAttempts }, 'test')))
  const first = await Promise.all(launched.map(r => waitForRunner(ctx, r.id, 'running')))
  await supervisor.stop()
  for (const [i, before] of first.entries()) {
    t.notOk(alive(Number(before.runtimeId)), 'a stopping supervisor leaves no agent behind')
    const after = await ctx.runners.get(before.id)
    t.match(after, { status: 'pending', nodeId: null, generation: before.generation + 1, restartAttempts: 0 }, `runner ${i}: handed back, unassigned, in a new generation`)
    t.match((await eventsOf(ctx, before.id)).at(-1), { type: 'runner.rescheduled', data: { reason: 'supervisor_shutdown', from_node_id: before.nodeId, node_id: '' } })
  }
  t.match((await eventsOf(ctx, first[0]!.nodeId!)).at(-1), { type: 'node.stopped', data: { on_shutdown: 'handover' } }, 'the node is down, with its event')

  await startTestSupervisor(t, ctx)
  for (const before of first) {
    const again = await waitForRunner(ctx, before.id, r => r.status === 'running' && r.generation > before.generation + 1)
    t.not(again.runtimeId, before.runtimeId, 'the next supervisor started it again, as a new process')
    t.equal(again.restartAttempts, 0, 'a handover is no restart: it costs no attempt')
  }
})

t.test(`supervisor.on_shutdown: stop records its runners as stopped on ${backendName()}`, async t => {
  const { ctx, supervisor } = await buildSupervisedContext(t, config => { config.supervisor.on_shutdown = 'stop' })
  const project = await createProject(t, ctx)
  const launched = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: [] }, 'test')
  const running = await waitForRunner(ctx, launched.id, 'running')
  await supervisor.stop()
  t.notOk(alive(Number(running.runtimeId)))
  t.match(await ctx.runners.get(launched.id), { status: 'terminated', desiredState: 'stopped' })
  t.match((await eventsOf(ctx, launched.id)).at(-1), { type: 'runner.stopped', data: { reason: 'supervisor_shutdown' } })
})

t.test(`a supervisor that crashed: the next one picks up its node's runners with resume on ${backendName()}`, async t => {
  const { ctx, supervisor } = await buildSupervisedContext(t)
  const project = await createProject(t, ctx)
  const keep = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: [], maxRestartAttempts: 3 }, 'test')
  const noRestarts = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: [], maxRestartAttempts: 0 }, 'test')
  const first = await waitForRunner(ctx, keep.id, 'running')
  const second = await waitForRunner(ctx, noRestarts.id, 'running')
  await supervisor.stop()
  // What a crash leaves: the rows still say running on this node, and their processes are gone.
  for (const r of [first, second]) {
    await ctx.database.db.update(runners).set({ status: 'running', nodeId: r.nodeId, generation: r.generation, runtimeId: r.runtimeId }).where(eq(runners.id, r.id))
  }

  await startTestSupervisor(t, ctx)
  const again = await waitForRunner(ctx, keep.id, r => r.status === 'running' && r.generation > first.generation)
  t.not(again.runtimeId, first.runtimeId, 'a new process')
  t.equal(again.restartAttempts, 1)
  t.match((await eventsOf(ctx, keep.id)).find(e => e.type === 'runner.restarting')?.data, { reason: 'its supervisor restarted' })
  const failed = await waitForRunner(ctx, noRestarts.id, 'failed')
  t.equal(failed.exitCode, null)
  t.match((await eventsOf(ctx, noRestarts.id)).at(-1), { type: 'runner.failed', data: { reason: /lost with its supervisor/ } })
})

t.test(`a runner that stayed up past healthy_after_seconds has its attempts reset on ${backendName()}`, async t => {
  const { ctx } = await buildSupervisedContext(t, config => { config.supervisor.healthy_after_seconds = 1 })
  const project = await createProject(t, ctx)
  // Each life runs 2 s (healthy after 1 s), then crashes: with one attempt allowed, it would
  // fail on the second crash if the attempts were not reset.
  const launched = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: ['--after-ms', '2000', '--exit-code', '3'], maxRestartAttempts: 1 }, 'test')
  const third = await waitForRunner(ctx, launched.id, r => r.generation >= 3 || r.status === 'failed', 30_000)
  t.not(third.status, 'failed', 'still restarting after its second crash')
  t.ok(third.generation >= 3)
  await ctx.runners.stop(launched.id, { force: true }, 'test')
  await waitForRunner(ctx, launched.id, 'terminated')
})

t.test(`a runner launched while no node is ready is claimed by the first supervisor, with its event, on ${backendName()}`, async t => {
  const ctx = await buildContext(t, supervisorTestConfig)
  const project = await createProject(t, ctx)
  const launched = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: ['--after-ms', '300', '--exit-code', '0'] }, 'test')
  t.equal(launched.nodeId, null, 'no node yet: it waits unassigned')
  await startTestSupervisor(t, ctx)
  const done = await waitForRunner(ctx, launched.id, 'terminated')
  t.ok(done.nodeId, 'claimed by the node')
  const events = await runnerEventsOf(t, ctx, launched.id)
  t.same(events.map(e => e.type), ['runner.launched', 'runner.assigned', 'runner.starting', 'runner.started', 'runner.stopped'])
  t.equal(events[1]!.data.node_id, done.nodeId)
})
