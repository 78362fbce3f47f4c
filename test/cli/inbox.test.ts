// `stratavore inbox` and the ACTIVITY column against a real daemon: a runner whose agent's hook
// asked for a permission is listed with what it asks, in the table and as GET /api/v1/inbox's
// shape with --json; `--watch` prints again when another starts waiting.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { CLI, eventually, startCliDaemon } from './helpers.js'

const HOOK_AGENT = fileURLToPath(new URL('../fixtures/hook-agent.mjs', import.meta.url))

t.test('stratavore inbox', async t => {
  const d = await startCliDaemon(t, { agents: { hooky: { kind: 'claude', command: [process.execPath, HOOK_AGENT] } } })
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${d.url}${path}`, { method, headers: { authorization: `Bearer ${d.token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) })
    return res.json() as Promise<Record<string, unknown>>
  }
  await api('POST', '/api/v1/projects', { name: 'inbox-demo', path: d.dir('inbox-demo') })

  t.match((await d.run(['inbox'])).stderr, /no runner waits for you/)

  const first = await api('POST', '/api/v1/runners', { project: 'inbox-demo', agent: 'hooky' }) as { id: string }
  const items = await eventually('the runner in the inbox', async () => {
    const r = await d.run(['inbox', '--json'])
    const parsed = JSON.parse(r.stdout) as { items: Array<Record<string, unknown>> }
    return parsed.items.length > 0 ? parsed.items : undefined
  }, 60_000)
  t.match(items, [{ runnerId: first.id, project: 'inbox-demo', agent: 'hooky', state: 'waiting_permission', source: 'hook', detail: 'Bash: make deploy' }])
  t.same(Object.keys(items[0]!).sort(), Object.keys(((await api('GET', '/api/v1/inbox')).items as Array<Record<string, unknown>>)[0]!).sort(), 'GET /api/v1/inbox\'s shape')
  const table = await d.run(['inbox'])
  t.match(table.stdout, /ASKS/)
  t.match(table.stdout, /waiting_permission.*Bash: make deploy/)
  t.match((await d.run(['runners'])).stdout, /ACTIVITY[\s\S]*waiting_permission/)

  const watch = spawn(process.execPath, [CLI, 'inbox', '--watch', '--json'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (watch.exitCode === null) watch.kill('SIGKILL') })
  let out = ''
  watch.stdout.on('data', chunk => { out += chunk })
  await eventually('the first listing', async () => out.includes(first.id) || undefined, 60_000)
  const second = await api('POST', '/api/v1/runners', { project: 'inbox-demo', agent: 'hooky' }) as { id: string }
  await eventually('a listing with the second runner, drawn from the feed', async () => out.includes(second.id) || undefined, 60_000)
  watch.kill('SIGINT')
  t.equal(await new Promise(resolve => watch.once('exit', resolve)), 0, 'Ctrl-C ends it cleanly')
})
