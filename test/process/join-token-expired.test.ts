// An expired join token, end to end (issue 10, "Bad input and faults"): a daemon (API) and
// `stratavored supervisor --server <url> --join-token <expired>` as separate processes, each
// with its own data dir. The supervisor exits non-zero with one line that says the token has
// expired, keeps no node credential, and no node is added.
//
// A token lives at least 60 s (ttlSeconds' minimum). On Postgres the test plants the expiry in
// the database (expires_at a second ago) instead of waiting it out; on PGlite the daemon holds
// the database, so there the test waits the minute.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import t from 'tap'
import { failOnCrashLines, startDaemon, waitHealthy } from '../helpers/daemon.js'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { tempDir } from '../helpers/temp-dir.js'

t.setTimeout(300_000)

const json = { 'content-type': 'application/json' }
const MIN_TTL_SECONDS = 60

t.test(`a supervisor with an expired join token is refused and adds no node, on ${backendName()}`, async t => {
  const home = tempDir(t)
  mkdirSync(join(home, 'daemon'))
  const databaseUrl = testDatabaseUrl() ? await createScratchDatabase(t) : null
  const config = join(home, 'stratavore.yaml')
  writeFileSync(config, JSON.stringify({ docker: { prometheus: { enabled: false } }, supervisor: { detect_agent_versions: false } }))
  const api = await startDaemon(['api', '--config', config], {
    HOME: home, STRATAVORE_DATA_DIR: join(home, 'daemon'), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  })
  t.teardown(async () => { api.child.kill('SIGTERM'); await api.exited })
  failOnCrashLines(t, api, 'the daemon')
  await waitHealthy(api, 180_000)
  const rest = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${api.url}${path}`, { method, headers: api.headers(json), ...(body ? { body: JSON.stringify(body) } : {}) })
    return { status: res.status, body: await res.json().catch(() => null) as Record<string, unknown> }
  }

  const made = await rest('POST', '/api/v1/nodes/join-tokens', { ttlSeconds: MIN_TTL_SECONDS })
  t.equal(made.status, 201)
  const { token, joinToken } = made.body as { token: string, joinToken: { id: string, expiresAt: string } }
  t.equal((await rest('POST', '/api/v1/nodes/join-tokens', { ttlSeconds: 1 })).status, 400, 'a TTL under the minimum is refused')
  if (databaseUrl) {
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
    try {
      const planted = await sql`update node_join_tokens set expires_at = now() - interval '1 second' where id = ${joinToken.id} returning id`
      t.equal(planted.length, 1, 'the expiry is planted in the database')
    } finally {
      await sql.end()
    }
  } else {
    const wait = new Date(joinToken.expiresAt).getTime() - Date.now() + 1_000
    t.comment(`waiting ${Math.ceil(wait / 1000)} s for the token to expire`)
    await new Promise(resolve => setTimeout(resolve, Math.max(0, wait)))
  }
  const listed = (await rest('GET', '/api/v1/nodes/join-tokens')).body.joinTokens as Array<{ id: string }>
  t.notOk(listed.some(j => j.id === joinToken.id), 'the token is no longer listed as live')

  const nodeDir = join(home, 'node')
  const node = await startDaemon(['supervisor', '--config', config, '--server', api.url, '--join-token', token], { HOME: home, STRATAVORE_DATA_DIR: nodeDir })
  t.teardown(async () => { node.child.kill('SIGTERM'); await node.exited })
  failOnCrashLines(t, node, 'the supervisor')
  const exit = await node.exited
  t.not(exit.code, 0, 'the supervisor exits non-zero')
  t.equal(exit.signal, null, 'by itself, not by a signal')
  const reasons = node.output().split('\n').filter(line => /expired/i.test(line))
  t.same(reasons, [`stratavored: could not join the control plane at ${api.url}: the join token has expired: ask an admin for a new one`],
    'one line that names the expiry', { output: node.output().slice(-3000) })
  t.notMatch(node.output(), /\bat .*\.(ts|js|mjs):\d+/, 'and no stack trace')
  t.notOk(existsSync(join(nodeDir, 'node-identity.json')), 'no node credential is kept')
  t.same((await rest('GET', '/api/v1/nodes')).body.nodes, [], 'no node was added')
  const kept = ((await rest('GET', '/api/v1/nodes/join-tokens?includeDead=true')).body.joinTokens as Array<{ id: string, useCount: number }>).find(j => j.id === joinToken.id)
  t.match(kept, { useCount: 0 }, 'the expired token is on record, and the refused join used nothing')
  t.notOk(node.output().includes(token), 'the token is not echoed in the output')
})
