import t from 'tap'
import { parseProcStat, type ProcEntry } from '../../../src/adapters/pty/proc-table.js'
import { createProcessTreeSampler, systemUnits } from '../../../src/adapters/pty/process-tree.js'
import { startFakeAgent, waitForOutput, waitUntil } from './fake-agent.js'

t.test('parses a stat line whose command holds spaces and parentheses', async t => {
  const line = '42 (my (odd) name) S 7 42 42 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 1 0 5000 1000000 250 rest'
  t.match(parseProcStat(42, line), { pid: 42, ppid: 7, pgid: 42, ticks: 110, startTicks: 5000, rssPages: 250, zombie: false })
})

t.test('sums a tree from a table and measures CPU between samples', async t => {
  const entry = (pid: number, ppid: number, ticks: number, rssPages: number): ProcEntry =>
    ({ pid, ppid, pgid: 10, ticks, rssPages, startTicks: 1000, zombie: false })
  let ticks = 100
  let now = 0
  const sampler = createProcessTreeSampler({
    units: { clockTicksPerSecond: 100, pageSizeBytes: 4096 },
    readTable: () => new Map([
      [10, entry(10, 1, ticks, 256)],
      [11, entry(11, 10, ticks, 256)],
      [12, entry(12, 11, 0, 512)],
      [20, entry(20, 1, 0, 1)],
    ]),
    nowMs: () => now,
    uptimeSeconds: () => 20,
  })
  const first = sampler.sample([10, 99])
  t.same([...first.keys()], [10], 'an unknown pid is absent')
  t.same(first.get(10), { cpuPercent: 20, memoryMb: 4, processes: 3 }, 'first sample: average since the root started (200 ticks over 10 s)')
  ticks += 50
  now += 2000
  t.same(sampler.sample([10]).get(10), { cpuPercent: 50, memoryMb: 4, processes: 3 }, '100 ticks over 2 s')
  ticks -= 80
  now += 1000
  t.equal(sampler.sample([10]).get(10)!.cpuPercent, 0, 'ticks leaving with an unreaped child are not negative work')
})

t.test('a real tree with a busy child', async t => {
  const sampler = createProcessTreeSampler()
  t.ok(systemUnits().clockTicksPerSecond > 0 && systemUnits().pageSizeBytes > 0)
  const agent = startFakeAgent(t, ['--busy-child'], { terminal: false })
  const [, busyPid] = await waitForOutput(agent, /BUSY (\d+)/, 'the busy child pid')
  await waitForOutput(agent, /READY/, 'READY')

  const leaderOnly = createProcessTreeSampler().sample([agent.pid]).get(agent.pid)!
  t.ok(leaderOnly, 'the leader is sampled')
  let sample = sampler.sample([agent.pid, Number(busyPid), 999_999_999])
  t.notOk(sample.has(999_999_999), 'an unknown pid is absent')
  // The busy child's tree is only itself; the leader's tree holds both.
  const childAlone = sample.get(Number(busyPid))!
  await waitUntil(() => {
    sample = sampler.sample([agent.pid, Number(busyPid)])
    return sample.get(agent.pid)!.cpuPercent > 0
  }, 'CPU above 0 for the tree', 10_000)
  const tree = sample.get(agent.pid)!
  t.ok(tree.processes >= 2, `the tree holds the leader and the child (${tree.processes})`)
  t.ok(tree.memoryMb > childAlone.memoryMb, 'the tree holds more memory than one of its processes')
  t.ok(tree.cpuPercent > 0, `CPU ${tree.cpuPercent}%`)

  await agent.stop(2000)
  t.notOk(sampler.sample([agent.pid]).has(agent.pid), 'an exited runner is absent')
})
