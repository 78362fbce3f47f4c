// F2: the relay SIGKILLed again and again at random moments while events keep being written
// (reference plan §3.2 F2, scaled to CI: 5 kills). Whatever each kill interrupted, nothing is
// lost, and each kill costs at most one batch of duplicates, each identical to its original.
import t from 'tap'
import { envNumber, openRig, requireServices, waitFor } from '../helpers/faults.js'
import { launchInProcess, startWriter } from '../helpers/writer.js'

const BATCH = 20
const KILLS = Math.max(1, Math.round(envNumber('STRATAVORE_FAULT_CHAOS_KILLS', 5)))

t.test(`relay SIGKILLed ${KILLS} times at random under load`, async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: BATCH, pollIntervalMs: 100 })
  const write = launchInProcess(rig.ctx, await rig.projects(4))
  let written = 0
  const writer = startWriter({ ratePerSecond: 150, write: () => write(written++) })
  t.teardown(() => writer.stop())

  const delays: number[] = []
  for (let kill = 0; kill < KILLS; kill++) {
    const relay = await rig.spawn('relay')
    // Once it runs, at a random moment of its work: claiming, publishing, confirming or committing.
    await waitFor('the relay to start', () => relay.logs().some(l => l.msg === 'relay started'), { timeoutMs: 30_000 })
    const delay = 200 + Math.floor(Math.random() * 1300)
    delays.push(delay)
    await new Promise(resolve => setTimeout(resolve, delay))
    relay.child.kill('SIGKILL')
    await waitFor('the relay to die', () => relay.exit !== null)
  }
  t.comment(`killed after ${delays.join(', ')} ms of running`)

  const last = await rig.spawn('relay')
  const writes = await writer.stop()
  t.equal(writes.errors, 0, `every write went in (${writes.ok})`)
  await rig.drained(60_000)
  await rig.ledger.sync()
  await last.stop()

  const check = rig.ledger.check(await rig.outboxIds())
  t.same(check.lost, [], `0 lost of ${rig.ledger.entries.size}`)
  t.ok(check.duplicates <= KILLS * BATCH, `${check.duplicates} duplicate(s): at most one batch (${BATCH}) per kill`)
  t.same(check.inconsistent, [], 'duplicates carry the same event id, routing key and body')
  t.same(check.unknown, [])
})
