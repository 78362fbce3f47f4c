// Revoking a token takes effect at once on every daemon sharing the database: the next request
// with it is refused on the other daemon too, and its open WebSockets there close with 4401.
// The two daemons are two contexts and apps of their own (own config, data dir, admin token)
// over one database.
import t from 'tap'
import { asc, eq } from 'drizzle-orm'
import { WebSocket } from 'ws'
import { events } from '../../src/adapters/db/schema.js'
import { CLOSE_CREDENTIAL_ENDED } from '../../src/api/ws/socket-registry.js'
import { bearer, build } from '../helpers/app.js'
import { backendName, openSharedTestDatabase } from '../helpers/database.js'

t.test(`a token revoked on one daemon is refused at once on another, on ${backendName()}`, async t => {
  const [first, second] = await openSharedTestDatabase(t)
  const a = await build(t, undefined, { database: first })
  const b = await build(t, undefined, { database: second })
  t.not(a.token, b.token, 'each daemon has its own admin token')

  const created = await a.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'ci-bot', role: 'viewer', description: 'for the test' } })
  t.equal(created.statusCode, 201)
  const { token, secret } = created.json() as { token: { id: string, name: string }, secret: string }
  t.match(secret, /^stv_/)
  t.equal(created.headers['cache-control'], 'no-store')
  const listed = (await b.app.inject({ method: 'GET', url: '/api/v1/tokens' })).json() as { tokens: Array<Record<string, unknown>> }
  t.match(listed.tokens.find(x => x.id === token.id), { name: 'ci-bot', role: 'viewer', createdBy: 'admin', revokedAt: null })
  t.notOk(JSON.stringify(listed).includes(secret), 'a listing never shows a secret')

  t.equal((await b.app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(secret) })).statusCode, 200, 'the token works on the other daemon')
  t.equal((await b.app.inject({ method: 'POST', url: '/api/v1/reconcile', headers: bearer(secret) })).statusCode, 403, 'within its role')

  const port = (await b.app.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1)
  const socket = new WebSocket(`ws://127.0.0.1:${port}/api/v1/events`, { headers: bearer(secret) })
  const closed = new Promise<number>(resolve => socket.on('close', code => resolve(code)))
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })

  const revoked = await a.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${token.id}` })
  t.equal(revoked.statusCode, 200)
  t.ok((revoked.json() as { token: { revokedAt: string | null } }).token.revokedAt, 'revokedAt is set')
  const refused = await b.app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(secret) })
  t.equal(refused.statusCode, 401, 'the next request on the other daemon is refused')
  t.match(refused.json(), { code: 'UNAUTHENTICATED' })
  t.equal(await closed, CLOSE_CREDENTIAL_ENDED, 'its open WebSocket there closes with 4401')

  t.equal((await a.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${token.id}` })).statusCode, 200, 'revoking again changes nothing')
  t.equal((await a.app.inject({ method: 'DELETE', url: '/api/v1/tokens/00000000-0000-7000-8000-000000000000' })).statusCode, 404)
  const audit = await a.ctx.database.db.select({ type: events.eventType, actor: events.actor, data: events.data }).from(events).where(eq(events.entityId, token.id)).orderBy(asc(events.id))
  t.match(audit, [{ type: 'token.created', actor: 'admin', data: { name: 'ci-bot', role: 'viewer' } }, { type: 'token.revoked', actor: 'admin' }], 'both in the audit log, naming who')
  t.notOk(JSON.stringify(audit).includes(secret), 'never with the secret')
})
