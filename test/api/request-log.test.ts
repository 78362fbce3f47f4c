// One line per request at debug, at warn only for a server error or a slow request
// (src/api/plugins/request-log.ts): a default (info) log is no longer a request log.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import t from 'tap'
import { buildApp } from '../../src/api/app.js'
import { requestLogLevel } from '../../src/api/plugins/request-log.js'
import { createContext } from '../../src/context.js'
import { testConfig } from '../helpers/app.js'
import { openTestDatabase } from '../helpers/database.js'

type Line = Record<string, unknown> & { level: number, msg: string }

t.test('the level of a request line', async t => {
  const level = (status: number, ms: number, streaming = false) => requestLogLevel({ status, ms, streaming }, 1000)
  t.equal(level(200, 3), 'debug')
  t.equal(level(404, 3), 'debug', 'a client error is the client\'s')
  t.equal(level(500, 3), 'warn', 'a server error stays visible')
  t.equal(level(503, 3), 'debug', 'a 503 of the database gate or the rate limit is summed up elsewhere')
  t.equal(level(200, 1000), 'warn', 'a slow request stays visible')
  t.equal(level(200, 600_000, true), 'debug', 'a stream lasts as long as its client watches')
  t.equal(level(500, 5, true), 'warn')
})

t.test('through the API: requests log at debug, with the token in a URL redacted', async t => {
  const lines: Line[] = []
  const stream = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Line); done() } })
  const ctx = await createContext(testConfig(t), pino({ level: 'debug' }, stream), { roles: ['api'], database: await openTestDatabase(t) })
  const app = await buildApp(ctx)
  t.teardown(() => app.close())
  await app.inject({ method: 'GET', url: '/api/v1/health' })
  await app.inject({ method: 'GET', url: '/api/v1/projects?token=stv_secret' })
  const requests = lines.filter(l => l.msg === 'request')
  t.match(requests, [
    { level: 20, method: 'GET', url: '/api/v1/health', status: 200, ms: Number },
    { level: 20, url: '/api/v1/projects?token=[redacted]', status: 400 },
  ])
  t.notOk(JSON.stringify(lines).includes('stv_secret'), 'the token is in no line')
})
