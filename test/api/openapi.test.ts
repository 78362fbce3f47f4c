import { readFileSync } from 'node:fs'
import t from 'tap'
import { ROUTE_ACCESS } from '../../src/api/access-policy.js'
import { credentialHash } from '../../src/adapters/supervisor/node-identity.js'
import { OPENAPI_PATH, renderOpenapi } from '../../scripts/openapi-document.js'
import { build } from '../helpers/app.js'

t.test('openapi/openapi.json is what the route schemas generate (run `npm run openapi` after changing a route)', async t => {
  const checkedIn = readFileSync(OPENAPI_PATH, 'utf8')
  t.equal(await renderOpenapi(), checkedIn)
})

t.test('the daemon serves the document and a docs page', async t => {
  const { app } = await build(t)
  const doc = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(doc.statusCode, 200)
  t.equal(doc.json().openapi, '3.1.0')
  t.same(doc.json().paths, JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')).paths)
  const webuiRoutes = Object.entries(doc.json().paths as Record<string, Record<string, { tags?: string[] }>>)
    .filter(([, ops]) => Object.values(ops).some(op => op.tags?.includes('webui'))).map(([path]) => path).sort()
  t.same(webuiRoutes, [
    '/api/v1/health', '/api/v1/metrics', '/api/v1/projects/create', '/api/v1/projects/delete', '/api/v1/projects/get', '/api/v1/projects/list',
    '/api/v1/reconcile', '/api/v1/runners/get', '/api/v1/runners/launch', '/api/v1/runners/list', '/api/v1/runners/stop',
    '/api/v1/sessions/get', '/api/v1/sessions/list', '/api/v1/status', '/api/v1/fleet/prs',
  ].sort(), 'every Lex WebUI route is documented under tag webui')
  const docs = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-type'], /text\/html/)
  // Over plain HTTP on a LAN address, upgrade-insecure-requests sent the page's scripts to an
  // https:// nobody serves: a blank page (fastify/fastify-swagger#690).
  for (const url of ['/docs/', '/docs/static/swagger-initializer.js', '/docs/static/swagger-ui.css']) {
    const page = await app.inject({ method: 'GET', url })
    t.equal(page.statusCode, 200, url)
    const csp = String(page.headers['content-security-policy'])
    t.match(csp, /default-src 'self'/, `${url}: the CSP is sent`)
    t.notMatch(csp, /upgrade-insecure-requests/, `${url}: without upgrade-insecure-requests`)
  }
})

type Operation = { tags?: string[], responses?: Record<string, { content?: Record<string, unknown> }> }
const operations = () => Object.entries(JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')).paths as Record<string, Record<string, Operation>>)
  .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })))
// The methods Fastify reads a body for; on these every route can answer 413 and 415.
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'QUERY'])

t.test('the document holds the REST and WebUI routes only, each tagged, each with the problems it can send', async t => {
  const ops = operations()
  t.ok(ops.length > 20, 'the document has operations')
  t.same(ops.filter(o => o.path.startsWith('/stratavore.')).map(o => `${o.method} ${o.path}`), [], 'no Connect-RPC path (proto/ documents those)')
  t.same(ops.filter(o => !o.path.startsWith('/api/v1/')).map(o => `${o.method} ${o.path}`), [], 'every path is under /api/v1/')
  t.same(ops.filter(o => (o.op.tags ?? []).length === 0).map(o => `${o.method} ${o.path}`), [], 'every operation has a tag')
  const lacking = (statuses: string[], which: typeof ops) => which
    .filter(o => statuses.some(s => o.op.responses?.[s]?.content?.['application/problem+json'] === undefined))
    .map(o => `${o.method} ${o.path}`)
  const withBody = ops.filter(o => BODY_METHODS.has(o.method))
  t.ok(withBody.length > 5, 'there are body-taking routes')
  t.same(lacking(['413', '415'], withBody), [], 'every body-taking route documents 413 and 415 problems')
  t.same(lacking(['400'], ops), [], 'every route documents the 400 problem (a NUL byte is refused anywhere)')
})

t.test('the 413 and 415 the document promises are what body-taking routes send', async t => {
  const { app, ctx } = await build(t)
  const id = '00000000-0000-4000-8000-000000000000'
  // Each route with a credential it admits: a supervisor's routes take only a node's.
  const nodeCredential = 'openapi-test-node-credential-000000000000'
  await ctx.repos.supervision.registerNode({
    id, name: 'openapi-node', hostname: 'h', version: 'test', capacity: 1, credentialHash: credentialHash(nodeCredential), attachUrl: 'ws://127.0.0.1:9', attachKey: 'k',
  })
  for (const { path, method } of operations().filter(o => BODY_METHODS.has(o.method))) {
    const url = path.replace(/\{[^}]+\}/g, id)
    const auth = ROUTE_ACCESS[`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`] === 'node' ? { authorization: `Bearer ${nodeCredential}` } : {}
    const notJson = await app.inject({ method: method as 'POST', url, headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello' })
    t.equal(notJson.statusCode, 415, `${method} ${path} with text/plain`)
    t.match(notJson.headers['content-type'], /^application\/problem\+json/)
    const tooLarge = await app.inject({ method: method as 'POST', url, headers: auth, payload: { padding: 'x'.repeat(300 * 1024) } })
    t.equal(tooLarge.statusCode, 413, `${method} ${path} with a body over daemon.body_limit_bytes`)
    t.equal(tooLarge.json().code, 'PAYLOAD_TOO_LARGE')
  }
})
