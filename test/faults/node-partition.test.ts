// F14 (a partition that heals after the handover). A supervisor reaches Postgres through a TCP
// proxy the test cuts: cut off, it keeps its agents running while the reconciler hands its
// runners to the other node; when the link comes back, its first heartbeat is refused (409,
// fenced by generation) and it stops those processes itself. No runner runs twice once healed,
// and none "resurrects" on the old node.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { eq, inArray } from 'drizzle-orm'
import { nodes, outbox, runners } from '../../src/adapters/db/schema.js'
import { tempDir } from '../helpers/temp-dir.js'
import { waitHealthy } from '../helpers/daemon.js'
import { openRig, requireServices, waitFor } from '../helpers/faults.js'
import { FAKE_AGENT } from '../helpers/temp-dir.js'
import { openTcpProxy } from '../helpers/tcp-proxy.js'

const RUNNERS = 4
const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }

t.test('a partition that heals after the handover: the old node stops its processes', async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: 50 })
  const db = rig.ctx.database.db
  const [project] = await rig.projects(1)
  const configFile = join(tempDir(t, 'stv-partition-'), 'stratavore.yaml')
  writeFileSync(configFile, JSON.stringify({ agents: { fake: { kind: 'generic', command: [process.execPath, FAKE_AGENT], on_node_lost: 'reschedule' } } }))
  const timing = { STRATAVORE_DAEMON_HEARTBEAT_INTERVAL_SECONDS: '1', STRATAVORE_DAEMON_LOST_GRACE_SECONDS: '2', STRATAVORE_DAEMON_RECONCILE_INTERVAL_SECONDS: '1' }
  const control = await rig.spawn('api reconciler', timing, { configFile })
  await waitHealthy(control)

  const database = new URL(rig.databaseUrl)
  const link = await openTcpProxy(t, { host: database.hostname, port: Number(database.port || 5432) })
  const throughLink = new URL(rig.databaseUrl)
  throughLink.hostname = link.host
  throughLink.port = String(link.port)

  const supervisor = async (name: string, env: Record<string, string> = {}) => {
    const proc = await rig.spawn('supervisor', {
      ...timing,
      STRATAVORE_DATA_DIR: tempDir(t, `stv-node-${name}-`),
      STRATAVORE_SUPERVISOR_NODE_NAME: name,
      STRATAVORE_SECURITY_AUDIT_KEY_FILE: join(rig.ctx.config.dataDir, 'audit.key'),
      ...env,
    }, { configFile })
    let id = ''
    await waitFor(`node ${name} to register`, async () => {
      const [row] = await db.select({ id: nodes.id, status: nodes.status }).from(nodes).where(eq(nodes.name, name))
      id = row?.status === 'ready' ? row.id : ''
      return id !== ''
    }, { detail: () => proc.describeExit() })
    return { proc, id }
  }

  const islander = await supervisor('islander', { DATABASE_URL: throughLink.toString() })
  const ids: string[] = []
  for (let i = 0; i < RUNNERS; i++) {
    const res = await fetch(`${control.url}/api/v1/runners`, {
      method: 'POST', headers: control.headers({ 'content-type': 'application/json' }), body: JSON.stringify({ project, agent: 'fake' }),
    })
    t.equal(res.status, 201)
    ids.push((await res.json() as { id: string }).id)
  }
  const rows = () => db.select().from(runners).where(inArray(runners.id, ids))
  const where = async () => JSON.stringify((await rows()).map(r => `${r.status}@${r.nodeId === islander.id ? 'islander' : r.nodeId}`))
  await waitFor('every runner to run on the islander', async () => (await rows()).every(r => r.status === 'running' && r.nodeId === islander.id),
    { timeoutMs: 60_000, detail: where })
  const before = new Map((await rows()).map(r => [r.id, r]))

  const heir = await supervisor('heir')
  link.partition()
  await waitFor('every runner to run again, on the heir', async () => (await rows()).every(r => r.status === 'running' && r.nodeId === heir.id),
    { timeoutMs: 90_000, detail: where })
  t.ok([...before.values()].every(r => alive(Number(r.runtimeId))), 'cut off from the database, the islander kept its agents running')
  t.equal(islander.proc.exit, null, 'and did not exit')

  link.heal()
  await waitFor('the islander to stop the processes it no longer holds', () => [...before.values()].every(r => !alive(Number(r.runtimeId))),
    { timeoutMs: 60_000, detail: () => islander.proc.describeExit() })
  t.equal(islander.proc.exit, null, 'the islander is still up')
  for (const r of await rows()) {
    t.match(r, { status: 'running', nodeId: heir.id }, 'the runner still runs on the heir, once')
    t.ok(alive(Number(r.runtimeId)))
    const types = (await db.select({ type: outbox.eventType }).from(outbox).where(eq(outbox.aggregateId, r.id))).map(e => e.type)
    t.equal(types.filter(type => type === 'runner.rescheduled').length, 1, 'handed over once')
    t.notOk(types.includes('runner.recovered'), 'no late heartbeat brought it back on the old node')
  }
})
