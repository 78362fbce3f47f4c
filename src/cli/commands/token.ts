// `stratavore token create|list|revoke`: named API tokens (TokenService, admin only). The
// secret is printed once, by create, and never again: the daemon keeps only its hash.
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { ApiTokenSchema, CreateTokenResponseSchema, type ApiToken } from '../../gen/stratavore/v1/token_pb.js'
import { flagValue, stringValue, type Command, type CommandContext } from '../context.js'
import { ago, formatDuration, jsonOf, paint, printJson, shortIdLength, table } from '../format.js'
import { CliError, UsageError } from '../io.js'

const ROLES = ['admin', 'operator', 'viewer']
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** 30m, 12h, 7d, 2w or plain seconds; the daemon checks the bounds. */
export const parseTtl = (text: string): number => {
  const match = /^(\d+)\s*([smhdw]?)$/.exec(text.trim())
  if (!match) throw new UsageError(`token create: --ttl must be a duration like 30m, 12h, 7d or a number of seconds, got ${JSON.stringify(text)}`)
  return Number(match[1]) * UNIT_SECONDS[match[2] || 's']!
}

const expiry = (t: ApiToken, now: number) => {
  if (!t.expiresAt) return 'never'
  const at = timestampDate(t.expiresAt).getTime()
  return at > now ? `in ${formatDuration(at - now)}` : `expired ${formatDuration(now - at)} ago`
}

// Flags of the other actions are mistakes, not something to ignore silently.
const only = (c: CommandContext, action: string, allowed: string[]) => {
  const stray = ['role', 'ttl', 'description', 'all'].find(f => c.values[f] !== undefined && !allowed.includes(f))
  if (stray) throw new UsageError(`token ${action}: --${stray} is not one of its flags`)
}

const create = async (c: CommandContext, name: string | undefined) => {
  only(c, 'create', ['role', 'ttl', 'description'])
  if (name === undefined) throw new UsageError('token create: missing <name>')
  const role = stringValue(c, 'role')
  if (role === undefined) throw new UsageError(`token create: --role is required (${ROLES.join(', ')})`)
  if (!ROLES.includes(role)) throw new UsageError(`token create: --role must be ${ROLES.join(', ')}, got ${JSON.stringify(role)}`)
  const ttl = stringValue(c, 'ttl')
  const res = await c.api.tokens.createToken({
    name,
    role,
    description: stringValue(c, 'description') ?? '',
    ...(ttl !== undefined ? { ttlSeconds: BigInt(parseTtl(ttl)) } : {}),
  })
  if (c.out.json) { printJson(c.out, jsonOf(c.out, CreateTokenResponseSchema, res)); return 0 }
  const token = res.token!
  c.out.print(`id:      ${token.id}\nname:    ${token.name}\nrole:    ${token.role}\nexpires: ${expiry(token, Date.now())}\nsecret:  ${res.secret}`)
  c.out.note('the secret is shown this once: keep it now (use it as STRATAVORE_TOKEN or --token, or in a browser with `stratavore ui`)')
  return 0
}

const list = async (c: CommandContext) => {
  only(c, 'list', ['all'])
  const tokens = (await c.api.tokens.listTokens({ includeRevoked: flagValue(c, 'all') })).tokens
  if (c.out.json) { printJson(c.out, tokens.map(t => jsonOf(c.out, ApiTokenSchema, t))); return 0 }
  if (tokens.length === 0) { c.out.note('no tokens; create one with `stratavore token create <name> --role viewer`'); return 0 }
  const now = Date.now()
  const idLength = shortIdLength(tokens.map(t => t.id))
  c.out.print(table(c.out, [{ header: 'ID' }, { header: 'NAME' }, { header: 'ROLE' }, { header: 'EXPIRES' }, { header: 'REVOKED' }, { header: 'CREATED BY' }, { header: 'CREATED' }, { header: 'DESCRIPTION', flex: true }],
    tokens.map(t => [
      t.id.slice(0, idLength), t.name, t.role, expiry(t, now),
      t.revokedAt ? paint(c.out, 'gray', ago(t.revokedAt, now)) : '-', t.createdBy, ago(t.createdAt, now), t.description,
    ])))
  return 0
}

/** A full id, or a prefix that names one token (revoked ones included, as `list --all` shows them). */
const resolveToken = async (c: CommandContext, ref: string): Promise<string> => {
  if (UUID.test(ref)) return ref.toLowerCase()
  const matches = (await c.api.tokens.listTokens({ includeRevoked: true })).tokens.filter(t => t.id.startsWith(ref.toLowerCase()))
  if (matches.length === 1) return matches[0]!.id
  if (matches.length === 0) throw new CliError(`token not found: ${ref}`)
  throw new CliError(`${ref} is the start of ${matches.length} token ids (${matches.map(t => t.name).join(', ')}); give more of it`)
}

const revoke = async (c: CommandContext, ref: string | undefined) => {
  only(c, 'revoke', [])
  if (ref === undefined) throw new UsageError('token revoke: missing <id>')
  const token = (await c.api.tokens.revokeToken({ id: await resolveToken(c, ref) })).token!
  if (c.out.json) { printJson(c.out, jsonOf(c.out, ApiTokenSchema, token)); return 0 }
  c.out.print(`revoked token ${token.name} (${token.id})`)
  return 0
}

export const token: Command = async c => {
  const [action, arg] = c.args
  if (action === 'create') return create(c, arg)
  if (action === 'revoke') return revoke(c, arg)
  if (action === 'list') {
    if (arg !== undefined) throw new UsageError(`token list: unexpected argument ${JSON.stringify(arg)}`)
    return list(c)
  }
  throw new UsageError(`token: unknown action ${JSON.stringify(action)} (create, list or revoke)`)
}
