import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { build } from '../helpers/app.js'

t.test('GET /api/v1/fleet/prs without a fleet is a 503 with error', async t => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/api/v1/fleet/prs' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { error: /no fleet is configured/ })
})

t.test('GET /api/v1/fleet/prs against a GitHub API stand-in', async t => {
  const requests: IncomingMessage[] = []
  let failAll = false
  const github = createServer((req, res) => {
    requests.push(req)
    if (failAll || req.url?.startsWith('/repos/acme/broken/')) {
      res.writeHead(500).end('{}')
      return
    }
    const repo = req.url!.split('/').slice(2, 4).join('/')
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([
      { number: 7, title: `fix ${repo}`, user: { login: 'ada' }, created_at: '2026-11-20T10:00:00Z', draft: true, assignees: [{ login: 'bob' }], html_url: `https://github.com/${repo}/pull/7` },
    ]))
  })
  await new Promise<void>(resolve => github.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => github.close(resolve)))
  const { port } = github.address() as AddressInfo

  const { app } = await build(t, config => {
    config.github.token = 'test-token'
    config.github.api_url = `http://127.0.0.1:${port}`
    config.github.fleet_repos = ['acme/api', 'acme/broken', 'acme/web']
  })
  const res = await app.inject({ method: 'GET', url: '/api/v1/fleet/prs' })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.total, 2, 'the broken repository is skipped')
  t.same(body.prs.map((p: { repo: string }) => p.repo).sort(), ['acme/api', 'acme/web'])
  t.same(body.prs[0], {
    repo: body.prs[0].repo, number: 7, title: `fix ${body.prs[0].repo}`, author: 'ada', created_at: '2026-11-20T10:00:00Z', draft: true, assignees: ['bob'],
    url: `https://github.com/${body.prs[0].repo}/pull/7`,
  })
  t.match(body.cached_at, /^\d{4}-\d\d-\d\dT/)
  t.equal(requests[0]!.headers.authorization, 'Bearer test-token')

  const seen = requests.length
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/fleet/prs' })).json().cached_at, body.cached_at, 'a second call is served from the cache')
  t.equal(requests.length, seen)
  failAll = true
  const stale = await app.inject({ method: 'GET', url: '/api/v1/fleet/prs?refresh=true' })
  t.equal(stale.statusCode, 200, 'refresh with GitHub down keeps the stale answer')
  t.equal(stale.json().total, 2)
  t.equal(requests.length, seen + 3, 'refresh asked GitHub again')
})
