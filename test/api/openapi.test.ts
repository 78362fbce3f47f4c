import { readFileSync } from 'node:fs'
import t from 'tap'
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
})
