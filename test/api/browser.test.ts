// The browser's side of the security model, in Debian's Chromium (playwright-core drives the
// system browser; none is downloaded): the Lex WebUI served by the daemon signs in with
// /?token=, keeps an HttpOnly SameSite=Strict cookie and uses the API on its own origin, while
// pages from other origins (one same-site, which the cookie reaches, and one cross-site, which
// it does not) can neither read, nor change, nor open a socket. Then the same checks forged
// outside a browser, and DNS rebinding. CI must run this: a missing chromium fails there.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import t from 'tap'
import WebSocket from 'ws'
import { buildApp } from '../../src/api/app.js'
import { adminTokenOf, tempDir } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject, uniqueName } from '../helpers/fixtures.js'
import { buildSupervisedContext, waitForRunner } from '../helpers/supervisor.js'

const CHROMIUM = '/usr/bin/chromium'
const fixture = (name: string) => readFileSync(new URL(`../fixtures/browser/${name}`, import.meta.url), 'utf8')
const REBOUND = 'rebind.evil.example'

interface Seen { method: string, path: string, status: number, origin: string | undefined, cookie: boolean, code: string | undefined }

const waitFor = async (what: string, check: () => boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** What became of the attacker page's attempt `name`, once it is known. */
const outcome = async (page: Page, name: string): Promise<unknown> => {
  await page.waitForFunction(n => (globalThis as any).outcomes[n] !== undefined, name)
  return page.evaluate(n => (globalThis as any).outcomes[n], name)
}

t.test(`the Lex WebUI signed in, and pages from elsewhere, in Chromium on ${backendName()}`, async t => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI) t.fail(`${CHROMIUM} is missing: CI must run the browser tests (apt-get install chromium)`)
    else t.pass('browser tests', { skip: `${CHROMIUM} is missing (the browser tests are skipped outside CI)` })
    return
  }
  const dist = tempDir(t)
  writeFileSync(join(dist, 'index.html'), fixture('lex.html'))
  const { ctx } = await buildSupervisedContext(t, config => { config.webui.dir = dist })
  const app = await buildApp(ctx)
  t.teardown(() => app.close())
  // What the daemon answered, as the server saw it: the only proof that counts for a request
  // whose answer a cross-origin page is not allowed to read.
  const seen: Seen[] = []
  app.addHook('onSend', async (request, reply, payload) => {
    const code = typeof payload === 'string' && payload.startsWith('{') ? (JSON.parse(payload) as { code?: string }).code : undefined
    seen.push({ method: request.method, path: request.url.split('?')[0]!, status: reply.statusCode, origin: request.headers.origin, cookie: /stv_session=/.test(request.headers.cookie ?? ''), code })
    return payload
  })
  const reconciledBy: string[] = []
  const reconcile = ctx.reconciler.reconcile.bind(ctx.reconciler)
  ctx.reconciler.reconcile = async actor => { reconciledBy.push(actor); return reconcile(actor) }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const daemon = `http://127.0.0.1:${port}`
  const token = adminTokenOf(ctx)

  const project = await createProject(t, ctx)
  const runner = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: ['--echo'] }, 'test')
  await waitForRunner(ctx, runner.id, 'running')

  const attacker = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(fixture('attacker.html')))
  await new Promise<void>(resolve => attacker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => attacker.close(resolve)))
  const attackerPort = (attacker.address() as { port: number }).port

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', `--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`] })
  t.teardown(() => browser.close())
  const context = await browser.newContext()
  const lex = await context.newPage()

  t.test('opening /?token= signs the browser in and drops the token from the address', async t => {
    const landed = await lex.goto(`${daemon}/?token=${encodeURIComponent(token)}`)
    t.equal(landed?.status(), 200)
    t.equal(lex.url(), `${daemon}/`, 'the address bar no longer holds the token')
    t.equal(await lex.title(), 'Lex')
    const signIn = await landed!.request().redirectedFrom()!.response()
    t.equal(signIn?.status(), 303)
    t.equal(signIn?.headers()['cache-control'], 'no-store')
    t.equal(signIn?.headers()['referrer-policy'], 'no-referrer')
    const cookies = await context.cookies(daemon)
    t.match(cookies, [{ name: 'stv_session', httpOnly: true, sameSite: 'Strict', secure: false, path: '/' }])
    t.equal(cookies.length, 1)
    t.notOk(cookies[0]!.value.includes(token), 'the cookie is a session, not the token')
    t.equal(await lex.evaluate(() => (globalThis as any).document.cookie), '', 'scripts cannot read the session (HttpOnly)')
  })

  t.test('the signed-in page uses the API on its own origin', async t => {
    const list = await lex.evaluate(() => (globalThis as any).lex.get('/api/v1/runners/list')) as { status: number, body: { runners: Array<{ id: string }> } }
    t.equal(list.status, 200, 'a GET')
    t.ok(list.body.runners.some(r => r.id === runner.id))
    t.match(seen.find(s => s.path === '/api/v1/runners/list'), { origin: undefined, cookie: true, status: 200 }, 'on the cookie alone: Chromium sends no Origin on a same-origin GET, only Sec-Fetch-Site')

    await lex.evaluate(() => (globalThis as any).lex.socket('feed', '/api/v1/events'))
    await lex.waitForFunction(() => (globalThis as any).sockets.feed.opened || (globalThis as any).sockets.feed.closed !== null)
    t.equal(await lex.evaluate(() => (globalThis as any).sockets.feed.opened), true, 'the event feed opens')
    const dir = join(tempDir(t), 'work')
    mkdirSync(dir)
    const name = uniqueName('browser')
    const created = await lex.evaluate(([n, p]) => (globalThis as any).lex.post('/api/v1/projects/create', { name: n, path: p }), [name, dir]) as { status: number }
    t.equal(created.status, 200, 'a POST with a body')
    await lex.waitForFunction(n => (globalThis as any).sockets.feed.frames.some((f: any) => f.type === 'project.created' && f.project === n), name)
    t.pass('the feed delivers the project.created event to the page')

    const reconciled = await lex.evaluate(() => (globalThis as any).lex.post('/api/v1/reconcile')) as { status: number, body: unknown }
    t.equal(reconciled.status, 200, 'a body-less POST')
    t.match(reconciled.body, { reconciledCount: Number, failedRunnerIds: Array })
    t.same(reconciledBy, ['admin'], 'the reconcile ran, as the signed-in admin')

    await lex.evaluate(id => (globalThis as any).lex.socket('attach', `/api/v1/runners/${id}/attach?mode=read`), runner.id)
    await lex.waitForFunction(() => (globalThis as any).sockets.attach.frames.length > 0 || (globalThis as any).sockets.attach.closed !== null)
    t.match(await lex.evaluate(() => (globalThis as any).sockets.attach), { opened: true, frames: [{ type: 'hello', role: 'viewer' }] }, 'attach opens the runner\'s terminal')
  })

  // Same site (127.0.0.1, another port): the Strict cookie goes along, and the Origin check
  // alone must refuse. Cross-site (localhost): the browser does not even send the cookie.
  for (const [label, origin, cookieSent] of [['same-site', `http://127.0.0.1:${attackerPort}`, true], ['cross-site', `http://localhost:${attackerPort}`, false]] as const) {
    t.test(`a ${label} page (${origin}) in the same browser gets nothing`, async t => {
      const evil = await context.newPage()
      t.teardown(() => evil.close())
      await evil.goto(`${origin}/`)
      const from = () => seen.filter(s => s.origin === origin)
      const stop = `${daemon}/api/v1/runners/${runner.id}/stop`
      await evil.evaluate(([d, s, r]) => {
        const attack = (globalThis as any).attack
        attack.read('list', `${d}/api/v1/runners/list`)
        attack.post('reconcile', `${d}/api/v1/reconcile`)
        attack.post('stop', s)
        attack.form('form-stop', s)
        attack.socket('feed', `ws://${d!.slice('http://'.length)}/api/v1/events`)
        attack.socket('attach', `ws://${d!.slice('http://'.length)}/api/v1/runners/${r}/attach`)
      }, [daemon, stop, runner.id])
      t.equal(await outcome(evil, 'list'), 'refused', 'the page cannot read the runner list')
      t.equal(await outcome(evil, 'feed'), 'closed 1006', 'the event feed does not open')
      t.equal(await outcome(evil, 'attach'), 'closed 1006', 'attach does not open')
      for (const name of ['reconcile', 'stop', 'form-stop']) await outcome(evil, name)
      await waitFor('the daemon to answer all six', () => from().length >= 6)

      const answers = from()
      t.same(answers.map(s => `${s.method} ${s.path}`).sort(), [
        'GET /api/v1/events', 'GET /api/v1/runners/list', `GET /api/v1/runners/${runner.id}/attach`,
        'POST /api/v1/reconcile', `POST /api/v1/runners/${runner.id}/stop`, `POST /api/v1/runners/${runner.id}/stop`,
      ].sort(), 'every attempt reached the daemon')
      for (const s of answers) {
        // POSTs and upgrades are refused for their Origin before anything else; the read for
        // its Origin when it carries the cookie, and as unauthenticated when it does not.
        const byOrigin = s.method === 'POST' || s.path !== '/api/v1/runners/list' || cookieSent
        t.match(s, { status: byOrigin ? 403 : 401, code: byOrigin ? 'FORBIDDEN_ORIGIN' : 'UNAUTHENTICATED', cookie: cookieSent }, `${s.method} ${s.path}`)
      }
      t.same(reconciledBy, ['admin'], 'no reconcile ran')
      const after = await ctx.runners.get(runner.id)
      t.match(after, { status: 'running', desiredState: 'running' }, 'the runner still runs: no stop took effect')
    })
  }

  t.test('a valid cookie with a foreign Origin, forged outside a browser, is refused', async t => {
    const session = (await context.cookies(daemon)).find(c => c.name === 'stv_session')!.value
    const cookie = `stv_session=${session}`
    const call = (method: string, path: string, headers: Record<string, string>) =>
      fetch(`${daemon}${path}`, { method, headers: { cookie, ...headers } }).then(async r => ({ status: r.status, body: await r.json() as { code?: string } }))
    for (const [method, path] of [['POST', '/api/v1/reconcile'], ['POST', `/api/v1/runners/${runner.id}/stop`], ['GET', '/api/v1/runners/list']]) {
      const foreign = await call(method!, path!, { origin: 'http://evil.example' })
      t.equal(foreign.status, 403, `${method} ${path} from http://evil.example: 403`)
      t.equal(foreign.body.code, 'FORBIDDEN_ORIGIN')
    }
    t.equal((await call('GET', '/api/v1/runners/list', {})).status, 403, 'a cookie with neither Origin nor Sec-Fetch-Site')
    t.equal((await call('GET', '/api/v1/runners/list', { 'sec-fetch-site': 'cross-site' })).status, 403, 'a cookie sent cross-site')
    t.equal((await call('GET', '/api/v1/runners/list', { 'sec-fetch-site': 'same-site' })).status, 403, 'a cookie sent from a sibling origin')
    const upgrade = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/events`, { headers: { cookie }, origin: 'http://evil.example' })
      ws.once('open', () => { ws.close(); resolve(101) })
      ws.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode!) })
      ws.once('error', reject)
    })
    t.equal(upgrade, 403, 'the feed\'s upgrade with a foreign Origin')
    t.same(reconciledBy, ['admin'], 'no reconcile ran')
    t.match(await ctx.runners.get(runner.id), { status: 'running', desiredState: 'running' })
    t.equal((await call('GET', '/api/v1/runners/list', { origin: daemon })).status, 200, 'the same cookie from the daemon\'s own origin works')
  })

  t.test('a DNS-rebound name gets 421, in the browser and without one', async t => {
    const rebound = await context.newPage()
    t.teardown(() => rebound.close())
    const page = await rebound.goto(`http://${REBOUND}:${port}/`)
    t.equal(page?.status(), 421, 'the rebound page itself is not served')
    t.equal(await rebound.evaluate(() => fetch('/api/v1/runners/list').then(r => r.status)), 421, 'nor the API to a script on it')
    const direct = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/runners/list', headers: { host: `${REBOUND}:${port}`, authorization: `Bearer ${token}` } }, res => {
        let body = ''
        res.on('data', chunk => { body += String(chunk) }).on('end', () => resolve({ status: res.statusCode!, body }))
      })
      req.on('error', reject).end()
    })
    t.equal(direct.status, 421, 'even with a valid token')
    t.match(JSON.parse(direct.body), { status: 421, code: 'MISDIRECTED_HOST' })
  })

  t.test('the signed-in page stops the runner with a body-less POST', async t => {
    const stopped = await lex.evaluate(id => (globalThis as any).lex.post(`/api/v1/runners/${id}/stop`), runner.id) as { status: number }
    t.equal(stopped.status, 202)
    t.match(await ctx.runners.get(runner.id), { desiredState: 'stopped' })
    await waitForRunner(ctx, runner.id, 'terminated')
  })
})
