import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build, tempDir } from '../helpers/app.js'

t.test('serving a built Lex WebUI from webui.dir', async t => {
  const root = tempDir(t)
  const dist = join(root, 'dist')
  mkdirSync(join(dist, 'assets'), { recursive: true })
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Lex</title>')
  writeFileSync(join(dist, 'assets', 'app-1a2b.js'), 'console.log("lex")')
  writeFileSync(join(dist, 'favicon.svg'), '<svg/>')
  writeFileSync(join(root, 'secret.txt'), 'outside')
  symlinkSync(join(root, 'secret.txt'), join(dist, 'leak.txt'))

  const { app } = await build(t, config => {
    config.webui.dir = dist
    config.daemon.cors_origins = ['http://localhost:5173']
  })

  const index = await app.inject({ method: 'GET', url: '/' })
  t.equal(index.statusCode, 200)
  t.match(index.headers['content-type'], /text\/html/)
  t.equal(index.headers['cache-control'], 'no-cache')
  t.match(index.body, /<title>Lex<\/title>/)

  const asset = await app.inject({ method: 'GET', url: '/assets/app-1a2b.js' })
  t.equal(asset.statusCode, 200)
  t.match(asset.headers['content-type'], /javascript/)
  t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.match((await app.inject({ method: 'GET', url: '/favicon.svg' })).headers['content-type'], /image\/svg\+xml/)

  const route = await app.inject({ method: 'GET', url: '/projects/alpha/runners' })
  t.equal(route.statusCode, 200, 'a client-side route gets the app')
  t.match(route.body, /<title>Lex<\/title>/)

  for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/leak.txt', '/..%5c..%5csecret.txt']) {
    const res = await app.inject({ method: 'GET', url })
    t.notMatch(res.body, /outside/, `${url} does not leave webui.dir`)
  }

  const api = await app.inject({ method: 'GET', url: '/api/v1/nope' })
  t.equal(api.statusCode, 404, 'unknown API paths stay problems, not the app')
  t.match(api.headers['content-type'], /problem\+json/)
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/health' })).body, 'OK')

  const preflight = await app.inject({ method: 'OPTIONS', url: '/api/v1/projects/list', headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' } })
  t.equal(preflight.headers['access-control-allow-origin'], 'http://localhost:5173')
  const foreign = await app.inject({ method: 'GET', url: '/api/v1/health', headers: { origin: 'http://evil.example' } })
  t.notOk(foreign.headers['access-control-allow-origin'], 'origins not listed get no CORS headers')
})

t.test('without webui.dir nothing is served at /', async t => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 404)
  t.match(res.headers['content-type'], /problem\+json/)
  t.equal((await app.inject({ method: 'OPTIONS', url: '/api/v1/health', headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' } })).headers['access-control-allow-origin'], undefined)
})
