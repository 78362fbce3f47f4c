// F11 (a supervisor host crash), with the handover: a node SIGKILLed with 10 runners. Each
// process is real and has its own data dir (the node identity lives there): the API and
// reconciler in one, and two supervisors. Once the dead
// node's runners are lost past daemon.lost_grace_seconds, the reconciler hands each to the other
// node in a new generation; every runner then runs exactly once, on the heir, and the processes
// of the dead node are gone.
//
// Twice: a host crash (no shims: its agents die with it), and a supervisor that dies alone and
// never comes back (shims: its agents live on, and each shim stops its agent before the runner
// is handed over, so no conversation ever runs on both nodes).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { eq, inArray } from 'drizzle-orm'
import { nodes, outbox, runners } from '../../src/adapters/db/schema.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitHealthy } from '../helpers/daemon.js'
import { openRig, requireServices, waitFor } from '../helpers/faults.js'
import { FAKE_AGENT } from '../helpers/temp-dir.js'

const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }

const scenarios = [
  { name: 'a host crash: a node SIGKILLed with 10 runners, handed over, each runs once', runners: 10, shim: false, lostGrace: 2 },
  { name: 'a supervisor SIGKILLed alone that never comes back: its shims stop its agents before the handover', runners: 3, shim: true, lostGrace: 4 },
]

for (const { name, runners: RUNNERS, shim, lostGrace } of scenarios) t.test(name, async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: 50 })
  const db = rig.ctx.database.db
  const [project] = await rig.projects(1)
  const configFile = join(tempDir(t, 'stv-failover-'), 'stratavore.yaml')
  writeFileSync(configFile, JSON.stringify({ agents: { fake: { kind: 'generic', command: [process.execPath, FAKE_AGENT], on_node_lost: 'reschedule' } } }))
  const timing = { STRATAVORE_DAEMON_HEARTBEAT_INTERVAL_SECONDS: '1', STRATAVORE_DAEMON_LOST_GRACE_SECONDS: String(lostGrace), STRATAVORE_DAEMON_RECONCILE_INTERVAL_SECONDS: '1' }
  const control = await rig.spawn('api reconciler', timing, { configFile })
  await waitHealthy(control)

  const supervisor = async (name: string) => {
    const proc = await rig.spawn('supervisor', {
      ...timing,
      STRATAVORE_DATA_DIR: tempDir(t, `stv-node-${name}-`),
      STRATAVORE_SUPERVISOR_NODE_NAME: name,
      // Without shims a host crash: its agents die with it. With them, a SIGKILLed supervisor's
      // agents live on (README, Agents outlive their supervisor) until its shims give up.
      STRATAVORE_SUPERVISOR_SHIM: String(shim && name === 'doomed'),
      // Supervisors sign the audit rows of their transitions with the control plane's key.
      STRATAVORE_SECURITY_AUDIT_KEY_FILE: join(rig.ctx.config.dataDir, 'audit.key'),
    }, { configFile })
    let id = ''
    await waitFor(`node ${name} to register`, async () => {
      const [row] = await db.select({ id: nodes.id, status: nodes.status }).from(nodes).where(eq(nodes.name, name))
      id = row?.status === 'ready' ? row.id : ''
      return id !== ''
    }, { detail: () => proc.describeExit() })
    return { proc, id }
  }

  const doomed = await supervisor('doomed')
  const ids: string[] = []
  for (let i = 0; i < RUNNERS; i++) {
    const res = await fetch(`${control.url}/api/v1/runners`, {
      method: 'POST', headers: control.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ project, agent: 'fake' }),
    })
    t.equal(res.status, 201)
    ids.push((await res.json() as { id: string }).id)
  }
  const rows = () => db.select().from(runners).where(inArray(runners.id, ids))
  await waitFor('every runner to run on the doomed node', async () => (await rows()).every(r => r.status === 'running' && r.nodeId === doomed.id),
    { timeoutMs: 60_000, detail: async () => JSON.stringify((await rows()).map(r => r.status)) })
  const before = new Map((await rows()).map(r => [r.id, r]))

  const heir = await supervisor('heir')
  doomed.proc.child.kill('SIGKILL')
  // Checked at every look: once any runner runs on the heir, none of the dead node's agents may still run.
  const twice = new Set<string>()
  await waitFor('every runner to run again, on the heir', async () => {
    const now = await rows()
    const oldAlive = [...before.values()].filter(r => alive(Number(r.runtimeId)))
    if (now.some(r => r.status === 'running' && r.nodeId === heir.id) && oldAlive.length > 0) for (const r of oldAlive) twice.add(r.id)
    return now.every(r => r.status === 'running' && r.nodeId === heir.id)
  }, { timeoutMs: 90_000, detail: async () => JSON.stringify((await rows()).map(r => `${r.status}@${r.nodeId === heir.id ? 'heir' : r.nodeId === doomed.id ? 'doomed' : r.nodeId}`)) })

  for (const r of await rows()) {
    const old = before.get(r.id)!
    t.ok(r.generation > old.generation, 'a new generation fences the dead node')
    const events = await db.select({ type: outbox.eventType, payload: outbox.payload }).from(outbox).where(eq(outbox.aggregateId, r.id))
    const moves = events.filter(e => e.type === 'runner.rescheduled')
    t.equal(moves.length, 1, 'handed over once')
    t.match(moves[0]?.payload, { data: { reason: 'node_lost', from_node_id: doomed.id, node_id: heir.id } })
    t.ok(alive(Number(r.runtimeId)), 'its process on the heir runs')
  }
  t.equal(new Set((await rows()).map(r => r.runtimeId)).size, RUNNERS, 'one process per runner')
  if (shim) t.same([...twice], [], 'no dead node\'s agent ran beside its heir\'s')
  // Without shims the dead supervisor's agents lose their terminal with it (SIGHUP).
  await waitFor('the dead node\'s agents to be gone', () => [...before.values()].every(r => !alive(Number(r.runtimeId))), { timeoutMs: 15_000 })
  t.pass('no runner runs twice')
})
