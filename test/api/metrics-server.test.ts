// The Prometheus port: open by default (it listens on loopback), and with
// docker.prometheus.token set, only to a scraper that sends it as a bearer token.
import t from 'tap'
import { buildMetricsServer } from '../../src/api/metrics-server.js'
import { buildContext } from '../helpers/app.js'

t.test('/metrics without a token configured answers anyone', async t => {
  const ctx = await buildContext(t)
  const app = buildMetricsServer(ctx)
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.body, /stratavore_runners_active/)
})

t.test('/metrics with docker.prometheus.token asks for it', async t => {
  const ctx = await buildContext(t, config => { config.docker.prometheus.token = 'scrape-secret-0123456789' })
  const app = buildMetricsServer(ctx)
  t.teardown(() => app.close())
  const none = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer')
  t.notMatch(none.body, /scrape-secret/)
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong-secret' } })).statusCode, 401)
  const ok = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-secret-0123456789' } })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /stratavore_tokens_used/)
})
