// The real Claude Code CLI, interactive, under the supervisor against the mock Anthropic API:
// its hooks (injected with --settings) report what it does. A tool call without god mode shows
// waiting_permission with the tool and its command while the prompt is on screen; approving it
// through attach makes it working, then idle when the turn ends. The runner's activity, its
// runner.activity events and the inbox all say so.
import t from 'tap'
import { startMockAnthropic } from '../fixtures/mock-anthropic.js'
import { claudeBin, claudeEnv, cliAvailable } from '../helpers/agent-clis.js'
import { openAttach } from '../helpers/attach-client.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'
import { buildContext, serveApp } from '../helpers/app.js'

const PROBE = 'touch activity-probe.txt'

t.test(`Claude Code's activity through its hooks, on ${backendName()}`, async t => {
  const bin = cliAvailable(t, claudeBin)
  if (!bin) return
  const mock = await startMockAnthropic(t, { blocks: [{ type: 'tool_use', name: 'Bash', input: { command: PROBE, description: 'Print a probe' } }] })
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  const { env } = claudeEnv(t, { baseUrl: mock.url, cwd: project.path })
  const { ctx } = await buildSupervisedContext(t, config => {
    // 2.1.332 starts in `auto` mode, where a classifier approves commands like this one on its own.
    config.agents.claude = { name: 'claude', kind: 'claude', command: [bin, '--permission-mode', 'default'], env }
  })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')
  const { app, port, auth } = await serveApp(t, ctx)

  const launched = await ctx.runners.launch({ project: project.name, agent: 'claude' }, 'test')
  const running = await waitForRunner(ctx, launched.id, 'running', 30_000)
  t.equal(running.activity.state, 'unknown', 'a new process is unknown until its agent says more')
  const term = await openAttach(`ws://127.0.0.1:${port}/api/v1/runners/${launched.id}/attach?cols=120&rows=40`, auth)
  // eslint-disable-next-line no-control-regex -- matching the ESC of terminal control sequences is the point
  const screen = () => term.output().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\s/g, '')
  await term.waitFor(() => screen().includes('❯') && /for(shortcuts|agents)/.test(screen()), 'the input prompt', 30_000)
  term.socket.send(Buffer.from('run the probe'))
  await term.waitFor(() => screen().includes('runtheprobe'), 'the typed prompt to echo')
  term.socket.send(Buffer.from('\r'))


  const waiting = await waitForRunner(ctx, launched.id, r => r.activity.state === 'waiting_permission', 30_000)
  t.match(waiting.activity, { state: 'waiting_permission', source: 'hook', detail: `Bash: ${PROBE}` }, 'the tool and its command')
  t.ok(waiting.activity.since, 'the time the wait began')
  await term.waitFor(() => /Doyouwanttoproceed/.test(screen()), 'the permission prompt on screen', 30_000)

  const inbox = await app.inject({ method: 'GET', url: '/api/v1/inbox', headers: auth })
  t.equal(inbox.statusCode, 200)
  t.match(inbox.json().items, [{ runnerId: launched.id, project: project.name, state: 'waiting_permission', detail: `Bash: ${PROBE}` }], 'the inbox lists it with what it asks')

  // The next request (the tool's result) gets a plain answer: the turn ends.
  mock.reply('The probe ran.')
  // Enter approves; the dialog can be drawn a moment before it listens for keys, so Enter is
  // pressed again until the wait ends (an Enter on the empty prompt afterwards does nothing).
  for (let press = 0; press < 10; press++) {
    term.socket.send(Buffer.from('\r'))
    const moved = await waitForRunner(ctx, launched.id, r => r.activity.state !== 'waiting_permission', 3_000).catch(() => null)
    if (moved) break
  }
  const idle = await waitForRunner(ctx, launched.id, r => r.activity.state === 'idle', 30_000)
  t.equal(idle.status, 'running')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/inbox', headers: auth })).json().items.length, 0, 'nothing waits any more')

  const activity = (await runnerEventsOf(t, ctx, launched.id)).filter(e => e.type === 'runner.activity').map(e => e.data)
  const states = activity.map(d => d.state)
  t.same(states.slice(states.indexOf('waiting_permission')), ['waiting_permission', 'working', 'idle'], `approved, then working, then idle: ${states.join(' → ')}`)
  t.equal(states[0], 'working', 'the prompt made it work')
  t.match(activity.find(d => d.state === 'waiting_permission'), { runnerId: launched.id, previousState: 'working', source: 'hook', detail: `Bash: ${PROBE}`, resetsAt: null })
  t.ok(activity.every(d => typeof d.since === 'string'), 'each change has its time')
  const waited = await ctx.metrics.registry.getSingleMetricAsString('stratavore_runner_waiting_for_human_seconds')
  t.match(waited, `stratavore_runner_waiting_for_human_seconds_count{project="${project.name}"} 1`, 'the wait for a person is observed once, when it ends')

  await ctx.runners.stop(launched.id, {}, 'test')
  await term.closed
  const stopped = await waitForRunner(ctx, launched.id, 'terminated')
  t.equal(stopped.activity.state, 'unknown', 'an ended process says nothing any more')
})
