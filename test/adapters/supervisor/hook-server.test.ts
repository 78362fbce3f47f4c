// The supervisor's hook channel: a hook with its runner's secret is answered at once and its
// signal delivered; a payload that is malformed, too large, for another runner, for the wrong
// CLI, or that comes after the runner's process ended is refused with a clear status and
// delivers nothing.
import t from 'tap'
import type { ActivitySignal } from '../../../src/core/runners/activity.js'
import { HOOK_MAX_BYTES, startHookServer } from '../../../src/adapters/supervisor/hook-server.js'

const silent = { debug () {}, info () {}, warn () {}, error () {} }
const A = '01900000-0000-7000-8000-00000000000a'
const B = '01900000-0000-7000-8000-00000000000b'

t.test('the hook channel', async t => {
  const server = await startHookServer({ log: silent })
  t.teardown(() => server.close())
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'loopback only')
  const got: Record<string, ActivitySignal[]> = { [A]: [], [B]: [] }
  const a = server.open(A, 'claude', s => got[A]!.push(s))
  const b = server.open(B, 'codex', s => got[B]!.push(s))
  t.not(a.token, b.token, 'a secret per runner')

  const post = async (url: string, token: string | null, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, body })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }
  const permission = JSON.stringify({ session_id: 's', hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'make deploy' } })

  await t.test('a valid hook is answered 200 {} and its signal delivered', async t => {
    const res = await post(a.url, a.token, permission)
    t.same(res, { status: 200, body: {} }, 'an empty object: no decision is taken for the agent')
    t.same(got[A], [{ state: 'waiting_permission', source: 'hook', detail: 'Bash: make deploy' }])
    t.same((await post(b.url, b.token, JSON.stringify({ type: 'agent-turn-complete', 'thread-id': 't' }))).status, 200)
    t.match(got[B], [{ state: 'idle', source: 'hook' }])
    t.same(await post(a.url, a.token, JSON.stringify({ hook_event_name: 'SessionStart' })), { status: 200, body: {} }, 'an event that means nothing is accepted and changes nothing')
  })

  await t.test('bad input is refused and delivers nothing', async t => {
    const before = { a: got[A]!.length, b: got[B]!.length }
    const cases: Array<[string, Promise<{ status: number, body: Record<string, unknown> }>, number, RegExp]> = [
      ['no secret', post(a.url, null, permission), 401, /missing/],
      ['an unknown secret', post(a.url, 'not-a-secret', permission), 401, /unknown/],
      ['another runner\'s secret', post(a.url, b.token, permission), 403, /another runner/],
      ['its secret at another runner\'s URL', post(b.url, a.token, permission), 403, /another runner/],
      ['the wrong CLI', post(a.url.replace('/claude', '/codex'), a.token, permission), 400, /reports through \/hooks\/claude/],
      ['not JSON', post(a.url, a.token, '{"hook_event_name": '), 400, /not JSON/],
      ['not an object', post(a.url, a.token, '["PermissionRequest"]'), 400, /JSON object/],
      ['no event name', post(a.url, a.token, JSON.stringify({ tool_name: 'Bash' })), 400, /hook_event_name/],
      ['an event name that is no string', post(a.url, a.token, JSON.stringify({ hook_event_name: 7 })), 400, /hook_event_name/],
      ['oversized', post(a.url, a.token, JSON.stringify({ hook_event_name: 'PostToolUse', pad: 'x'.repeat(HOOK_MAX_BYTES) })), 413, /larger than/],
      ['an unknown path', post(`${server.url}/v1/runners/${A}/hooks/aider`, a.token, permission), 404, /not found/],
    ]
    for (const [what, response, status, message] of cases) {
      const res = await response
      t.equal(res.status, status, what)
      t.match(res.body.error, message, what)
    }
    const get = await fetch(a.url, { headers: { authorization: `Bearer ${a.token}` } })
    t.equal(get.status, 405)
    await get.text()
    t.same({ a: got[A]!.length, b: got[B]!.length }, before, 'nothing delivered')
  })

  await t.test('after the runner\'s process ended: 410, nothing delivered', async t => {
    const before = got[A]!.length
    a.close()
    const res = await post(a.url, a.token, permission)
    t.equal(res.status, 410)
    t.match(res.body.error, /has ended/)
    t.equal(got[A]!.length, before)
    t.equal((await post(b.url, b.token, JSON.stringify({ type: 'agent-turn-complete' }))).status, 200, 'other runners are unaffected')
  })
})
