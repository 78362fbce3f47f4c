// Ordering facts only ("not before the timeout"), never speed.
import t from 'tap'
import { isGone, startFakeAgent, waitForOutput, waitUntil } from './fake-agent.js'

for (const terminal of [true, false]) {
  t.test(`stop, ${terminal ? 'terminal' : 'headless'}`, async t => {
    t.test('SIGTERM honoured: the runner ends by SIGTERM', async t => {
      const agent = startFakeAgent(t, [], { terminal })
      await waitForOutput(agent, /READY/, 'READY')
      t.same(await agent.stop(5000), { code: null, signal: 'SIGTERM' })
    })

    t.test('SIGTERM ignored: SIGKILL once the timeout has passed, not before', async t => {
      const agent = startFakeAgent(t, ['--ignore-sigterm'], { terminal })
      await waitForOutput(agent, /READY/, 'READY')
      const started = Date.now()
      const status = await agent.stop(300)
      t.same(status, { code: null, signal: 'SIGKILL' })
      t.ok(Date.now() - started >= 300, 'the SIGKILL waited for the timeout')
      t.match(agent.scrollback().toString(), /SIGTERM ignored/)
    })

    t.test('timeout 0 kills at once, even one that ignores SIGTERM', async t => {
      const agent = startFakeAgent(t, ['--ignore-sigterm'], { terminal })
      await waitForOutput(agent, /READY/, 'READY')
      t.same(await agent.stop(0), { code: null, signal: 'SIGKILL' })
      t.notMatch(agent.scrollback().toString(), /SIGTERM ignored/)
    })

    t.test('a second stop shortens the wait; both get the same status', async t => {
      const agent = startFakeAgent(t, ['--ignore-sigterm'], { terminal })
      await waitForOutput(agent, /READY/, 'READY')
      const first = agent.stop(60_000)
      const second = agent.stop(0)
      t.same(await second, { code: null, signal: 'SIGKILL' })
      t.same(await first, await second)
    })

    t.test('a grandchild that left the process group does not survive a stop', async t => {
      const agent = startFakeAgent(t, ['--spawn-grandchild'], { terminal })
      const [, pid] = await waitForOutput(agent, /GRANDCHILD (\d+)/, 'the grandchild pid')
      const grandchild = Number(pid)
      t.notOk(isGone(grandchild), 'the grandchild runs before the stop')
      t.teardown(() => { try { process.kill(grandchild, 'SIGKILL') } catch { /* gone */ } })
      await agent.stop(2000)
      t.ok(isGone(grandchild), 'the grandchild is gone once stop resolves')
    })

    t.test('a grandchild that left the group dies with a runner that exits by itself', async t => {
      const agent = startFakeAgent(t, ['--spawn-grandchild', '--exit-code', '0', '--after-ms', '200'], { terminal })
      const [, pid] = await waitForOutput(agent, /GRANDCHILD (\d+)/, 'the grandchild pid')
      const grandchild = Number(pid)
      t.teardown(() => { try { process.kill(grandchild, 'SIGKILL') } catch { /* gone */ } })
      t.same(await agent.exited, { code: 0, signal: null })
      await waitUntil(() => isGone(grandchild), `grandchild ${grandchild} to be gone`, 3000)
      t.pass('the orphaned grandchild was killed')
    })

    t.test('a stop after the exit is harmless and gives the same status', async t => {
      const agent = startFakeAgent(t, ['--exit-code', '2'], { terminal })
      const status = await agent.exited
      t.same(await agent.stop(1000), status)
      t.same(await agent.stop(0), status)
    })
  })
}
