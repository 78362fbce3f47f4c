// Join tokens (admin): made, listed, revoked, audited; a host trades one for a node (down until
// its supervisor registers) and a node credential that reaches its own node's routes and
// nothing else. Every refusal (expired, used up, revoked, forged, name taken, bad input)
// changes nothing.
import t from 'tap'
import { eq, sql } from 'drizzle-orm'
import { events, nodeJoinTokens, nodes } from '../../src/adapters/db/schema.js'
import { tokenSecrets } from '../../src/adapters/auth/token-secrets.js'
import { bearer, build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { rpcCall } from '../helpers/rpc-inject.js'

const host = (token: string, name: string, extra: Record<string, unknown> = {}) =>
  ({ token, name, hostname: `${name}.example`, version: '1.2.3', capacity: 4, labels: { zone: 'a', gpu: 'no' }, agents: { claude: '2.0.1' }, ...extra })

t.test(`join tokens on ${backendName()}`, async t => {
  const { app, ctx } = await build(t)
  const create = (payload: object = {}) => app.inject({ method: 'POST', url: '/api/v1/nodes/join-tokens', payload })
  const join = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/nodes/join', payload, headers: { authorization: undefined } })
  const nodeCount = async () => (await ctx.database.db.select({ n: sql<number>`count(*)::int` }).from(nodes))[0]!.n
  const typesOf = async (type: string) => ctx.database.db.select().from(events).where(eq(events.eventType, type))

  t.test('one use: created, shown once, joined, then used up', async t => {
    const made = await create({ labels: { gpu: 'yes', team: 'infra' } })
    t.equal(made.statusCode, 201)
    t.equal(made.headers['cache-control'], 'no-store')
    const { joinToken, token, command } = made.json()
    t.match(joinToken, { maxUses: 1, useCount: 0, labels: { gpu: 'yes', team: 'infra' }, createdBy: 'admin', revokedAt: null })
    t.match(command, new RegExp(`^stratavored supervisor --server http://\\S+ --join-token ${token}$`))
    const [stored] = await ctx.database.db.select().from(nodeJoinTokens).where(eq(nodeJoinTokens.id, joinToken.id))
    t.equal(stored!.tokenHash, tokenSecrets.hash(token), 'only the hash is kept')
    t.notOk(JSON.stringify((await app.inject({ url: '/api/v1/nodes/join-tokens' })).json()).includes(token), 'never listed')

    const joined = await join(host(token, 'builder-1'))
    t.equal(joined.statusCode, 201)
    t.equal(joined.headers['cache-control'], 'no-store')
    const { nodeId, credential } = joined.json()
    const [node] = await ctx.database.db.select().from(nodes).where(eq(nodes.id, nodeId))
    t.match(node, { name: 'builder-1', status: 'down', capacity: 4, credentialHash: tokenSecrets.hash(credential), agents: { claude: '2.0.1' } })
    t.same(node!.labels, { zone: 'a', gpu: 'yes', team: 'infra' }, "the token's labels win over the host's")
    t.match((await typesOf('node.joined'))[0], { entityId: nodeId, actor: 'node:builder-1', data: { join_token_id: joinToken.id } })
    t.equal((await typesOf('join_token.created')).length >= 1, true)

    const before = await nodeCount()
    const again = await join(host(token, 'builder-2'))
    t.equal(again.statusCode, 401)
    t.equal(again.json().code, 'JOIN_TOKEN_USED_UP')
    t.equal(await nodeCount(), before, 'nothing changed')
    const listed = (await app.inject({ url: '/api/v1/nodes/join-tokens' })).json().joinTokens
    t.notOk(listed.some((j: { id: string }) => j.id === joinToken.id), 'a used-up token is not listed as live')
    const all = (await app.inject({ url: '/api/v1/nodes/join-tokens?includeDead=true' })).json().joinTokens
    t.match(all.find((j: { id: string }) => j.id === joinToken.id), { useCount: 1 })
  })

  t.test('forged, revoked, expired and name-taken tokens change nothing', async t => {
    const multi = (await create({ maxUses: 5 })).json()
    t.ok((await join(host(multi.token, 'taken'))).statusCode === 201)
    const before = await nodeCount()
    const taken = await join(host(multi.token, 'taken'))
    t.equal(taken.statusCode, 409)
    t.equal(taken.json().code, 'NODE_NAME_TAKEN')
    const [row] = await ctx.database.db.select().from(nodeJoinTokens).where(eq(nodeJoinTokens.id, multi.joinToken.id))
    t.equal(row!.useCount, 1, 'a refused join spends no use')

    const forged = await join(host('stv_' + 'x'.repeat(43), 'forged'))
    t.equal(forged.statusCode, 401)
    t.equal(forged.json().code, 'JOIN_TOKEN_INVALID')

    const revoked = await app.inject({ method: 'DELETE', url: `/api/v1/nodes/join-tokens/${multi.joinToken.id}` })
    t.equal(revoked.statusCode, 200)
    t.ok(revoked.json().joinToken.revokedAt)
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/nodes/join-tokens/${multi.joinToken.id}` })).statusCode, 200, 'revoking twice is a no-op')
    t.equal((await typesOf('join_token.revoked')).length, 1, 'one revocation event')
    t.equal((await join(host(multi.token, 'after-revoke'))).json().code, 'JOIN_TOKEN_REVOKED')

    const short = (await create({ ttlSeconds: 60 })).json()
    await ctx.database.db.update(nodeJoinTokens).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(nodeJoinTokens.id, short.joinToken.id))
    const expired = await join(host(short.token, 'late'))
    t.equal(expired.statusCode, 401)
    t.equal(expired.json().code, 'JOIN_TOKEN_EXPIRED')
    t.equal(await nodeCount(), before, 'no node was made by any of them')

    t.equal((await app.inject({ method: 'DELETE', url: '/api/v1/nodes/join-tokens/01900000-0000-7000-8000-000000000000' })).json().code, 'JOIN_TOKEN_NOT_FOUND')
    t.equal((await app.inject({ method: 'DELETE', url: '/api/v1/nodes/join-tokens/nope' })).statusCode, 400)
  })

  t.test('bad input: a clear 400, nothing spent', async t => {
    const { token, joinToken } = (await create()).json()
    for (const [what, body] of [
      ['a bad label key', host(token, 'n1', { labels: { 'bad key': 'x' } })],
      ['a bad label value', host(token, 'n1', { labels: { k: 'a b' } })],
      ['zero capacity', host(token, 'n1', { capacity: 0 })],
      ['a bad name', host(token, '../etc')],
      ['an unknown field', host(token, 'n1', { role: 'admin' })],
      ['a bad agent name', host(token, 'n1', { agents: { 'Bad Agent': '1' } })],
    ] as const) {
      const res = await join(body)
      t.equal(res.statusCode, 400, what)
      t.match(res.headers['content-type'], /problem\+json/)
    }
    for (const body of [{ extra: 1 }, { ttlSeconds: 1 }, { maxUses: 0 }, { labels: { k: 'v v' } }, { labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }]) {
      t.equal((await create(body)).statusCode, 400, JSON.stringify(body))
    }
    const [row] = await ctx.database.db.select().from(nodeJoinTokens).where(eq(nodeJoinTokens.id, joinToken.id))
    t.equal(row!.useCount, 0)
  })

  t.test('only an admin makes join tokens', async t => {
    const { secret } = await ctx.tokens.create({ name: 'ops', role: 'operator' }, 'admin')
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/nodes/join-tokens', payload: {}, headers: bearer(secret) })).statusCode, 403)
    t.equal((await app.inject({ url: '/api/v1/nodes/join-tokens', headers: bearer(secret) })).statusCode, 403)
    t.equal((await app.inject({ url: '/api/v1/nodes', headers: bearer(secret) })).statusCode, 200, 'but may list nodes')
  })

  t.test('a joined credential speaks for its node alone, and its supervisor registers', async t => {
    const { token } = (await create({ maxUses: 2, labels: { pool: 'ci' } })).json()
    const a = (await join(host(token, 'node-a'))).json()
    const b = (await join(host(token, 'node-b'))).json()
    const asA = bearer(a.credential)
    t.equal((await app.inject({ url: '/api/v1/projects', headers: asA })).statusCode, 403, 'no user route')
    t.equal((await app.inject({ url: '/api/v1/nodes', headers: asA })).statusCode, 403, 'not even the node list')
    t.equal((await app.inject({ method: 'POST', url: '/api/v1/nodes/join-tokens', payload: {}, headers: asA })).statusCode, 403)
    const beat = (id: string) => app.inject({ method: 'POST', url: `/api/v1/nodes/${id}/heartbeats`, payload: { heartbeats: [] }, headers: asA })
    t.equal((await beat(a.nodeId)).statusCode, 200, 'its own node')
    const other = await beat(b.nodeId)
    t.equal(other.statusCode, 403, "another node's id")
    t.equal(other.json().code, 'NODE_CREDENTIAL_MISMATCH')
    const rpcOther = await app.inject({
      method: 'POST', url: '/stratavore.v1.NodeService/ReportHeartbeats', headers: { ...asA, 'content-type': 'application/json' }, payload: { nodeId: b.nodeId, heartbeats: [] },
    })
    t.equal(rpcOther.json().code, 'permission_denied', 'the same over RPC')

    // The database-attached supervisor core registers the joined node with the same id and credential.
    const registered = await ctx.repos.supervision.registerNode({
      id: a.nodeId, name: 'node-a', hostname: 'node-a.example', version: '1.2.4', capacity: 6, credentialHash: tokenSecrets.hash(a.credential),
      attachUrl: 'ws://127.0.0.1:9', attachKey: 'k', labels: { pool: 'mine', os: 'linux' }, agents: { codex: '0.1' },
    })
    t.match(registered, { seq: 2 }, 'node.joined was 1')
    const listed = (await app.inject({ url: '/api/v1/nodes' })).json().nodes.find((n: { id: string }) => n.id === a.nodeId)
    t.match(listed, { status: 'ready', capacity: 6, agents: { codex: '0.1' }, activeRunners: 0 })
    t.same(listed.labels, { pool: 'ci', os: 'linux' }, "the join token's labels stay on top")
    t.equal(await ctx.repos.supervision.registerNode({
      id: a.nodeId, name: 'node-a', hostname: 'x', version: 'x', capacity: 1, credentialHash: 'forged', attachUrl: 'ws://x', attachKey: 'k',
    }), 'credential_mismatch', 'nobody else may take it over')
  })

  t.test('over RPC', async t => {
    const made = await rpcCall(app, 'NodeService/CreateJoinToken', { maxUses: 1, labels: { via: 'rpc' } })
    t.equal(made.status, 200)
    t.match(made.json, { joinToken: { maxUses: 1, labels: { via: 'rpc' } }, command: /--join-token stv_/ })
    const joined = await rpcCall(app, 'NodeService/JoinNode', host(String(made.json.token), 'rpc-node'))
    t.equal(joined.status, 200)
    t.ok(joined.json.credential)
    const again = await rpcCall(app, 'NodeService/JoinNode', host(String(made.json.token), 'rpc-node-2'))
    t.equal(again.status, 401)
    t.equal(again.detail, 'JOIN_TOKEN_USED_UP')
    t.equal((await rpcCall(app, 'NodeService/JoinNode', host(String(made.json.token), '../x'))).status, 400)
    const listed = await rpcCall(app, 'NodeService/ListNodes', {})
    t.ok((listed.json.nodes as Array<{ name: string }>).some(n => n.name === 'rpc-node'))
    const id = (made.json.joinToken as { id: string }).id
    t.match((await rpcCall(app, 'NodeService/RevokeJoinToken', { id })).json, { joinToken: { id } })
  })
})

t.test('joins are rate-limited per client address', async t => {
  const { app } = await build(t, config => { config.security.rate_limit_per_minute = 3 })
  const codes: number[] = []
  for (let i = 0; i < 4; i++) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/nodes/join', payload: host('stv_' + 'y'.repeat(43), `n${i}`), headers: { authorization: undefined } })
    codes.push(res.statusCode)
  }
  t.same(codes, [401, 401, 401, 429])
})
