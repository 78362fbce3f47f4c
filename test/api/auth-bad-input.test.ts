// Credentials that must not work, on REST (and its WebSockets) and RPC: malformed, unknown,
// expired, revoked and wrong-role tokens; a session cookie without a matching Origin; a token
// in the query string anywhere but the sign-in URL; oversized headers. Each gets a clear
// problem (a Connect code on RPC), changes nothing, and no secret reaches the log, which is
// read here at its most verbose.
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import { createClient, type Interceptor } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { count, eq, sql } from 'drizzle-orm'
import { pino } from 'pino'
import t from 'tap'
import WebSocket from 'ws'
import { apiTokens, outbox } from '../../src/adapters/db/schema.js'
import { ProjectService } from '../../src/gen/stratavore/v1/project_pb.js'
import { bearer, build, tempDir, withToken } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { failureOf } from './rpc/helpers.js'

const withAuthorization = (value: string): Interceptor => next => async request => {
  request.header.set('authorization', value)
  return next(request)
}

t.test(`bad credentials on REST and RPC on ${backendName()}`, async t => {
  let log = ''
  const logger = pino({ level: 'trace' }, new Writable({ write (chunk, _encoding, done) { log += String(chunk); done() } }))
  const { app, ctx, token: admin } = await build(t, undefined, { logger })
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })
  const port = Number(new URL(baseUrl).port)
  const db = ctx.database.db
  const mint = async (name: string, role: string, ttlSeconds?: number) => {
    const { token, secret } = await ctx.tokens.create({ name, role, ...(ttlSeconds ? { ttlSeconds } : {}) }, 'test')
    return { id: token.id, secret }
  }
  const viewer = await mint('viewer-1', 'viewer')
  const expiring = await mint('expiring', 'operator', 60)
  const revoked = await mint('revoked', 'operator')
  // Secrets that must never be logged, and the ones that are refused below.
  const secrets = [admin, viewer.secret, expiring.secret, revoked.secret]
  const dir = tempDir(t)
  const create = (headers: Record<string, string | undefined>, name = 'never-made') => app.inject({ method: 'POST', url: '/api/v1/projects', headers, payload: { name, path: dir } })
  const changes = async () => (await db.select({ n: count() }).from(outbox))[0]!.n

  t.equal((await create(bearer(expiring.secret), 'made-in-time')).statusCode, 201, 'the expiring token works while it lives')
  await db.update(apiTokens).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(apiTokens.id, expiring.id))
  await ctx.tokens.revoke(revoked.id, 'test')
  const before = await changes()
  const signIn = await app.inject({ method: 'GET', url: `/?token=${encodeURIComponent(admin)}`, headers: { authorization: undefined } })
  const cookie = String(signIn.headers['set-cookie']).split(';')[0]!

  const refusals: Array<[label: string, headers: Record<string, string | undefined>, status: number, code: string]> = [
    ['no credential', { authorization: undefined }, 401, 'UNAUTHENTICATED'],
    ['an empty Bearer', { authorization: 'Bearer ' }, 401, 'UNAUTHENTICATED'],
    ['Basic instead of Bearer', { authorization: `Basic ${Buffer.from(`admin:${admin}`).toString('base64')}` }, 401, 'UNAUTHENTICATED'],
    ['two words after Bearer', { authorization: `Bearer ${admin} ${admin}` }, 401, 'UNAUTHENTICATED'],
    ['a lower-case scheme and no space', { authorization: `bearer${admin}` }, 401, 'UNAUTHENTICATED'],
    ['an unknown token', bearer('stv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), 401, 'UNAUTHENTICATED'],
    ['a token too short to be one', bearer('abc'), 401, 'UNAUTHENTICATED'],
    ['a 600-character token', bearer('x'.repeat(600)), 401, 'UNAUTHENTICATED'],
    ['an expired token', bearer(expiring.secret), 401, 'UNAUTHENTICATED'],
    ['a revoked token', bearer(revoked.secret), 401, 'UNAUTHENTICATED'],
    ['a viewer\'s token', bearer(viewer.secret), 403, 'PERMISSION_DENIED'],
    ['a session cookie with a foreign Origin', { authorization: undefined, cookie, origin: 'http://evil.example' }, 403, 'FORBIDDEN_ORIGIN'],
    ['a session cookie with no Origin', { authorization: undefined, cookie }, 403, 'FORBIDDEN_ORIGIN'],
    ['a forged session cookie', { authorization: undefined, cookie: 'stv_session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9.AAAA', host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` }, 401, 'UNAUTHENTICATED'],
    ['a valid token with a foreign Origin', { ...bearer(admin), origin: 'http://evil.example' }, 403, 'FORBIDDEN_ORIGIN'],
    ['a rebound Host', { ...bearer(admin), host: 'rebind.evil.example' }, 421, 'MISDIRECTED_HOST'],
  ]
  for (const [label, headers, status, code] of refusals) {
    const res = await create(headers)
    t.equal(res.statusCode, status, `${label}: ${status}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { status, code, detail: String, instance: '/api/v1/projects' }, `${label}: ${code}`)
    for (const secret of secrets) t.notOk(res.body.includes(secret), `${label}: the problem does not repeat a token`)
  }

  t.test('a token in the query string is refused anywhere but the sign-in URL', async t => {
    for (const url of [`/api/v1/projects?token=${admin}`, `/api/v1/runners?project=x&token=${admin}`, `/api/v1/health?token=${admin}`, `/api/v1/events?token=${admin}`]) {
      const res = await app.inject({ method: 'GET', url, headers: { authorization: undefined } })
      t.equal(res.statusCode, 400, `${url.split('?')[0]}?…token=: 400`)
      t.match(res.json(), { code: 'INVALID_ARGUMENT', detail: /query string/ })
    }
    const refused = await app.inject({ method: 'GET', url: `/?token=${revoked.secret}`, headers: { authorization: undefined } })
    t.equal(refused.statusCode, 401, 'signing in with a revoked token')
    t.equal(refused.headers['set-cookie'], undefined)
    t.equal((await app.inject({ method: 'GET', url: `/?token=${viewer.secret}`, headers: { authorization: undefined } })).statusCode, 303, 'the sign-in URL takes one')
  })

  t.test('the WebSocket feed refuses the same before the upgrade', async t => {
    const upgrade = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/events`, { headers })
      ws.once('open', () => { ws.close(); resolve(101) })
      ws.once('unexpected-response', (req, res) => { res.resume(); req.destroy(); resolve(res.statusCode!) })
      ws.once('error', reject)
    })
    t.equal(await upgrade({}), 401, 'no credential')
    t.equal(await upgrade(bearer(expiring.secret)), 401, 'expired')
    t.equal(await upgrade(bearer(revoked.secret)), 401, 'revoked')
    t.equal(await upgrade({ cookie, origin: 'http://evil.example' }), 403, 'a cookie from a foreign Origin')
  })

  t.test('RPC answers with Connect codes', async t => {
    const projects = (interceptor?: Interceptor) => createClient(ProjectService, createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: interceptor ? [interceptor] : [] }))
    const call = (interceptor?: Interceptor) => failureOf(projects(interceptor).createProject({ name: 'never-made', path: dir }))
    t.match(await call(), { code: 'Unauthenticated', detail: 'UNAUTHENTICATED' }, 'no credential')
    t.match(await call(withAuthorization('Basic abc')), { code: 'Unauthenticated', detail: 'UNAUTHENTICATED' }, 'malformed')
    t.match(await call(withToken('stv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')), { code: 'Unauthenticated', detail: 'UNAUTHENTICATED' }, 'unknown')
    t.match(await call(withToken(expiring.secret)), { code: 'Unauthenticated', detail: 'UNAUTHENTICATED' }, 'expired')
    t.match(await call(withToken(revoked.secret)), { code: 'Unauthenticated', detail: 'UNAUTHENTICATED' }, 'revoked')
    t.match(await call(withToken(viewer.secret)), { code: 'PermissionDenied', detail: 'PERMISSION_DENIED' }, 'a viewer')
  })

  t.test('oversized headers and broken HTTP get a clean problem', async t => {
    const raw = (request: string) => new Promise<{ head: string, body: Record<string, unknown> }>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1')
      let received = ''
      socket.on('data', chunk => { received += String(chunk) }).on('error', reject)
      socket.on('close', () => resolve({ head: received.slice(0, received.indexOf('\r\n\r\n')), body: JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as Record<string, unknown> }))
      socket.write(request)
    })
    const oversized = await raw(`POST /api/v1/projects HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${admin}\r\nx-filler: ${'a'.repeat(20 * 1024)}\r\ncontent-length: 2\r\n\r\n{}`)
    t.match(oversized.head, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
    t.match(oversized.head, /\r\ncontent-type: application\/problem\+json/)
    t.match(oversized.body, { status: 431, title: 'Request Header Fields Too Large', code: 'HEADERS_TOO_LARGE', detail: String })
    const broken = await raw(`GET /api/v1/projects HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${admin}\r\ncontent-length: x\r\n\r\n`)
    t.match(broken.head, /^HTTP\/1\.1 400 Bad Request\r\n/)
    t.match(broken.body, { status: 400, code: 'MALFORMED_REQUEST' })
  })

  t.test('nothing changed and nothing was logged', async t => {
    t.equal(await changes(), before, 'no event was written')
    t.same(await db.select({ n: count() }).from(apiTokens), [{ n: 3 }])
    t.ok(log.length > 0, 'the log was written')
    for (const secret of secrets) {
      t.notOk(log.includes(secret), 'a token never reaches the log')
      t.notOk(log.includes(Buffer.from(secret).toString('base64')), 'not even encoded')
    }
    t.notOk(log.includes(cookie.slice('stv_session='.length)), 'nor the session cookie')
    t.notOk(/rawPacket/.test(log), 'nor raw request bytes')
  })
})
