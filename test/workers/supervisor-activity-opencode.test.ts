// The real OpenCode (1.18.33), interactive in its TUI, under the supervisor against the mock
// Anthropic API: Stratavore's plugin (added through OPENCODE_CONFIG_CONTENT, the user's config
// untouched) reports its bus events to the runner's hook channel. A shell command the config says
// to ask about shows waiting_permission with the command while the dialog is on screen; allowing
// it through attach makes it working, then idle when the turn ends.
import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { startMockAnthropic } from '../fixtures/mock-anthropic.js'
import { cliAvailable, opencodeBin, opencodeEnv } from '../helpers/agent-clis.js'
import { openAttach } from '../helpers/attach-client.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'
import { buildContext, serveApp } from '../helpers/app.js'

const PROBE = 'touch activity-probe.txt'

t.test(`OpenCode's activity through its plugin, on ${backendName()}`, async t => {
  const bin = cliAvailable(t, opencodeBin)
  if (!bin) return
  const mock = await startMockAnthropic(t, { blocks: [{ type: 'tool_use', name: 'bash', input: { command: PROBE, description: 'Touch a probe' } }] })
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  const { env } = opencodeEnv(t, { baseUrl: mock.url })
  const { ctx } = await buildSupervisedContext(t, config => {
    config.agents.opencode = { name: 'opencode', kind: 'opencode', command: [bin], env }
  })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')
  const { app, port, auth } = await serveApp(t, ctx)

  const launched = await ctx.runners.launch({ project: project.name, agent: 'opencode' }, 'test')
  const running = await waitForRunner(ctx, launched.id, 'running', 30_000)
  t.equal(running.activity.state, 'unknown', 'a new process is unknown until its agent says more')
  const term = await openAttach(`ws://127.0.0.1:${port}/api/v1/runners/${launched.id}/attach?cols=120&rows=40`, auth)
  // eslint-disable-next-line no-control-regex -- matching the ESC of terminal control sequences is the point
  const screen = () => term.output().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b\][^\x07]*\x07/g, '').replace(/\s/g, '')
  // The TUI takes a while to draw on a busy machine (its server boots first).
  await term.waitFor(() => screen().includes('Askanything'), 'the input prompt', 90_000)
  term.socket.send(Buffer.from('run the probe'))
  await term.waitFor(() => screen().includes('runtheprobe'), 'the typed prompt to echo')
  term.socket.send(Buffer.from('\r'))

  const waiting = await waitForRunner(ctx, launched.id, r => r.activity.state === 'waiting_permission', 60_000)
  t.match(waiting.activity, { state: 'waiting_permission', source: 'hook', detail: `bash: ${PROBE}` }, 'the tool and its command')
  t.ok(waiting.activity.since, 'the time the wait began')
  await term.waitFor(() => /Permissionrequired/i.test(screen()), 'the permission dialog on screen', 30_000).catch(err => { console.error(JSON.stringify(screen().slice(-2500))); throw err })

  const inbox = await app.inject({ method: 'GET', url: '/api/v1/inbox', headers: auth })
  t.match(inbox.json().items, [{ runnerId: launched.id, state: 'waiting_permission', detail: `bash: ${PROBE}` }], 'the inbox lists it with what it asks')

  // The next request (the tool's result) gets a plain answer: the turn ends.
  mock.reply('The probe ran.')
  for (let press = 0; press < 10; press++) {
    term.socket.send(Buffer.from('\r'))
    const moved = await waitForRunner(ctx, launched.id, r => r.activity.state !== 'waiting_permission', 3_000).catch(() => null)
    if (moved) break
  }
  const idle = await waitForRunner(ctx, launched.id, r => r.activity.state === 'idle', 60_000)
  t.equal(idle.status, 'running')
  t.ok(existsSync(join(project.path, 'activity-probe.txt')), 'allowed once: the command ran')

  const activity = (await runnerEventsOf(t, ctx, launched.id)).filter(e => e.type === 'runner.activity').map(e => e.data)
  const states = activity.map(d => d.state)
  t.same(states, ['working', 'waiting_permission', 'working', 'idle'], `asked, allowed, working, idle: ${states.join(' → ')}`)
  t.ok(activity.every(d => d.source === 'hook'), 'all from the plugin')

  await ctx.runners.stop(launched.id, {}, 'test')
  await term.closed
  const stopped = await waitForRunner(ctx, launched.id, 'terminated')
  t.equal(stopped.activity.state, 'unknown', 'an ended process says nothing any more')
})
