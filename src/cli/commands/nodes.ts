// `stratavore nodes` (the nodes with their state, labels, capacity, agents and runners) and
// `stratavore node join-token create|list|revoke` (admin only). A join token is printed once, by
// create, with the command to run on the new host: the daemon keeps only its hash.
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { CreateJoinTokenResponseSchema, JoinTokenSchema, NodeSchema, type JoinToken } from '../../gen/stratavore/v1/node_pb.js'
import { flagValue, listValue, stringValue, type Command, type CommandContext } from '../context.js'
import { ago, formatDuration, jsonOf, paint, printJson, shortIdLength, table } from '../format.js'
import { CliError, UsageError } from '../io.js'
import { parseTtl } from './token.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const pairs = (map: Record<string, string>) => Object.entries(map).map(([k, v]) => `${k}=${v}`).join(',') || '-'

export const nodes: Command = async c => {
  const list = (await c.api.nodes.listNodes({})).nodes
  if (c.out.json) { printJson(c.out, list.map(n => jsonOf(c.out, NodeSchema, n))); return 0 }
  if (list.length === 0) { c.out.note('no nodes; a supervisor registers one (`stratavore node join-token create` for another host)'); return 0 }
  const now = Date.now()
  c.out.print(table(c.out, [{ header: 'NAME' }, { header: 'STATE' }, { header: 'RUNNERS' }, { header: 'LABELS' }, { header: 'HEARTBEAT' }, { header: 'AGENTS', flex: true }],
    list.map(n => [
      n.name, n.status === 'ready' ? n.status : paint(c.out, 'gray', n.status), `${n.activeRunners}/${n.capacity}`, pairs(n.labels),
      n.lastHeartbeat ? ago(n.lastHeartbeat, now) : '-', Object.entries(n.agents).map(([a, v]) => v ? `${a} ${v}` : a).join(', ') || 'any',
    ])))
  return 0
}

const only = (c: CommandContext, action: string, allowed: string[]) => {
  const stray = ['ttl', 'uses', 'label', 'all'].find(f => c.values[f] !== undefined && !allowed.includes(f))
  if (stray) throw new UsageError(`node join-token ${action}: --${stray} is not one of its flags`)
}

const expiry = (t: JoinToken, now: number) => {
  const at = timestampDate(t.expiresAt!).getTime()
  return at > now ? `in ${formatDuration(at - now)}` : `expired ${formatDuration(now - at)} ago`
}

const create = async (c: CommandContext) => {
  only(c, 'create', ['ttl', 'uses', 'label'])
  const ttl = stringValue(c, 'ttl')
  const uses = stringValue(c, 'uses')
  if (uses !== undefined && !/^\d{1,6}$/.test(uses)) throw new UsageError(`node join-token create: --uses must be a number, got ${JSON.stringify(uses)}`)
  const labels: Record<string, string> = {}
  for (const pair of listValue(c, 'label')) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`--label ${pair}: expected KEY=VALUE`)
    labels[pair.slice(0, at)] = pair.slice(at + 1)
  }
  const res = await c.api.nodes.createJoinToken({
    labels,
    ...(ttl !== undefined ? { ttlSeconds: BigInt(parseTtl(ttl)) } : {}),
    ...(uses !== undefined ? { maxUses: Number(uses) } : {}),
  })
  if (c.out.json) { printJson(c.out, jsonOf(c.out, CreateJoinTokenResponseSchema, res)); return 0 }
  const t = res.joinToken!
  c.out.print(`id:      ${t.id}\nuses:    ${t.maxUses}\nexpires: ${expiry(t, Date.now())}\nlabels:  ${pairs(t.labels)}\ntoken:   ${res.token}\n\non the new host, run:\n  ${res.command}`)
  c.out.note('the token is shown this once')
  return 0
}

const list = async (c: CommandContext) => {
  only(c, 'list', ['all'])
  const tokens = (await c.api.nodes.listJoinTokens({ includeDead: flagValue(c, 'all') })).joinTokens
  if (c.out.json) { printJson(c.out, tokens.map(t => jsonOf(c.out, JoinTokenSchema, t))); return 0 }
  if (tokens.length === 0) { c.out.note('no live join tokens; create one with `stratavore node join-token create`'); return 0 }
  const now = Date.now()
  const idLength = shortIdLength(tokens.map(t => t.id))
  c.out.print(table(c.out, [{ header: 'ID' }, { header: 'USES' }, { header: 'EXPIRES' }, { header: 'REVOKED' }, { header: 'CREATED BY' }, { header: 'LABELS', flex: true }],
    tokens.map(t => [
      t.id.slice(0, idLength), `${t.useCount}/${t.maxUses}`, expiry(t, now), t.revokedAt ? paint(c.out, 'gray', ago(t.revokedAt, now)) : '-', t.createdBy, pairs(t.labels),
    ])))
  return 0
}

const resolve = async (c: CommandContext, ref: string): Promise<string> => {
  if (UUID.test(ref)) return ref.toLowerCase()
  const matches = (await c.api.nodes.listJoinTokens({ includeDead: true })).joinTokens.filter(t => t.id.startsWith(ref.toLowerCase()))
  if (matches.length === 1) return matches[0]!.id
  if (matches.length === 0) throw new CliError(`join token not found: ${ref}`)
  throw new CliError(`${ref} is the start of ${matches.length} join token ids; give more of it`)
}

export const node: Command = async c => {
  const [what, action, arg] = c.args
  if (what !== 'join-token') throw new UsageError(`node: unknown subject ${JSON.stringify(what)} (join-token)`)
  if (action === 'create' || action === 'list') {
    if (arg !== undefined) throw new UsageError(`node join-token ${action}: unexpected argument ${JSON.stringify(arg)}`)
    return action === 'create' ? create(c) : list(c)
  }
  if (action === 'revoke') {
    only(c, 'revoke', [])
    if (arg === undefined) throw new UsageError('node join-token revoke: missing <id>')
    const t = (await c.api.nodes.revokeJoinToken({ id: await resolve(c, arg) })).joinToken!
    if (c.out.json) { printJson(c.out, jsonOf(c.out, JoinTokenSchema, t)); return 0 }
    c.out.print(`revoked join token ${t.id}`)
    return 0
  }
  throw new UsageError(`node join-token: unknown action ${JSON.stringify(action)} (create, list or revoke)`)
}
