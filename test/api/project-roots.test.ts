// Projects live only under security.project_roots, never at `/`, and never in, at or around the
// daemon's data dir: refused alike on REST, RPC and the Lex WebUI route, by realpath (a symlink
// inside a root pointing out is refused), with nothing written. A launch looks again.
import { mkdirSync, renameSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'
import { count } from 'drizzle-orm'
import { events, outbox, projects, runners } from '../../src/adapters/db/schema.js'
import { build, tempDir } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { uniqueName } from '../helpers/fixtures.js'
import { rpcCall } from '../helpers/rpc-inject.js'

t.test(`project roots on ${backendName()}`, async t => {
  const root = tempDir(t, 'stv-root-')
  const outside = tempDir(t, 'stv-outside-')
  const { app, ctx } = await build(t, config => {
    config.projectRoots = [root]
  })
  const rows = async () => Promise.all([projects, runners, outbox, events].map(async table => (await ctx.database.db.select({ n: count() }).from(table))[0]!.n))
  const dataDir = ctx.config.dataDir
  mkdirSync(join(dataDir, 'inside'), { recursive: true })
  mkdirSync(join(root, 'ok'))
  symlinkSync(outside, join(root, 'escape'))
  symlinkSync(dataDir, join(root, 'to-data'))

  const refused: Array<[label: string, path: string, reason: RegExp]> = [
    ['a directory outside every root', outside, /is outside security\.project_roots/],
    ['the root directory', '/', /the root directory cannot be a project/],
    ['the data dir', dataDir, /inside the daemon's data directory/],
    ['a directory inside the data dir', join(dataDir, 'inside'), /inside the daemon's data directory/],
    ['a directory holding the data dir', dirname(dataDir), /contains the daemon's data directory/],
    ['a symlink in a root pointing outside it', join(root, 'escape'), /is outside security\.project_roots/],
    ['a symlink in a root pointing at the data dir', join(root, 'to-data'), /inside the daemon's data directory/],
  ]

  t.test('REST: 400 PROJECT_PATH_NOT_ALLOWED, nothing written', async t => {
    for (const [label, path, reason] of refused) {
      const before = await rows()
      const res = await app.inject({ method: 'POST', url: '/api/v1/projects', payload: { name: uniqueName('roots'), path } })
      t.equal(res.statusCode, 400, `${label}: 400`)
      t.match(res.json(), { code: 'PROJECT_PATH_NOT_ALLOWED', detail: reason }, `${label}: named`)
      t.same(await rows(), before, `${label}: no project or event row`)
    }
  })

  t.test('RPC CreateProject: InvalidArgument PROJECT_PATH_NOT_ALLOWED, nothing written', async t => {
    for (const [label, path, reason] of refused) {
      const before = await rows()
      const res = await rpcCall(app, 'ProjectService/CreateProject', { name: uniqueName('roots'), path })
      t.match(res, { status: 400, json: { code: 'invalid_argument', message: reason }, detail: 'PROJECT_PATH_NOT_ALLOWED' }, label)
      t.same(await rows(), before, `${label}: nothing written`)
    }
  })

  t.test('Lex WebUI create: the refusal as { error }, nothing written', async t => {
    for (const [label, path, reason] of refused) {
      const before = await rows()
      const res = await app.inject({ method: 'POST', url: '/api/v1/projects/create', payload: { name: uniqueName('roots'), path } })
      t.match(res.json(), { error: reason }, label)
      t.same(await rows(), before, `${label}: nothing written`)
    }
  })

  t.test('a directory under a root is a project', async t => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/projects', payload: { name: uniqueName('roots'), path: join(root, 'ok') } })
    t.equal(res.statusCode, 201)
  })

  t.test('a launch refuses a project whose directory was swapped for a symlink after creation', async t => {
    const dir = join(root, 'swapped')
    mkdirSync(dir)
    const name = uniqueName('swap')
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/projects', payload: { name, path: dir } })).statusCode, 201)
    renameSync(dir, `${dir}-was`)
    symlinkSync(outside, dir)
    const before = await rows()
    const res = await app.inject({ method: 'POST', url: '/api/v1/runners', payload: { project: name, agent: 'generic-test' } })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { code: 'PROJECT_PATH_NOT_ALLOWED', detail: /now resolves to/ })
    t.same(await rows(), before, 'no runner written')
  })
})
