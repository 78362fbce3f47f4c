// A database that cannot be reached makes requests fail with a 503, not hang for the
// driver's connect timeout (reliability-and-performance.md F7, F9). No shared server is
// stopped: the "database" is a local port that accepts connections and never answers (what a
// host that drops packets looks like to the driver), or a port nobody listens on (a stopped
// server). The driver is the real postgres.js.
import net from 'node:net'
import t from 'tap'
import { openDatabase, ping, type Database } from '../../src/adapters/db/client.js'
import { isConnectionError } from '../../src/adapters/db/pg-errors.js'
import { createDaemonRepository } from '../../src/adapters/db/repositories/system.js'
import { buildApp } from '../../src/api/app.js'
import { pino } from 'pino'
import { createContext } from '../../src/context.js'
import { asAdmin, buildContext, testConfig } from '../helpers/app.js'
import { openTestDatabase } from '../helpers/database.js'

type TapTest = { teardown(fn: () => unknown): void }

/** A port that accepts connections and never sends a byte. */
const silentPort = async (t: TapTest): Promise<number> => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  }))
  return (server.address() as net.AddressInfo).port
}

/** A port that was free a moment ago: connecting to it is refused. */
const closedPort = async (): Promise<number> => {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

const openUnreachable = async (t: TapTest, url: string): Promise<Database> => {
  const database = await openDatabase({ kind: 'postgres', url, poolSize: 2 })
  t.teardown(() => database.close())
  return database
}

/** How a query ends, and how long it took. */
const outcomeOf = async (work: () => Promise<unknown>) => {
  const started = performance.now()
  try {
    await work()
    return { failed: false, connectionError: false, ms: performance.now() - started }
  } catch (err) {
    return { failed: true, connectionError: isConnectionError(err), ms: performance.now() - started }
  }
}

t.test('a host that never answers fails the query as a connection error within the 2 s connect timeout', async t => {
  const database = await openUnreachable(t, `postgres://postgres@127.0.0.1:${await silentPort(t)}/postgres`)
  const outcome = await outcomeOf(() => ping(database.db))
  t.match(outcome, { failed: true, connectionError: true })
  t.comment(`failed after ${Math.round(outcome.ms)} ms (connect timeout 2 s; it was 10 s)`)
})

t.test('connect_timeout in the URL overrides the default', async t => {
  const database = await openUnreachable(t, `postgres://postgres@127.0.0.1:${await silentPort(t)}/postgres?connect_timeout=1`)
  const outcome = await outcomeOf(() => ping(database.db))
  t.match(outcome, { failed: true, connectionError: true })
  t.comment(`failed after ${Math.round(outcome.ms)} ms (connect_timeout=1)`)
})

t.test('a stopped server (connection refused) fails the query at once', async t => {
  const database = await openUnreachable(t, `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`)
  const outcome = await outcomeOf(() => ping(database.db))
  t.match(outcome, { failed: true, connectionError: true })
  t.comment(`failed after ${Math.round(outcome.ms)} ms`)
})

t.test('GET /api/v1/health answers 503 problem+json with Retry-After within about 2 s when the database is unreachable', async t => {
  const ctx = await buildContext(t)
  const unreachable = await openUnreachable(t, `postgres://postgres@127.0.0.1:${await silentPort(t)}/postgres`)
  // The daemon's own context, except that the health check's repository reads the unreachable database.
  const app = asAdmin(await buildApp({ ...ctx, repos: { ...ctx.repos, daemons: createDaemonRepository(unreachable.db) } }), ctx)
  t.teardown(() => app.close())
  const started = performance.now()
  const res = await app.inject({ method: 'GET', url: '/api/v1/health' })
  const ms = performance.now() - started
  t.equal(res.statusCode, 503)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.headers['retry-after'], '5')
  t.hasStrict(res.json(), { status: 503, code: 'UNAVAILABLE', detail: 'the database is unavailable; retry shortly' })
  t.comment(`answered after ${Math.round(ms)} ms`)
})

t.test('after a connection error, API requests get 503 at once without waiting on the pool, until a probe reaches the database', async t => {
  // The gate's probe fails until the test says the database is back (it opens only when a probe fails too).
  const database = await openTestDatabase(t)
  let down = true
  const ctx = await createContext(testConfig(t), pino({ level: 'silent' }), { roles: ['api'], database: { ...database, probe: async () => { if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); await database.probe() } } })
  const refused = await openUnreachable(t, `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`)
  // Only the health check reads the unreachable database; every other route reads the real one.
  const app = asAdmin(await buildApp({ ...ctx, repos: { ...ctx.repos, daemons: createDaemonRepository(refused.db) } }), ctx)
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/projects' })).statusCode, 200, 'the gate starts closed')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode, 503, 'a connection error…')
  for (let i = 0; i < 100 && !ctx.databaseGate.isOpen(); i++) await new Promise(resolve => setTimeout(resolve, 20))
  t.ok(ctx.databaseGate.isOpen(), '…opens the gate (its probe failed too)')
  const gated = await app.inject({ method: 'GET', url: '/api/v1/projects' })
  t.equal(gated.statusCode, 503, 'a route whose database works is refused too: it never reached the pool')
  t.equal(gated.headers['retry-after'], '5')
  t.hasStrict(gated.json(), { code: 'UNAVAILABLE' })
  const rpc = await app.inject({ method: 'POST', url: '/stratavore.v1.ProjectService/ListProjects', headers: { 'content-type': 'application/json' }, payload: '{}' })
  t.equal(rpc.statusCode, 503, 'an RPC call too')
  t.match(rpc.json(), { code: 'unavailable', message: 'the database is unavailable; retry shortly' })
  t.equal((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200, 'what needs no database is served')
  // The database answers the probe again: the gate closes by itself.
  down = false
  const deadline = Date.now() + 20_000
  while (ctx.databaseGate.isOpen() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  t.notOk(ctx.databaseGate.isOpen(), 'a successful probe closes it')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/projects' })).statusCode, 200)
})
