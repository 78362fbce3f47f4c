import t from 'tap'
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { count, eq } from 'drizzle-orm'
import { createClient, createRouterTransport } from '@connectrpc/connect'
import { events, outbox, projects, runners } from '../../src/adapters/db/schema.js'
import { routerOptions, routes } from '../../src/api/rpc/routes.js'
import { ProjectService } from '../../src/gen/stratavore/v1/project_pb.js'
import { adminTokenOf, build, tempDir, withToken } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject, uniqueName } from '../helpers/fixtures.js'
import { failureOf } from './rpc/helpers.js'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'
interface Request { method: Method, url: string, payload?: string | object, headers?: Record<string, string> }
type Case = [label: string, request: Request, status: number, code: string]

const body = (method: Method, url: string, payload: object): Request => ({ method, url, payload })
// Raw text is sent byte for byte: `\ud800` stays a JSON escape, truncated JSON stays truncated.
const raw = (method: Method, url: string, text: string, contentType = 'application/json'): Request =>
  ({ method, url, payload: text, headers: { 'content-type': contentType } })
const get = (url: string): Request => ({ method: 'GET', url })
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

t.test(`bad input on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const tables = { projects, runners, outbox, events }
  const counts = async () => Object.fromEntries(await Promise.all(Object.entries(tables).map(async ([name, table]) =>
    [name, (await ctx.database.db.select({ n: count() }).from(table))[0]!.n])))

  t.test('every client mistake is a 4xx problem with a stable code and changes nothing', async t => {
    const dir = tempDir(t)
    const project = await createProject(t, ctx)
    const runner = await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
    const free = join(dir, 'free')
    mkdirSync(free)
    // Traversing paths below resolve to `free`, which exists and belongs to no project: only
    // the rule on their form refuses them.
    mkdirSync(join(dir, 'sub'))
    mkdirSync(join(free, 'inner'))
    const file = join(dir, 'a-file')
    writeFileSync(file, 'not a directory')
    const link = join(dir, 'link-to-project')
    symlinkSync(project.path, link)
    symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'))
    symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'))
    const name = () => uniqueName('bad')
    const create = (extra: object) => body('POST', '/api/v1/projects', { name: name(), path: free, ...extra })
    const launch = (extra: object) => body('POST', '/api/v1/runners', { project: project.name, agent: 'generic-test', ...extra })
    const webuiLaunch = (extra: object) => body('POST', '/api/v1/runners/launch', { projectName: project.name, agent: 'generic-test', ...extra })
    const stop = (payload: object) => body('POST', `/api/v1/runners/${runner.id}/stop`, payload)
    const quota = (payload: object) => body('PUT', `/api/v1/projects/${project.name}/quota`, payload)
    const big = 'x'.repeat(300 * 1024)

    const cases: Case[] = [
      // Bodies that are not JSON objects, or not JSON at all.
      ['malformed JSON', raw('POST', '/api/v1/projects', '{"name": "x", "path": }'), 400, 'MALFORMED_JSON'],
      ['truncated JSON', raw('POST', '/api/v1/projects', `{"name":"${name()}","path":"/tm`), 400, 'MALFORMED_JSON'],
      ['truncated JSON on a WebUI route', raw('POST', '/api/v1/runners/launch', `{"projectName":"${project.name}"`), 400, 'MALFORMED_JSON'],
      // An empty JSON body is "no body" (axios sends a JSON type on body-less POSTs); a route that needs one says so.
      ['empty body with a JSON content type', raw('POST', '/api/v1/projects', ''), 400, 'VALIDATION_FAILED'],
      ['empty body with a JSON content type on a WebUI route', raw('POST', '/api/v1/projects/create', ''), 400, 'VALIDATION_FAILED'],
      ['JSON null', raw('POST', '/api/v1/projects', 'null'), 400, 'VALIDATION_FAILED'],
      ['a JSON array', raw('POST', '/api/v1/projects', '[]'), 400, 'VALIDATION_FAILED'],
      ['text/plain', raw('POST', '/api/v1/projects', JSON.stringify({ name: name(), path: free }), 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['text/plain on a WebUI route', raw('POST', '/api/v1/projects/create', JSON.stringify({ name: name(), path: free }), 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a form body', raw('POST', '/api/v1/projects', `name=x&path=${free}`, 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['application/xml', raw('POST', '/api/v1/projects', '<project/>', 'application/xml'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a body over daemon.body_limit_bytes', create({ description: big }), 413, 'PAYLOAD_TOO_LARGE'],
      ['a launch over daemon.body_limit_bytes', launch({ prompt: big }), 413, 'PAYLOAD_TOO_LARGE'],
      ['__proto__ in a body', raw('POST', '/api/v1/projects', `{"__proto__":{"x":1},"name":"${name()}","path":"${free}"}`), 400, 'MALFORMED_JSON'],
      ['constructor.prototype in a body', raw('POST', '/api/v1/projects', `{"constructor":{"prototype":{"x":1}},"name":"${name()}","path":"${free}"}`), 400, 'MALFORMED_JSON'],
      ['__proto__ in a launch environment', raw('POST', '/api/v1/runners', `{"project":"${project.name}","environment":{"__proto__":{"x":"1"}}}`), 400, 'MALFORMED_JSON'],
      ['__proto__ on a WebUI route', raw('POST', '/api/v1/runners/launch', `{"projectName":"${project.name}","__proto__":{"god":true}}`), 400, 'MALFORMED_JSON'],
      // Shapes: unknown fields and wrong types are refused, never coerced or dropped.
      ['an unknown field on create', create({ colour: 'blue' }), 400, 'VALIDATION_FAILED'],
      ['an unknown field on stop', stop({ force: true, please: true }), 400, 'VALIDATION_FAILED'],
      ['an unknown field on quota', quota({ maxConcurrentRunners: 3, max: 4 }), 400, 'VALIDATION_FAILED'],
      ['an unknown field on a WebUI route', webuiLaunch({ colour: 'blue' }), 400, 'VALIDATION_FAILED'],
      ['force: "yes"', stop({ force: 'yes' }), 400, 'VALIDATION_FAILED'],
      ['timeoutSeconds: "10"', stop({ timeoutSeconds: '10' }), 400, 'VALIDATION_FAILED'],
      ['force: "yes" on the WebUI stop', body('POST', '/api/v1/runners/stop', { runnerId: runner.id, force: 'yes' }), 400, 'VALIDATION_FAILED'],
      ['maxConcurrentRunners: "5"', quota({ maxConcurrentRunners: '5' }), 400, 'VALIDATION_FAILED'],
      ['maxConcurrentRunners: 1.5', quota({ maxConcurrentRunners: 1.5 }), 400, 'VALIDATION_FAILED'],
      ['maxConcurrentRunners: 1e400', raw('PUT', `/api/v1/projects/${project.name}/quota`, '{"maxConcurrentRunners":1e400}'), 400, 'VALIDATION_FAILED'],
      ['maxConcurrentRunners: 10001', quota({ maxConcurrentRunners: 10_001 }), 400, 'VALIDATION_FAILED'],
      ['timeoutSeconds: 2^70', raw('POST', `/api/v1/runners/${runner.id}/stop`, '{"timeoutSeconds":1180591620717411303424}'), 400, 'VALIDATION_FAILED'],
      ['maxConcurrentRunners: -1', quota({ maxConcurrentRunners: -1 }), 400, 'VALIDATION_FAILED'],
      ['name: 123', body('POST', '/api/v1/projects', { name: 123, path: free }), 400, 'VALIDATION_FAILED'],
      ['tags: "a"', create({ tags: 'a' }), 400, 'VALIDATION_FAILED'],
      ['flags: "--verbose"', launch({ flags: '--verbose' }), 400, 'VALIDATION_FAILED'],
      ['environment value 1', launch({ environment: { FOO: 1 } }), 400, 'VALIDATION_FAILED'],
      ['god: "true"', launch({ god: 'true' }), 400, 'VALIDATION_FAILED'],
      // NUL bytes and lone surrogates, wherever they hide.
      ['NUL in a name', create({ name: 'a\u0000b' }), 400, 'INVALID_STRING'],
      ['a lone surrogate in a name', raw('POST', '/api/v1/projects', `{"name":"\\ud800","path":"${free}"}`), 400, 'INVALID_STRING'],
      ['NUL in a path', create({ path: `${free}\u0000/x` }), 400, 'INVALID_STRING'],
      ['a lone surrogate in a path', raw('POST', '/api/v1/projects', `{"name":"${name()}","path":"${free}\\udc00"}`), 400, 'INVALID_STRING'],
      ['NUL in a description', create({ description: 'a\u0000b' }), 400, 'INVALID_STRING'],
      ['a lone surrogate in a description', raw('POST', '/api/v1/projects', `{"name":"${name()}","path":"${free}","description":"x\\ud800y"}`), 400, 'INVALID_STRING'],
      ['NUL in a tag', create({ tags: ['ok', 'a\u0000b'] }), 400, 'INVALID_STRING'],
      ['NUL in a flag', launch({ flags: ['--ok', 'a\u0000b'] }), 400, 'INVALID_STRING'],
      ['a lone surrogate in a flag', raw('POST', '/api/v1/runners', `{"project":"${project.name}","agent":"generic-test","flags":["\\udfff"]}`), 400, 'INVALID_STRING'],
      ['NUL in an environment value', launch({ environment: { FOO: 'a\u0000b' } }), 400, 'INVALID_STRING'],
      ['a lone surrogate in an environment value', raw('POST', '/api/v1/runners', `{"project":"${project.name}","agent":"generic-test","environment":{"FOO":"\\ud800"}}`), 400, 'INVALID_STRING'],
      ['NUL in an environment name', launch({ environment: { 'FOO\u0000': 'x' } }), 400, 'INVALID_STRING'],
      ['NUL in a prompt', launch({ prompt: 'hello\u0000' }), 400, 'INVALID_STRING'],
      ['NUL in a WebUI create', body('POST', '/api/v1/projects/create', { name: 'a\u0000b', path: free }), 400, 'INVALID_STRING'],
      ['a lone surrogate in a WebUI launch flag', raw('POST', '/api/v1/runners/launch', `{"projectName":"${project.name}","flags":["\\ud800"]}`), 400, 'INVALID_STRING'],
      ['NUL in a path parameter', get('/api/v1/projects/a%00b'), 400, 'INVALID_STRING'],
      ['a lone surrogate in a JSON key', raw('POST', '/api/v1/runners', `{"project":"${project.name}","environment":{"\\ud800":"x"}}`), 400, 'INVALID_STRING'],
      ['NUL in a query string', get('/api/v1/sessions?project=a%00b'), 400, 'INVALID_STRING'],
      ['NUL in a WebUI query string', get('/api/v1/projects/get?name=a%00b'), 400, 'INVALID_STRING'],
      // Project paths.
      ['a relative path', create({ path: 'relative/dir' }), 400, 'INVALID_PROJECT_PATH'],
      ['a traversing path', create({ path: '/tmp/../etc/../nonexistent' }), 400, 'INVALID_PROJECT_PATH'],
      ['a traversing path to a free directory', create({ path: `${dir}/sub/../free` }), 400, 'INVALID_PROJECT_PATH'],
      ['a trailing /..', create({ path: `${free}/inner/..` }), 400, 'INVALID_PROJECT_PATH'],
      ['a "." segment', create({ path: `${dir}/./free` }), 400, 'INVALID_PROJECT_PATH'],
      ['a trailing /.', create({ path: `${free}/.` }), 400, 'INVALID_PROJECT_PATH'],
      ['a double slash', create({ path: `${dir}//free` }), 400, 'INVALID_PROJECT_PATH'],
      ['a double trailing slash', create({ path: `${free}//` }), 400, 'INVALID_PROJECT_PATH'],
      ['a missing path', create({ path: join(dir, 'missing') }), 400, 'INVALID_PROJECT_PATH'],
      ['a file, not a directory', create({ path: file }), 400, 'INVALID_PROJECT_PATH'],
      ['a path through a file', create({ path: join(file, 'sub') }), 400, 'INVALID_PROJECT_PATH'],
      ['a symlink loop', create({ path: join(dir, 'loop-a') }), 400, 'INVALID_PROJECT_PATH'],
      ['a path component too long for the file system', create({ path: join(dir, 'n'.repeat(300)) }), 400, 'INVALID_PROJECT_PATH'],
      ['an empty path', create({ path: '' }), 400, 'VALIDATION_FAILED'],
      ['no path', body('POST', '/api/v1/projects', { name: name() }), 400, 'VALIDATION_FAILED'],
      // Conflicts: names, and paths compared as realpaths.
      ['a duplicate name', create({ name: project.name }), 409, 'PROJECT_EXISTS'],
      ['a duplicate path', create({ path: project.path }), 409, 'PROJECT_PATH_TAKEN'],
      ['a duplicate path with a trailing slash', create({ path: `${project.path}/` }), 409, 'PROJECT_PATH_TAKEN'],
      ['a duplicate path spelt with .. (refused for its form first)', create({ path: `${project.path}/../work` }), 400, 'INVALID_PROJECT_PATH'],
      ['a symlink to an existing project directory', create({ path: link }), 409, 'PROJECT_PATH_TAKEN'],
      // Sizes and depths.
      ['65 flags', launch({ flags: Array.from({ length: 65 }, (_, i) => `--f${i}`) }), 400, 'VALIDATION_FAILED'],
      ['65 flags on the WebUI launch', webuiLaunch({ flags: Array.from({ length: 65 }, (_, i) => `--f${i}`) }), 400, 'VALIDATION_FAILED'],
      ['a flag of 4097 characters', launch({ flags: ['x'.repeat(4097)] }), 400, 'VALIDATION_FAILED'],
      ['33 tags', create({ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }), 400, 'VALIDATION_FAILED'],
      ['65 environment variables', launch({ environment: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, 'x'])) }), 400, 'VALIDATION_FAILED'],
      ['a name of 64 characters', create({ name: `a${'b'.repeat(63)}` }), 400, 'VALIDATION_FAILED'],
      ['a description of 2001 characters', create({ description: 'd'.repeat(2001) }), 400, 'VALIDATION_FAILED'],
      ['a description of 200000 characters', create({ description: 'd'.repeat(200_000) }), 400, 'VALIDATION_FAILED'],
      ['a path of 5000 characters', create({ path: `/${'p'.repeat(4999)}` }), 400, 'VALIDATION_FAILED'],
      ['arrays nested 20000 deep', raw('POST', '/api/v1/projects', `{"name":"${name()}","path":"${free}","description":${nested(20_000)}}`), 400, 'VALIDATION_FAILED'],
      ['objects nested 10000 deep', raw('POST', '/api/v1/runners', `{"project":"${project.name}","environment":${'{"A":'.repeat(10_000)}"x"${'}'.repeat(10_000)}}`), 400, 'VALIDATION_FAILED'],
      ['nesting under an unknown field', raw('POST', '/api/v1/runners/launch', `{"projectName":"${project.name}","x":${nested(20_000)}}`), 400, 'VALIDATION_FAILED'],
      // Injection-shaped identifiers never reach SQL as anything but values.
      ['SQL in a project name', create({ name: "x'; DROP TABLE projects;--" }), 400, 'VALIDATION_FAILED'],
      ['SQL in a launch project', launch({ project: "x' OR '1'='1" }), 400, 'VALIDATION_FAILED'],
      ['SQL in a runner id', get("/api/v1/runners/1'%20OR%201=1--"), 400, 'VALIDATION_FAILED'],
      ['SQL in a list filter', get("/api/v1/runners?project=x'%20OR%201=1--"), 400, 'VALIDATION_FAILED'],
      ['a repeated query parameter', get('/api/v1/runners?project=a&project=b'), 400, 'VALIDATION_FAILED'],
      ['an unknown query parameter', get('/api/v1/projects?colour=blue'), 400, 'VALIDATION_FAILED'],
      ['a bad status filter', get('/api/v1/projects?status=deleted'), 400, 'VALIDATION_FAILED'],
    ]

    const before = await counts()
    const statuses: number[] = []
    for (const [label, request, status, code] of cases) {
      const res = await app.inject(request)
      statuses.push(res.statusCode)
      t.equal(res.statusCode, status, `${label} -> ${status}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/, `${label}: problem+json`)
      t.hasStrict(res.json(), { status, code }, `${label}: ${code}`)
      t.match(res.json(), { type: String, title: String, detail: String }, `${label}: a full problem`)
    }
    t.same(statuses.filter(s => s >= 500), [], 'no case is a 5xx')
    t.same(await counts(), before, 'no rows added to projects, runners, outbox or events')
    t.hasStrict(await ctx.runners.get(runner.id), { status: 'pending', desiredState: 'running', stopForce: false }, 'the runner is untouched')
    t.hasStrict(await ctx.projects.get(project.name), { maxConcurrentRunners: 5, path: project.path }, 'the project is untouched')
  })

  t.test('a project path with "." or ".." segments is refused on every surface, naming the rule', async t => {
    const dir = tempDir(t)
    mkdirSync(join(dir, 'sub'))
    mkdirSync(join(dir, 'free'))
    const traversing = `${dir}/sub/../free`
    const before = await counts()
    const rest = await app.inject(body('POST', '/api/v1/projects', { name: uniqueName('dots'), path: traversing }))
    t.equal(rest.statusCode, 400)
    t.hasStrict(rest.json(), { code: 'INVALID_PROJECT_PATH' })
    t.match(rest.json().detail, /must not contain "\." or "\.\." segments/)
    const webui = await app.inject(body('POST', '/api/v1/projects/create', { name: uniqueName('dots'), path: traversing }))
    t.equal(webui.statusCode, 200, 'the Lex WebUI route answers a domain error as 200')
    t.match(webui.json(), { error: /must not contain "\." or "\.\." segments/ })
    const rpc = createClient(ProjectService, createRouterTransport(routes({ ctx, closing: new AbortController().signal }), { router: routerOptions(ctx), transport: { interceptors: [withToken(adminTokenOf(ctx))] } }))
    t.match(await failureOf(rpc.createProject({ name: uniqueName('dots'), path: traversing })), { code: 'InvalidArgument', detail: 'INVALID_PROJECT_PATH' })
    t.same(await counts(), before, 'nothing was created')
    const trailing = await app.inject(body('POST', '/api/v1/projects', { name: uniqueName('slash'), path: `${dir}/free/` }))
    t.equal(trailing.statusCode, 201, 'one trailing slash is accepted')
    t.equal(trailing.json().path, realpathSync(join(dir, 'free')), 'and the realpath is stored without it')
  })

  t.test('concurrent duplicates: one wins, the rest are 409s', async t => {
    const dirs = Array.from({ length: 8 }, (_, i) => {
      const dir = join(tempDir(t), `work-${i}`)
      mkdirSync(dir)
      return dir
    })
    const before = await counts()
    const sameName = uniqueName('race')
    const byName = await Promise.all(dirs.map(path => app.inject(body('POST', '/api/v1/projects', { name: sameName, path }))))
    t.same(byName.map(r => r.statusCode).sort(), [201, 409, 409, 409, 409, 409, 409, 409], 'one name, eight paths')
    t.same([...new Set(byName.filter(r => r.statusCode === 409).map(r => r.json().code))], ['PROJECT_EXISTS'])
    const winner = byName.find(r => r.statusCode === 201)!.json().path as string
    const free = dirs.filter(d => realpathSync(d) !== winner)
    const byPath = await Promise.all(free.map(() => app.inject(body('POST', '/api/v1/projects', { name: uniqueName('race'), path: free[0]! }))))
    t.same(byPath.map(r => r.statusCode).sort(), [201, 409, 409, 409, 409, 409, 409], 'one path, seven names')
    t.same([...new Set(byPath.filter(r => r.statusCode === 409).map(r => r.json().code))], ['PROJECT_PATH_TAKEN'])
    t.equal((await counts()).projects, before.projects + 2, 'exactly two projects were made')
  })

  t.test('SQL-shaped strings are stored literally', async t => {
    const dir = join(tempDir(t), 'work')
    mkdirSync(dir)
    const description = "'); DROP TABLE runners;--"
    const tags = ["' OR 1=1 --", 'a"b\\c', '$1; select pg_sleep(10)']
    const created = await app.inject(body('POST', '/api/v1/projects', { name: uniqueName('sql'), path: dir, description, tags }))
    t.equal(created.statusCode, 201)
    t.equal(created.json().description, description)
    t.same(created.json().tags, tags)
    const fetched = await app.inject(get(`/api/v1/projects/${created.json().name}`))
    t.equal(fetched.json().description, description, 'the description round-trips exactly')
    t.same(fetched.json().tags, tags, 'the tags round-trip exactly')
    const [row] = await ctx.database.db.select({ description: projects.description }).from(projects).where(eq(projects.name, created.json().name))
    t.equal(row!.description, description, 'stored as written')
    const [survivors] = await ctx.database.db.select({ n: count() }).from(runners)
    t.ok(survivors!.n >= 1, 'the runners table still exists and still has its rows')
    const launched = await app.inject(body('POST', '/api/v1/runners', { project: created.json().name, agent: 'generic-test', flags: [description], environment: { NOTE: description } }))
    t.equal(launched.statusCode, 201, 'runners still launch')
    t.same([launched.json().flags, launched.json().environment], [[description], { NOTE: description }])
    const lookups = [
      get(`/api/v1/projects/get?name=${encodeURIComponent("' OR '1'='1")}`),
      get(`/api/v1/runners/get?id=${encodeURIComponent("' OR 1=1--")}`),
      get(`/api/v1/sessions/get?session_id=${encodeURIComponent("x' OR '1'='1")}`),
    ]
    for (const request of lookups) {
      const res = await app.inject(request)
      t.equal(res.statusCode, 200, `${request.url}: a domain error on the WebUI surface`)
      t.same(Object.keys(res.json()), ['error'], `${request.url} finds nothing`)
    }
  })

  t.test('well-formed unicode is accepted and round-trips', async t => {
    const dir = join(tempDir(t), 'wörk 🦀')
    mkdirSync(dir)
    const description = 'crab 🦀, ünïcödé, 中文, \u2028 line separator, e\u0301'
    const res = await app.inject(body('POST', '/api/v1/projects', { name: uniqueName('uni'), path: dir, description, tags: ['🦀'] }))
    t.equal(res.statusCode, 201)
    t.hasStrict(res.json(), { path: realpathSync(dir), description })
    t.same(res.json().tags, ['🦀'])
  })

  t.test('daemon.body_limit_bytes is the configured limit', async t => {
    const small = await build(t, config => { config.daemon.body_limit_bytes = 4096 })
    const dir = join(tempDir(t), 'work')
    mkdirSync(dir)
    const over = await small.app.inject(body('POST', '/api/v1/projects', { name: uniqueName('lim'), path: dir, description: 'd'.repeat(5000) }))
    t.equal(over.statusCode, 413)
    t.hasStrict(over.json(), { code: 'PAYLOAD_TOO_LARGE', status: 413 })
    const under = await small.app.inject(body('POST', '/api/v1/projects', { name: uniqueName('lim'), path: dir, description: 'd'.repeat(1500) }))
    t.equal(under.statusCode, 201, 'a body under the limit is read')
  })
})
