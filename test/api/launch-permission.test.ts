// A launch permission means only "launch": the flags and variables a request may add are the
// agent's config's to allow, refused alike on REST, RPC and the Lex WebUI route with nothing
// written; and the secrets a launch does carry are write-only on every read surface.
import t from 'tap'
import { count } from 'drizzle-orm'
import { events, outbox, runners } from '../../src/adapters/db/schema.js'
import { build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { rpcCall } from '../helpers/rpc-inject.js'

const SECRETS = {
  apiKey: 'sk-ant-api03-LAUNCHPERMabcdefghijklmnop',
  token: 'tok-LAUNCHPERM-hunter2-hunter2',
  envNamed: 'LAUNCHPERM-plain-but-named-secret',
  envShaped: 'ghp_LAUNCHPERM0123456789abcdefghijklmnopq',
}

t.test(`launch permissions on ${backendName()}`, async t => {
  const { app, ctx } = await build(t, config => {
    // Defaults: terminal and locale variables, no flags. `shell` is the finding's agent.
    config.agents.locked = { name: 'locked', kind: 'generic', command: ['/bin/sleep', '3600'], env: {} }
    config.agents.shell = { name: 'shell', kind: 'generic', command: ['/bin/sh'], env: {} }
    config.agents.picky = { name: 'picky', kind: 'generic', command: ['/bin/sleep', '3600'], env: {}, launchEnv: ['MY_*', 'PYTHONPATH'], allowFlags: ['--verbose', '--model=*'] }
  })
  const rows = async () => Promise.all([runners, outbox, events].map(async table => (await ctx.database.db.select({ n: count() }).from(table))[0]!.n))
  const project = await createProject(t, ctx, { maxConcurrentRunners: 50 })

  const refusals: Array<[label: string, body: Record<string, unknown>, code: string, message: RegExp]> = [
    ['the finding: sh -c', { agent: 'shell', flags: ['-c', 'id > /tmp/x'] }, 'FLAG_NOT_ALLOWED', /flag "-c" \(flags\[0\]\) is not allowed for agent "shell"/],
    ['any flag by default', { agent: 'locked', flags: ['--verbose'] }, 'FLAG_NOT_ALLOWED', /allows no flags/],
    ['a flag no pattern matches', { agent: 'picky', flags: ['--verbose', '--model=x', '--add-dir=/'] }, 'FLAG_NOT_ALLOWED', /"--add-dir=\/" \(flags\[2\]\).*allows --verbose, --model=\*/],
    ['a variable outside the default', { agent: 'locked', environment: { LANG: 'C', FOO: 'bar' } }, 'ENVIRONMENT_NOT_ALLOWED', /"FOO" may not be set for agent "locked"/],
    ['a variable outside launch_env', { agent: 'picky', environment: { LANG: 'C' } }, 'ENVIRONMENT_NOT_ALLOWED', /"LANG".*allows MY_\*, PYTHONPATH/],
    ['a loader variable through a glob', { agent: 'picky', environment: { MY_X: '1', LD_PRELOAD: '/tmp/x.so' } }, 'INVALID_ENVIRONMENT', /"LD_PRELOAD" may not be set/],
    ["the supervisor's own variables", { agent: 'picky', environment: { STRATAVORE_RUNNER_ID: 'x' } }, 'INVALID_ENVIRONMENT', /supervisor's own/],
  ]

  t.test('REST: 400 with a stable code naming the flag or variable, and nothing written', async t => {
    for (const [label, body, code, message] of refusals) {
      const before = await rows()
      const res = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, ...body } })
      t.equal(res.statusCode, 400, `${label}: 400`)
      t.match(res.json(), { code, detail: message }, `${label}: ${code}`)
      t.same(await rows(), before, `${label}: no runner, outbox or audit row`)
    }
  })

  t.test('RPC LaunchRunner: InvalidArgument with the same stable code, and nothing written', async t => {
    for (const [label, body, code, message] of refusals) {
      const before = await rpcCall(app, 'RunnerService/LaunchRunner', { project: project.name, ...body }).then(async r => ({ r, rows: await rows() }))
      t.equal(before.r.status, 400, `${label}: HTTP 400`)
      t.match(before.r.json, { code: 'invalid_argument', message }, `${label}: invalid_argument`)
      t.equal(before.r.detail, code, `${label}: ${code}`)
      t.same(await rows(), before.rows, `${label}: still nothing written`)
    }
  })

  t.test('Lex WebUI launch: the refusal as { error }, and nothing written', async t => {
    for (const [label, body, , message] of refusals) {
      const before = await rows()
      const res = await app.inject({ method: 'POST', url: '/api/v1/runners/launch', payload: { projectName: project.name, ...body } })
      t.equal(res.statusCode, 200, `${label}: the app's 200`)
      t.match(res.json(), { error: message }, `${label}: named`)
      t.same(await rows(), before, `${label}: nothing written`)
    }
  })

  t.test('what the config allows is launched as asked', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'picky', flags: ['--model=sonnet', '--verbose'], environment: { MY_MODE: 'fast', PYTHONPATH: '/opt/lib' } } })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { agent: 'picky', flags: ['--model=sonnet', '--verbose'], environment: { MY_MODE: 'fast', PYTHONPATH: '/opt/lib' } })
    const locked = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'locked', environment: { TERM: 'xterm', LC_ALL: 'C' } } })
    t.equal(locked.statusCode, 201, 'the default list: terminal and locale')
  })

  t.test('secrets in flags and environment are stored for the agent and masked on every read', async t => {
    const flags = [`--api-key=${SECRETS.apiKey}`, '--token', SECRETS.token, '--verbose']
    const environment = { OPENAI_API_KEY: SECRETS.envNamed, NOTE: SECRETS.envShaped, LANG: 'C' }
    const shownFlags = ['--api-key=********', '--token', '********', '--verbose']
    const shownEnv = { OPENAI_API_KEY: '********', NOTE: '********', LANG: 'C' }
    const leaks = (text: string) => Object.values(SECRETS).filter(s => text.includes(s))

    const launched = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'generic-test', flags, environment } })
    t.equal(launched.statusCode, 201)
    const id = launched.json().id as string
    t.same([launched.json().flags, launched.json().environment], [shownFlags, shownEnv], 'REST launch response')
    const stored = await ctx.runners.get(id)
    t.same([stored.flags, stored.environment], [flags, environment], 'the row keeps them for the agent')

    const reads = [
      (await app.inject({ method: 'GET', url: `/api/v1/runners/${id}` })).body,
      (await app.inject({ method: 'GET', url: `/api/v1/runners?project=${project.name}` })).body,
      (await app.inject({ method: 'GET', url: `/api/v1/runners/get?id=${id}` })).body,
      (await app.inject({ method: 'GET', url: `/api/v1/runners/list?project=${project.name}` })).body,
      JSON.stringify((await rpcCall(app, 'RunnerService/GetRunner', { id })).json),
      JSON.stringify((await rpcCall(app, 'RunnerService/ListRunners', { project: project.name })).json),
    ]
    for (const [i, body] of reads.entries()) t.same(leaks(body), [], `read ${i} shows no secret`)
    t.match(JSON.parse(reads[0]!), { flags: shownFlags, environment: shownEnv })
    t.match(JSON.parse(reads[2]!), { runner: { flags: shownFlags, environment: shownEnv } }, 'the WebUI runner')
    t.match((await rpcCall(app, 'RunnerService/GetRunner', { id })).json, { runner: { flags: shownFlags, environment: shownEnv } }, 'the RPC runner')

    const rpcLaunched = await rpcCall(app, 'RunnerService/LaunchRunner', { project: project.name, agent: 'generic-test', flags, environment })
    t.match(rpcLaunched.json, { runner: { flags: shownFlags, environment: shownEnv } }, 'RPC launch response')
    const webuiLaunched = await app.inject({ method: 'POST', url: '/api/v1/runners/launch', payload: { projectName: project.name, agent: 'generic-test', flags, environment } })
    t.same(leaks(webuiLaunched.body), [], 'WebUI launch response')

    const written = await ctx.database.db.select({ payload: outbox.payload }).from(outbox)
    const audited = await ctx.database.db.select({ data: events.data }).from(events)
    t.same(leaks(JSON.stringify(written) + JSON.stringify(audited)), [], 'no event (outbox or audit row) carries them')
  })

  t.test('a refused flag holding a secret is not echoed back', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: project.name, agent: 'picky', flags: ['--verbose', `--api-key=${SECRETS.apiKey}`] } })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { code: 'FLAG_NOT_ALLOWED', detail: /flag "--api-key=\*{8}" \(flags\[1\]\)/ })
    t.notMatch(res.body, SECRETS.apiKey)
  })
})
