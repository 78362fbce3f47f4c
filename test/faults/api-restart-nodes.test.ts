// F12 (issue 10, "the API restarted while nodes report"): a control plane SIGKILLed and started
// again on the same port and database while two remote nodes (`stratavored supervisor --server
// --join-token`, each in its own process and data dir, with no database or broker settings)
// report. While it is down some agents exit (exit codes 0 and 7) and others keep running and use
// tokens. Each node keeps what it could not report in <data dir>/unreported.jsonl and replays it
// when the API is back (report-buffer.ts): every exit is recorded once, with its code, in the
// generation it happened in (not taken for an orphan and restarted); every agent that kept
// running is the same process in the same generation and its tokens count exactly once; each
// runner's events have no gap in seq and no transition twice; every event reaches the broker.
//
// The test acts on the agents through signals (the fake agent's --exit-on-usr2 and
// --turn-on-usr2), so what happens during the outage is decided by the test, not by a timer.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { asc, eq } from 'drizzle-orm'
import { outbox } from '../../src/adapters/db/schema.js'
import { adminTokenFile, failOnCrashLines, freePort, startDaemon, waitHealthy, type Daemon } from '../helpers/daemon.js'
import { openRig, requireServices, waitFor } from '../helpers/faults.js'
import { FAKE_AGENT, tempDir } from '../helpers/temp-dir.js'

type RunnerDto = { id: string, status: string, nodeId: string | null, exitCode: number | null, generation: number, restartAttempts: number, runtimeId: string | null, inputTokens: number, outputTokens: number }
type Kept = { kind: 'usage', beat: { runnerId: string, inputTokens: number } } | { kind: 'exited', runnerId: string }

const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }
const json = { 'content-type': 'application/json' }
// Each agent's one transcript record (fake-agent.mjs --claude-transcript).
const TURN = { input: 100, output: 10 }

