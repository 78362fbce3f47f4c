// API tokens: created with a role (the secret shown once, only its hash kept), listed, revoked;
// and the one place a presented secret becomes a Principal. The admin token lives in a file
// (config), named tokens in the database, node credentials on their node's row.
import { errors } from '../errors.js'
import type { DomainEvent } from '../events/event.js'
import type { Clock, IdGenerator, Repositories, UnitOfWork } from '../ports.js'
import { checkInteger, checkPattern, checkText } from '../validation.js'
import type { ApiToken, TokenSecrets } from './ports.js'
import type { Principal, Role } from './principal.js'

export const TOKEN_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$'
/** Roles a named token may hold: a node's credential comes from its node, not from here. */
export const GRANTABLE_ROLES: readonly Role[] = ['admin', 'operator', 'viewer']
// 'admin' is the admin token's subject and node:* a supervisor's: no named token may pose as either.
const RESERVED_NAMES = new Set(['admin', 'anonymous', 'relay', 'supervisor', 'reconciler', 'config'])
const MAX_TTL_SECONDS = 10 * 365 * 86_400

export interface CreateTokenInput {
  name: string
  role: string
  description?: string
  /** Lifetime from now; none means the token lives until it is revoked. */
  ttlSeconds?: number
}

export interface TokenServiceDeps {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  secrets: TokenSecrets
  /** The hash of the admin token (security.admin_token_file or <data_dir>/admin.token). */
  adminTokenHash: string
}

export const ADMIN_SUBJECT = 'admin'

export const createTokenService = ({ repos, uow, clock, ids, secrets, adminTokenHash }: TokenServiceDeps) => {
  const tokenEvent = (type: 'token.created' | 'token.revoked', token: ApiToken, actor: string, seq: number): DomainEvent => ({
    eventId: ids.next(), type, routingKey: `${type}.${token.id}`, occurredAt: clock.now(), project: '', aggregateType: 'token',
    aggregateId: token.id, seq, actor,
    data: { name: token.name, role: token.role, description: token.description, expires_at: token.expiresAt?.toISOString() ?? null },
  })

  const principalOf = (token: ApiToken): Principal => ({ subject: token.name, role: token.role, tokenId: token.id })

  return {
    async create (input: CreateTokenInput, actor: string): Promise<{ token: ApiToken, secret: string }> {
      const name = checkPattern('name', input.name, TOKEN_NAME_PATTERN, 'use 1-63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit')
      if (RESERVED_NAMES.has(name)) throw errors.invalidArgument(`token name ${JSON.stringify(name)} is reserved`, { field: 'name' })
      if (!GRANTABLE_ROLES.includes(input.role as Role)) {
        throw errors.invalidArgument(`role must be one of ${GRANTABLE_ROLES.join(', ')} (node credentials come from joining a node)`, { field: 'role' })
      }
      const description = checkText('description', input.description ?? '', 1024)
      const ttl = input.ttlSeconds === undefined ? null : checkInteger('ttlSeconds', input.ttlSeconds, 60, MAX_TTL_SECONDS)
      const secret = secrets.generate()
      const id = ids.next()
      const expiresAt = ttl === null ? null : new Date(clock.now().getTime() + ttl * 1000)
      const token = await uow.run(async tx => {
        const inserted = await tx.tokens.insert({ id, name, role: input.role as Role, tokenHash: secrets.hash(secret), description, createdBy: actor, expiresAt })
        if (!inserted) throw errors.tokenNameTaken(name)
        await tx.events.append(tokenEvent('token.created', inserted, actor, 1))
        return inserted
      })
      return { token, secret }
    },

    list: (options: { includeRevoked?: boolean } = {}) => repos.tokens.list({ includeRevoked: options.includeRevoked ?? false }),

    async revoke (id: string, actor: string): Promise<ApiToken> {
      return uow.run(async tx => {
        const revoked = await tx.tokens.revoke(id, actor)
        if (!revoked) {
          const existing = await tx.tokens.find(id)
          if (!existing) throw errors.tokenNotFound(id)
          return existing
        }
        await tx.events.append(tokenEvent('token.revoked', revoked, actor, 2))
        return revoked
      })
    },

    /** The principal a presented secret speaks for, or null when it is none of ours (or dead). */
    async authenticate (secret: string): Promise<Principal | null> {
      if (secret.length < 16 || secret.length > 512) return null
      const hash = secrets.hash(secret)
      if (hash === adminTokenHash) return { subject: ADMIN_SUBJECT, role: 'admin' }
      const token = await repos.tokens.findLiveByHash(hash)
      if (token) return principalOf(token)
      const node = await repos.tokens.findNodeByCredentialHash(hash)
      return node ? { subject: `node:${node.name}`, role: 'node', nodeId: node.id } : null
    },

    /** Whether a principal authenticated earlier still holds (its token not revoked nor expired). */
    async stillLive (tokenIds: string[]): Promise<Set<string>> {
      const dead = new Set(tokenIds.length === 0 ? [] : await repos.tokens.notLive([...new Set(tokenIds)]))
      return new Set(tokenIds.filter(id => !dead.has(id)))
    },

    adminTokenHash,
  }
}

export type TokenService = ReturnType<typeof createTokenService>
