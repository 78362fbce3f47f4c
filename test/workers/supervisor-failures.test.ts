// Why a runner failed, under a real supervisor with the fake agent: the reason on the runner
// (read from its last output), the tail of its output kept in the database once its process is
// gone, and a failure at start that repeats itself stopped after the second time instead of
// being retried until the attempts run out.
import t from 'tap'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, runnerEventsOf, waitForRunner } from '../helpers/supervisor.js'

t.test(`why a runner failed, on ${backendName()}`, async t => {
  const { ctx } = await buildSupervisedContext(t)
  const project = await createProject(t, ctx, { maxConcurrentRunners: 20 })
  const launch = (flags: string[], extra: { maxRestartAttempts?: number, prompt?: string } = {}) =>
    ctx.runners.launch({ project: project.name, agent: 'fake', flags, ...extra }, 'test')
  const outputOf = async (id: string) => (await ctx.repos.runners.keptOutput(id))?.output.toString('utf8')

  await t.test('the same failure at start twice: failed after one restart, saying why once', async t => {
    const launched = await launch(['--tail', '\x1b[31mError:\x1b[0m Not logged in · Please run /login', '--exit-code', '1'])
    const failed = await waitForRunner(ctx, launched.id, 'failed')
    t.equal(failed.exitCode, 1)
    t.equal(failed.generation, 2, 'two lives, not four')
    t.equal(failed.reason, 'exited with code 1 at start: Error: Not logged in · Please run /login (the same failure at start twice; not restarted)', 'the exit and the last line, without escapes')
    const events = await runnerEventsOf(t, ctx, launched.id)
    t.same(events.map(e => e.type).filter(type => type === 'runner.restarting' || type === 'runner.failed'), ['runner.restarting', 'runner.failed'])
    t.match(events.find(e => e.type === 'runner.restarting')!.data, { reason: /^exited with code 1 at start/ })
    const kept = await outputOf(launched.id)
    t.match(kept, /Not logged in · Please run \/login/, 'the output of its last life is kept')
    t.equal(kept!.split('Not logged in').length - 1, 1, 'once: the last life\'s output, not every life\'s')
  })
})
