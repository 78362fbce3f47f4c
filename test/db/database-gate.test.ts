// The database gate's logging (issue 14): an outage reads as two warnings, one as the gate
// opens (why, and the first error) and one as it closes (how long, how many requests were
// refused at the door and how many failed), never a line with a stack per request.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import t from 'tap'
import { createDatabaseGate } from '../../src/adapters/db/database-gate.js'
import { databaseTimeout } from '../../src/adapters/db/query-guard.js'
import { buildApp } from '../../src/api/app.js'
import { createContext } from '../../src/context.js'
import { testConfig } from '../helpers/app.js'
import { openTestDatabase } from '../helpers/database.js'

type Line = Record<string, unknown> & { level: number, msg: string }

const capture = () => {
  const lines: Line[] = []
  const stream = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Line); done() } })
  return { lines, logger: pino({ level: 'debug' }, stream) }
}

const until = async (what: string, check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

const connectionClosed = () => Object.assign(new Error('write CONNECTION_CLOSED 127.0.0.1:5432'), { code: 'CONNECTION_CLOSED' })

t.test('one warning as the gate opens and one as it closes, with the counts of the outage', async t => {
  const { lines, logger } = capture()
  let reachable = false
  const gate = createDatabaseGate({ probe: async () => { if (!reachable) throw connectionClosed() }, log: logger })
  t.teardown(() => gate.close())

  // drizzle wraps the driver's error; the line names the driver's code, not the SQL.
  gate.trip(Object.assign(new Error('Failed query: select 1'), { cause: connectionClosed() }))
  for (let i = 0; i < 3; i++) gate.trip(connectionClosed())
  await until('the gate to open once its probe failed too', () => gate.isOpen())
  for (let i = 0; i < 5; i++) gate.refuse()
  t.equal(gate.reason(), 'unreachable')
  t.match(lines, [{ level: 40, msg: /^database gate opened/, reason: 'unreachable', code: 'CONNECTION_CLOSED' }], 'one warning as it opens')
  t.equal(lines.length, 1, 'and nothing for the failures and refusals that follow')

  reachable = true
  await until('the gate to close', () => !gate.isOpen())
  t.equal(lines.length, 2)
  t.match(lines[1], { level: 40, msg: /^database gate closed/, reason: 'unreachable', refused: 5, failed: 4 }, 'one warning as it closes, with the counts')
  t.type(lines[1]!.outageMs, 'number')
  t.notOk(lines.some(l => l.err), 'no stack')
})

t.test('a connection error while the database answers (one cut connection) leaves it closed', async t => {
  const { lines, logger } = capture()
  let probes = 0
  const gate = createDatabaseGate({ probe: async () => { probes++ }, log: logger })
  t.teardown(() => gate.close())
  for (let i = 0; i < 5; i++) gate.trip(connectionClosed())
  await until('the probe', () => probes > 0)
  await new Promise(resolve => setTimeout(resolve, 50))
  t.notOk(gate.isOpen())
  t.equal(probes, 1, 'one probe for the five errors')
  t.notOk(lines.some(l => l.level >= 40), 'no warning')
})

t.test('an operation past its deadline opens it as saturated', async t => {
  const { lines, logger } = capture()
  const gate = createDatabaseGate({ probe: async () => {}, log: logger })
  t.teardown(() => gate.close())
  gate.trip(databaseTimeout(5000))
  t.equal(gate.reason(), 'saturated')
  t.match(lines, [{ msg: /gate opened.*saturated/, reason: 'saturated', code: 'DATABASE_TIMEOUT' }])
  await until('the gate to close', () => !gate.isOpen())
  t.match(lines[1], { msg: /gate closed/, reason: 'saturated', refused: 0, failed: 1 })
})

t.test('through the API: refused requests are 503 problems that log nothing each, and the gate counts them', async t => {
  const { lines, logger } = capture()
  const database = await openTestDatabase(t)
  let down = true
  const probe = async () => { if (down) throw connectionClosed(); await database.probe() }
  const ctx = await createContext(testConfig(t), logger, { roles: ['api'], database: { ...database, probe } })
  const app = await buildApp(ctx)
  t.teardown(() => app.close())
  const before = lines.length
  ctx.databaseGate.trip(connectionClosed())
  await until('the gate to open', () => ctx.databaseGate.isOpen())
  const responses = await Promise.all(Array.from({ length: 20 }, () => app.inject({ method: 'GET', url: '/api/v1/projects' })))
  t.ok(responses.every(r => r.statusCode === 503 && r.headers['retry-after'] === '5'), '20 refused with 503 and Retry-After')
  const rpc = await app.inject({ method: 'POST', url: '/stratavore.v1.ProjectService/ListProjects', headers: { 'content-type': 'application/json' }, payload: '{}' })
  t.equal(rpc.statusCode, 503, 'an RPC call too')
  down = false
  await until('the gate to close', () => !ctx.databaseGate.isOpen())
  const outage = lines.slice(before).filter(l => l.msg !== 'request')
  t.match(outage, [
    { level: 40, msg: /gate opened/, component: 'database-gate' },
    { level: 40, msg: /gate closed/, component: 'database-gate', refused: 21, failed: 1 },
  ], 'the outage in two lines, with 21 refused')
  t.equal(outage.length, 2, 'and no line per refused request')
  t.notOk(lines.some(l => l.level >= 50), 'nothing at error level')
})