t.test('the API SIGKILLed and restarted while two remote nodes report: nothing lost, nothing doubled', async t => {
  if (!requireServices(t)) return
  const rig = await openRig(t, { batchSize: 50 })
  const db = rig.ctx.database.db
  const [project] = await rig.projects(1)
  const home = tempDir(t, 'stv-api-restart-')
  const claudeDir = join(home, 'claude')
  mkdirSync(claudeDir)
  const agents = { fake: { kind: 'claude', command: [process.execPath, FAKE_AGENT], allow_flags: ['*'], env: { CLAUDE_CONFIG_DIR: claudeDir } } }
  // A heartbeat TTL (3 intervals) longer than the outage and the restart under load: a runner
  // taken for lost is recovered by its next beat, but this test is about the replay, not that.
  const apiConfig = join(home, 'api.yaml')
  writeFileSync(apiConfig, JSON.stringify({ daemon: { heartbeat_interval_seconds: 10 }, agents }))
  const nodeConfig = join(home, 'node.yaml')
  writeFileSync(nodeConfig, JSON.stringify({ daemon: { heartbeat_interval_seconds: 1 }, supervisor: { detect_agent_versions: false }, agents }))

  // The same port, admin token and data dir for both lives of the API: the nodes dial one URL.
  const admin = adminTokenFile()
  t.teardown(() => admin.cleanup())
  const apiEnv = { STRATAVORE_DAEMON_HTTP_PORT: String(await freePort()), STRATAVORE_SECURITY_ADMIN_TOKEN_FILE: admin.path, STRATAVORE_DAEMON_RECONCILE_INTERVAL_SECONDS: '1' }
  const startApi = async () => {
    const api = await rig.spawn('api relay reconciler', apiEnv, { configFile: apiConfig })
    await waitHealthy(api, 180_000)
    return api
  }
  let api = await startApi()
  const rest = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${api.url}${path}`, { method, headers: api.headers(json), ...(body ? { body: JSON.stringify(body) } : {}) })
    return { status: res.status, body: await res.json().catch(() => null) as Record<string, unknown> }
  }
  const runner = async (id: string) => (await rest('GET', `/api/v1/runners/${id}`)).body as unknown as RunnerDto

  const { token } = (await rest('POST', '/api/v1/nodes/join-tokens', { maxUses: 2 })).body as { token: string }
  const startNode = async (name: string) => {
    const dataDir = tempDir(t, `stv-node-${name}-`)
    const proc: Daemon = await startDaemon(['supervisor', '--config', nodeConfig, '--server', api.url, '--join-token', token], {
      HOME: home, STRATAVORE_DATA_DIR: dataDir, STRATAVORE_SUPERVISOR_NODE_NAME: name,
    })
    t.teardown(async () => { proc.child.kill('SIGTERM'); await proc.exited })
    failOnCrashLines(t, proc, `node ${name}`)
    return { name, proc, kept: join(dataDir, 'unreported.jsonl') }
  }
  const nodes = [await startNode('north'), await startNode('south')]
  const launch = async (node: string, flags: string[]) => {
    const res = await rest('POST', '/api/v1/runners', { project, agent: 'fake', node, flags: ['--claude-transcript', ...flags], maxRestartAttempts: 0 })
    t.equal(res.status, 201, 'launched', { body: res.body })
    return (res.body as unknown as RunnerDto).id
  }
  // On each node: two agents that exit during the outage (0: terminated; 7 with no restarts
  // left: failed) and one that keeps running and uses tokens.
  const plan: Array<{ node: typeof nodes[number], id: string, exitCode: number | null, status: string }> = []
  for (const node of nodes) {
    await waitFor(`node ${node.name} to be ready`, async () => {
      const list = (await rest('GET', '/api/v1/nodes')).body.nodes as Array<{ name: string, status: string }>
      return list.some(n => n.name === node.name && n.status === 'ready')
    }, { timeoutMs: 120_000, detail: () => node.proc.output().slice(-2000) })
    // --exit-on-usr2 comes first: its handler exits before the turn's runs.
    plan.push({ node, id: await launch(node.name, ['--exit-on-usr2', '0', '--turn-on-usr2']), exitCode: 0, status: 'terminated' })
    plan.push({ node, id: await launch(node.name, ['--exit-on-usr2', '7', '--turn-on-usr2']), exitCode: 7, status: 'failed' })
    plan.push({ node, id: await launch(node.name, ['--turn-on-usr2']), exitCode: null, status: 'running' })
  }
  const before = new Map<string, RunnerDto>()
  await waitFor('every runner to run on its node', async () => {
    for (const p of plan) before.set(p.id, await runner(p.id))
    return [...before.values()].every(r => r.status === 'running' && r.runtimeId)
  }, { timeoutMs: 120_000, detail: () => JSON.stringify([...before.values()].map(r => r.status)) })
  const pid = (id: string) => Number(before.get(id)!.runtimeId)
  const quitters = plan.filter(p => p.exitCode !== null)
  const stayers = plan.filter(p => p.exitCode === null)

  // Each agent's first turn (at start, once its SIGUSR2 handler is in place) is counted before the kill.
  await waitFor('the first turn of each agent to be counted', async () => {
    for (const p of plan) if ((await runner(p.id)).inputTokens !== TURN.input) return false
    return true
  }, { timeoutMs: 60_000 })

  api.child.kill('SIGKILL')
  t.same(await api.exited, { code: null, signal: 'SIGKILL' }, 'the API is gone')
  for (const q of quitters) process.kill(pid(q.id), 'SIGUSR2')
  // One signal each: two sent at once may arrive as one.
  for (const s of stayers) process.kill(pid(s.id), 'SIGUSR2')
  const keptOn = (node: { kept: string }): Kept[] => {
    try { return readFileSync(node.kept, 'utf8').split('\n').filter(Boolean).map(line => JSON.parse(line) as Kept) } catch { return [] }
  }
  // Each node has kept its two exits and the running agent's usage (both turns) on disk.
  for (const node of nodes) {
    await waitFor(`node ${node.name} to keep its reports on disk`, () => {
      const kept = keptOn(node)
      return plan.filter(p => p.node === node).every(p => p.exitCode === null
        ? kept.some(k => k.kind === 'usage' && k.beat.runnerId === p.id && k.beat.inputTokens === 2 * TURN.input)
        : kept.some(k => k.kind === 'exited' && k.runnerId === p.id))
    }, { timeoutMs: 30_000, detail: () => `${JSON.stringify(keptOn(node))}\n${node.proc.output().slice(-2000)}` })
  }
  for (const q of quitters) t.notOk(alive(pid(q.id)), 'the agent exited while the API was down')
  for (const s of stayers) t.ok(alive(pid(s.id)), 'the running agent runs on without the API')
  // The nodes go on failing to reach it for a few beats more before it is back.
  await new Promise(resolve => setTimeout(resolve, 2_000))
  for (const node of nodes) t.equal(node.proc.child.exitCode, null, `node ${node.name} stays up while the API is down`)

  api = await startApi()
  for (const node of nodes) {
    await waitFor(`node ${node.name}'s buffer to empty`, () => readFileSync(node.kept, 'utf8') === '',
      { timeoutMs: 60_000, detail: () => `${JSON.stringify(keptOn(node))}\n${node.proc.output().slice(-2000)}` })
  }
  const after = new Map<string, RunnerDto>()
  await waitFor('every exit recorded and every running agent counted', async () => {
    for (const p of plan) after.set(p.id, await runner(p.id))
    return plan.every(p => after.get(p.id)!.status === p.status && after.get(p.id)!.inputTokens === (p.exitCode === null ? 2 : 1) * TURN.input)
  }, { timeoutMs: 60_000, detail: () => JSON.stringify([...after.values()].map(r => ({ status: r.status, exitCode: r.exitCode, tokens: r.inputTokens }))) })

  for (const p of plan) {
    const was = before.get(p.id)!
    const now = after.get(p.id)!
    const label = `${p.node.name}/${p.id.slice(0, 8)} (${p.exitCode === null ? 'kept running' : `exited ${p.exitCode}`})`
    t.match(now, { status: p.status, exitCode: p.exitCode, generation: was.generation, restartAttempts: was.restartAttempts, nodeId: was.nodeId },
      `${label}: recorded as it happened, in the same generation`)
    if (p.exitCode === null) {
      t.equal(now.runtimeId, was.runtimeId, `${label}: the same process`)
      t.ok(alive(pid(p.id)), `${label}: still alive`)
    }
    const turns = p.exitCode === null ? 2 : 1
    t.match(now, { inputTokens: turns * TURN.input, outputTokens: turns * TURN.output }, `${label}: every turn counted once`)
    const events = await db.select({ type: outbox.eventType, seq: outbox.seq }).from(outbox).where(eq(outbox.aggregateId, p.id)).orderBy(asc(outbox.seq))
    t.same(events.map(e => e.seq), events.map((_, i) => i + 1), `${label}: event seqs 1..${events.length}, no gap, none twice`)
    const count = (type: string) => events.filter(e => e.type === type).length
    t.equal(count('runner.started'), 1, `${label}: started once`)
    t.equal(count('runner.restarting') + count('runner.rescheduled'), 0, `${label}: never restarted or handed over`)
    t.equal(count('runner.stopped') + count('runner.failed'), p.exitCode === null ? 0 : 1, `${label}: ${p.exitCode === null ? 'no' : 'one'} end`)
    if (p.exitCode !== null) t.equal(events.at(-1)?.type, p.status === 'terminated' ? 'runner.stopped' : 'runner.failed', `${label}: the end is its last event`)
  }
  for (const node of nodes) t.match(node.proc.output(), /replayed an exit kept while the control plane was unreachable/, `node ${node.name} replayed what it kept`)
  for (const node of nodes) t.notMatch(node.proc.output(), /refused a kept report/, `node ${node.name}: no kept report was refused`)
  await rig.drained(60_000)
  t.pass('every event of both lives of the API reached the broker')
})
