// security.rate_limit_per_minute: one budget per credential across REST, WebSockets and RPC,
// counted after authentication (two tokens from one address do not share it), requests without
// a credential by address, health never limited, and 429 RATE_LIMITED with Retry-After.
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import t from 'tap'
import { credentialHash } from '../../src/adapters/supervisor/node-identity.js'
import { createRateLimiter } from '../../src/api/rate-limit.js'
import { ProjectService } from '../../src/gen/stratavore/v1/project_pb.js'
import { SystemService } from '../../src/gen/stratavore/v1/system_pb.js'
import { bearer, build, withToken } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { failureOf } from './rpc/helpers.js'

const LIMIT = 5

t.test('the limiter counts one fixed minute per key', async t => {
  let now = 1_000_000
  const limiter = createRateLimiter(2, () => now)
  t.same(limiter.hit('a'), { current: 1, ttl: 60_000 })
  now += 10_000
  t.same(limiter.hit('a'), { current: 2, ttl: 50_000 })
  t.same(limiter.hit('b'), { current: 1, ttl: 60_000 }, 'keys are counted apart')
  t.throws(() => limiter.take('a'), { code: 'RATE_LIMITED', kind: 'resource_exhausted', details: { limit: 2, retryAfterSeconds: 50 } })
  now += 50_000
  t.same(limiter.hit('a'), { current: 1, ttl: 60_000 }, 'a new window starts once the minute is over')
  const off = createRateLimiter(0, () => now)
  for (let i = 0; i < 10; i++) off.take('a')
  t.pass('0 never refuses')
})

t.test(`REST and RPC share a credential's budget on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => { config.security.rate_limit_per_minute = LIMIT })
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })
  const tokenOf = async (name: string) => (await ctx.tokens.create({ name, role: 'viewer' }, 'test')).secret
  const [first, second, third] = [await tokenOf('first'), await tokenOf('second'), await tokenOf('third')]
  const list = (token: string) => app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(token) })

  for (let i = 1; i <= LIMIT; i++) {
    const res = await list(first)
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-ratelimit-remaining'], String(LIMIT - i), `request ${i}: ${LIMIT - i} left`)
  }
  const refused = await list(first)
  t.equal(refused.statusCode, 429, `request ${LIMIT + 1} is refused`)
  t.match(refused.headers['content-type'], /^application\/problem\+json/)
  t.match(refused.json(), { status: 429, title: 'Too Many Requests', code: 'RATE_LIMITED', instance: '/api/v1/projects', detail: /security\.rate_limit_per_minute/ })
  const retryAfter = Number(refused.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${refused.headers['retry-after']}`)
  t.notOk(refused.body.includes(first), 'the problem does not repeat the token')

  t.equal((await list(second)).statusCode, 200, 'another token from the same address has its own budget')
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/projects' })).statusCode, 200, 'so has the admin token')

  const transport = (token: string) => createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [withToken(token)] })
  t.match(await failureOf(createClient(ProjectService, transport(first)).listProjects({})), { code: 'ResourceExhausted', detail: 'RATE_LIMITED' }, 'RPC with a spent token')
  const rpc = createClient(ProjectService, transport(third))
  for (let i = 0; i < LIMIT; i++) await rpc.listProjects({})
  t.equal((await list(third)).statusCode, 429, 'RPC calls spend the REST budget too')

  for (let i = 0; i < 3 * LIMIT; i++) {
    t.equal((await app.inject({ method: 'GET', url: '/api/v1/health', headers: { authorization: undefined } })).statusCode, 200)
    await createClient(SystemService, createConnectTransport({ baseUrl, httpVersion: '1.1' })).health({})
  }
  t.pass('health, REST and RPC, is never limited')

  t.test('requests without a credential are counted by address', async t => {
    const doc = (remoteAddress: string) => app.inject({ method: 'GET', url: '/openapi.json', headers: { authorization: undefined }, remoteAddress })
    for (let i = 0; i < LIMIT; i++) t.equal((await doc('192.0.2.1')).statusCode, 200)
    t.equal((await doc('192.0.2.1')).statusCode, 429)
    t.equal((await doc('192.0.2.2')).statusCode, 200, 'another address is not')
  })
})

t.test(`0 turns the limit off on ${backendName()}`, async t => {
  const { app } = await build(t, config => { config.security.rate_limit_per_minute = 0 })
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({ method: 'GET', url: '/api/v1/projects' })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-ratelimit-limit'], undefined)
  }
})

t.test(`a node that floods reports is limited by its own credential on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => { config.security.rate_limit_per_minute = LIMIT })
  const nodeOf = async (n: number) => {
    const id = `01900000-0000-7000-8000-0000000f100${n}`
    const credential = `a-flooding-node-credential-of-length-00${n}`
    await ctx.repos.supervision.registerNode({ id, name: `flood-${n}`, hostname: 'flood', version: 'test', capacity: 1, credentialHash: credentialHash(credential), attachUrl: 'ws://127.0.0.1:9', attachKey: 'k' })
    return (body: unknown = { heartbeats: [] }) => app.inject({ method: 'POST', url: `/api/v1/nodes/${id}/heartbeats`, payload: body as object, headers: bearer(credential) })
  }
  const flooding = await nodeOf(1)
  const quiet = await nodeOf(2)
  for (let i = 1; i <= LIMIT; i++) t.equal((await flooding()).statusCode, 200, `report ${i}`)
  const refused = await flooding()
  t.equal(refused.statusCode, 429, 'the report past the limit is refused')
  t.match(refused.json(), { code: 'RATE_LIMITED' })
  t.equal((await flooding({ heartbeats: 'not a list' })).statusCode, 429, 'counted before the body is looked at')
  t.equal((await quiet()).statusCode, 200, 'another node has its own budget')
})
