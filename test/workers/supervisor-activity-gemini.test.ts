// The real Gemini CLI (0.61), interactive, under the supervisor against the mock Gemini API: its
// hooks (in the runner's own system-defaults layer, gemini-hooks.ts) report what it does. A shell
// command without god mode shows waiting_permission with the tool and its command; approving it
// through attach makes it working, then idle when the turn ends. Needs a supervisor running as
// root (Gemini reads a system layer only from root-owned paths), as it does here.
import t from 'tap'
import { geminiHooksPossible } from '../../src/adapters/agents/gemini-hooks.js'
import { startMockGemini } from '../fixtures/mock-gemini.js'
import { cliAvailable, geminiBin, geminiEnv, unavailable } from '../helpers/agent-clis.js'
import { openAttach } from '../helpers/attach-client.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'
import { buildContext, serveApp } from '../helpers/app.js'

const PROBE = 'touch activity-probe.txt'

t.test(`Gemini CLI's activity through its hooks, on ${backendName()}`, async t => {
  const bin = cliAvailable(t, geminiBin)
  if (!bin) return
  // CI runs as root, where this is proven: there, not being root is a failure.
  if (!geminiHooksPossible()) return unavailable(t, 'Gemini reads a hook layer only from root-owned paths: this supervisor is not root')
  const mock = await startMockGemini(t)
  const scratch = await buildContext(t)
  const project = await createProject(t, scratch)
  // Trusted: Gemini runs no hooks at all in an untrusted folder, and god mode would ask nothing.
  const { env } = geminiEnv(t, { baseUrl: mock.url, trusted: [project.path] })
  const { ctx } = await buildSupervisedContext(t, config => {
    config.agents.gemini = { name: 'gemini', kind: 'gemini', command: [bin], env }
  })
  await ctx.projects.create({ name: project.name, path: project.path }, 'test')
  const { app, port, auth } = await serveApp(t, ctx)

  const launched = await ctx.runners.launch({ project: project.name, agent: 'gemini' }, 'test')
  const running = await waitForRunner(ctx, launched.id, 'running', 60_000)
  t.equal(running.activity.state, 'unknown', 'a new process is unknown until its agent says more')
  const term = await openAttach(`ws://127.0.0.1:${port}/api/v1/runners/${launched.id}/attach?cols=120&rows=40`, auth)
  // eslint-disable-next-line no-control-regex -- matching the ESC of terminal control sequences is the point
  const screen = () => term.output().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\s/g, '')
  await term.waitFor(() => screen().includes('Typeyourmessage'), 'the input prompt', 60_000)
  mock.callToolOnce('run_shell_command', { command: PROBE, description: 'Touch a probe' })
  term.socket.send(Buffer.from('run the probe'))
  await term.waitFor(() => screen().includes('runtheprobe'), 'the typed prompt to echo')
  term.socket.send(Buffer.from('\r'))

  const waiting = await waitForRunner(ctx, launched.id, r => r.activity.state === 'waiting_permission', 60_000)
  t.match(waiting.activity, { state: 'waiting_permission', source: 'hook', detail: `Shell: ${PROBE}` }, `the tool and its command: ${waiting.activity.detail}`)
  const inbox = await app.inject({ method: 'GET', url: '/api/v1/inbox', headers: auth })
  t.match(inbox.json().items, [{ runnerId: launched.id, state: 'waiting_permission' }], 'the inbox lists it')

  mock.reply('The probe ran.')
  // Enter takes the first choice (allow once); pressed again until the wait ends.
  for (let press = 0; press < 10; press++) {
    term.socket.send(Buffer.from('\r'))
    const moved = await waitForRunner(ctx, launched.id, r => r.activity.state !== 'waiting_permission', 3_000).catch(() => null)
    if (moved) break
  }
  const idle = await waitForRunner(ctx, launched.id, r => r.activity.state === 'idle', 60_000)
  t.equal(idle.status, 'running')

  const states = (await runnerEventsOf(t, ctx, launched.id)).filter(e => e.type === 'runner.activity').map(e => e.data.state)
  t.equal(states[0], 'working', `the prompt made it work: ${states.join(' → ')}`)
  t.same(states.slice(states.indexOf('waiting_permission')), ['waiting_permission', 'working', 'idle'], `approved, then working, then idle: ${states.join(' → ')}`)

  await ctx.runners.stop(launched.id, {}, 'test')
  await term.closed
  const stopped = await waitForRunner(ctx, launched.id, 'terminated')
  t.equal(stopped.activity.state, 'unknown', 'an ended process says nothing any more')
})
