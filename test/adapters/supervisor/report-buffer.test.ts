// The disk buffer of a remote node's reports: while the API is unreachable an exit and each
// runner's latest usage are kept in <data_dir>/unreported.jsonl; a node restarted meanwhile
// still has them; they are replayed usage first, before the node reads its runners again; a
// replay the API refuses for good is dropped, not retried forever; one that fails while a replay
// is in flight is kept for the next round, never dropped.
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Code, ConnectError } from '@connectrpc/connect'
import t from 'tap'
import { createReportBuffer } from '../../../src/adapters/supervisor/report-buffer.js'
import type { RunnerBeat } from '../../../src/core/ports.js'
import type { Runner } from '../../../src/core/runners/runner.js'
import type { SupervisionPort } from '../../../src/core/supervisor/supervision-port.js'

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const beat = (runnerId: string, inputTokens: number): RunnerBeat => ({ runnerId, generation: 1, cpuPercent: 0, memoryMb: 0, inputTokens, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 })

/** A control plane the test can take away: every call is logged, and refused while it is down. */
const controlPlane = () => {
  const calls: string[] = []
  let down = false
  let refuse: Set<string> = new Set()
  const reach = (what: string) => {
    if (down) throw new ConnectError('connect ECONNREFUSED', Code.Unavailable)
    if (refuse.has(what)) throw new ConnectError('not yours', Code.PermissionDenied)
    calls.push(what)
  }
  const port = {
    claim: async () => { reach('claim'); return [] },
    assigned: async () => { reach('assigned'); return [] },
    exited: async (runner: Runner, generation: number, status: string) => { reach(`exited ${runner.id} ${generation} ${status}`); return null },
    heartbeat: async (beats: RunnerBeat[]) => { reach(`usage ${beats.map(b => `${b.runnerId}=${b.inputTokens}`).join(',')}`); return { accepted: [], fenced: [], paused: [] } },
  } as unknown as SupervisionPort
  return { port, calls, down: (value: boolean) => { down = value }, refuse: (what: string[]) => { refuse = new Set(what) } }
}

t.test('kept on disk while unreachable, replayed in order once back', async t => {
  const dataDir = t.testdir()
  const api = controlPlane()
  const buffer = createReportBuffer({ inner: api.port, dataDir, log: quiet })
  api.down(true)
  await t.rejects(buffer.heartbeat([beat('a', 10), beat('b', 5)]), 'the heartbeat still fails (the tick says so)')
  await t.rejects(buffer.heartbeat([beat('a', 30)]))
  t.equal(await buffer.exited({ id: 'a' } as Runner, 1, 'terminated', { code: 0, signal: null }, 'exited', Buffer.from('bye')), null, 'the exit is taken: the core need not retry it')
  t.equal(statSync(join(dataDir, 'unreported.jsonl')).mode & 0o777, 0o600)
  t.equal(buffer.pending(), 3, "one usage per runner (the latest) and the exit")
  await t.rejects(buffer.assigned(), 'nothing is read while they cannot be replayed')

  // The node restarts during the outage: a new buffer reads what the old one kept.
  const again = createReportBuffer({ inner: api.port, dataDir, log: quiet })
  t.equal(again.pending(), 3)
  api.down(false)
  await again.assigned()
  t.same(api.calls, ['usage b=5,a=30', 'exited a 1 terminated', 'assigned'], 'usage first, then the exit, then the read')
  t.equal(readFileSync(join(dataDir, 'unreported.jsonl'), 'utf8'), '', 'and the file is empty')
})

t.test('a replay the control plane refuses for good is dropped', async t => {
  const dataDir = t.testdir()
  const api = controlPlane()
  const buffer = createReportBuffer({ inner: api.port, dataDir, log: quiet })
  api.down(true)
  await buffer.exited({ id: 'gone' } as Runner, 2, 'failed', null, 'crashed')
  await buffer.exited({ id: 'kept' } as Runner, 1, 'terminated', null, 'done')
  api.down(false)
  api.refuse(['exited gone 2 failed'])
  await buffer.claim(1)
  t.same(api.calls, ['exited kept 1 terminated', 'claim'])
  t.equal(buffer.pending(), 0)
})

t.test('a report that fails while a replay is in flight is kept and replayed, not dropped', async t => {
  const dataDir = t.testdir()
  const api = controlPlane()
  // A heartbeat sent just before the outage hangs on its dead connection and times out only
  // once the API is back, while the buffer is replaying an exit it kept.
  let timeOut: (err: unknown) => void = () => {}
  let answerExit: () => void = () => {}
  let exitSent: () => void = () => {}
  const exitInFlight = new Promise<void>(resolve => { exitSent = resolve })
  let hangNextBeat = true
  let holdExits = false
  const port = {
    ...api.port,
    heartbeat: (beats: RunnerBeat[]) => {
      if (!hangNextBeat) return api.port.heartbeat(beats)
      hangNextBeat = false
      return new Promise<never>((_, reject) => { timeOut = reject })
    },
    exited: async (...args: Parameters<SupervisionPort['exited']>) => {
      if (holdExits) {
        exitSent()
        await new Promise<void>(resolve => { answerExit = resolve })
      }
      return api.port.exited(...args)
    },
  } as SupervisionPort
  const buffer = createReportBuffer({ inner: port, dataDir, log: quiet })
  const hanging = buffer.heartbeat([beat('a', 40)])
  api.down(true)
  await buffer.exited({ id: 'b' } as Runner, 1, 'terminated', { code: 0, signal: null }, 'exited')
  api.down(false)
  holdExits = true
  const reading = buffer.assigned()
  await exitInFlight
  timeOut(new ConnectError('the request timed out', Code.DeadlineExceeded))
  await t.rejects(hanging, 'the hanging heartbeat fails; its usage is kept')
  t.equal(buffer.pending(), 2, 'beside the exit being replayed')
  answerExit()
  await reading
  t.same(api.calls, ['exited b 1 terminated', 'usage a=40', 'assigned'], 'the usage kept meanwhile is replayed before the read')
  t.equal(buffer.pending(), 0)
  t.equal(readFileSync(join(dataDir, 'unreported.jsonl'), 'utf8'), '')
})
