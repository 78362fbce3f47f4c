// Join tokens: an admin makes one (the secret shown once, only its hash kept); a new host's
// supervisor trades it for a node of its own and a node credential (also shown once, its hash
// on the node row), which from then on speaks for that node alone. The node is `down` until
// its supervisor registers, so nothing is placed on it before.
import { errors } from '../errors.js'
import type { DomainEvent, EventType } from '../events/event.js'
import type { Clock, IdGenerator, Repositories, TokenSecrets, UnitOfWork } from '../ports.js'
import { checkInteger, checkText } from '../validation.js'
import { checkAgentVersions, checkCapacity, checkLabels, checkNodeName } from './node.js'
import type { JoinToken, NodeSummary } from './ports.js'

export const DEFAULT_JOIN_TTL_SECONDS = 3600
export const MAX_JOIN_TTL_SECONDS = 30 * 86_400
export const MAX_JOIN_USES = 1000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface CreateJoinTokenInput {
  ttlSeconds?: number
  maxUses?: number
  labels?: Record<string, string>
}

export interface JoinInput {
  token: string
  name: string
  hostname: string
  version: string
  capacity: number
  labels?: Record<string, string>
  agents?: Record<string, string>
}

export const createJoinTokenService = ({ repos, uow, clock, ids, secrets }: {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  secrets: TokenSecrets
}) => {
  const tokenEvent = (type: EventType, token: JoinToken, actor: string, seq: number): DomainEvent => ({
    eventId: ids.next(), type, routingKey: `${type}.${token.id}`, occurredAt: clock.now(), project: '', aggregateType: 'join_token',
    aggregateId: token.id, seq, actor,
    data: { labels: token.labels, max_uses: token.maxUses, expires_at: token.expiresAt.toISOString() },
  })

  const refusal = (state: string) => state === 'expired'
    ? errors.joinTokenExpired()
    : state === 'revoked' ? errors.joinTokenRevoked() : state === 'used_up' ? errors.joinTokenUsedUp() : errors.joinTokenInvalid()

  return {
    async create (input: CreateJoinTokenInput, actor: string): Promise<{ joinToken: JoinToken, secret: string }> {
      const ttl = checkInteger('ttlSeconds', input.ttlSeconds ?? DEFAULT_JOIN_TTL_SECONDS, 60, MAX_JOIN_TTL_SECONDS)
      const maxUses = checkInteger('maxUses', input.maxUses ?? 1, 1, MAX_JOIN_USES)
      const labels = checkLabels('labels', input.labels ?? {})
      const secret = secrets.generate()
      const joinToken = await uow.run(async tx => {
        const inserted = await tx.joinTokens.insert({
          id: ids.next(), tokenHash: secrets.hash(secret), labels, maxUses, createdBy: actor, expiresAt: new Date(clock.now().getTime() + ttl * 1000),
        })
        await tx.events.append(tokenEvent('join_token.created', inserted, actor, 1))
        return inserted
      })
      return { joinToken, secret }
    },

    list: (options: { includeDead?: boolean } = {}) => repos.joinTokens.list({ includeDead: options.includeDead ?? false }),

    async revoke (id: string, actor: string): Promise<JoinToken> {
      if (!UUID.test(id)) throw errors.joinTokenNotFound(id)
      return uow.run(async tx => {
        const revoked = await tx.joinTokens.revoke(id.toLowerCase(), actor)
        if (!revoked) {
          const existing = await tx.joinTokens.find(id.toLowerCase())
          if (!existing) throw errors.joinTokenNotFound(id)
          return existing
        }
        await tx.events.append(tokenEvent('join_token.revoked', revoked, actor, 2))
        return revoked
      })
    },

    /**
     * Trades a join token for a new node and its credential (shown this once). The token's use,
     * the node row and its node.joined event commit together: a refused join changes nothing.
     */
    async join (input: JoinInput): Promise<{ node: NodeSummary, credential: string }> {
      const name = checkNodeName(input.name)
      const hostname = checkText('hostname', input.hostname, 253)
      const version = checkText('version', input.version, 64)
      const capacity = checkCapacity(input.capacity)
      const reported = checkLabels('labels', input.labels ?? {})
      const agents = checkAgentVersions('agents', input.agents ?? {})
      if (typeof input.token !== 'string' || input.token.length < 16 || input.token.length > 512) throw errors.joinTokenInvalid()
      const tokenHash = secrets.hash(input.token)
      const credential = secrets.generate()
      return uow.run(async tx => {
        const token = await tx.joinTokens.consume(tokenHash)
        if (typeof token === 'string') throw refusal(token)
        // The admin's labels (the token's) win over the ones the host reports.
        const labels = { ...reported, ...token.labels }
        const node = await tx.nodes.insertJoined({
          id: ids.next(), name, hostname, version, capacity, labels, pinnedLabels: token.labels, agents, credentialHash: secrets.hash(credential),
        })
        if (!node) throw errors.nodeNameTaken(name)
        const actor = `node:${name}`
        await tx.events.append({
          eventId: ids.next(), type: 'node.joined', routingKey: `node.joined.${node.id}`, occurredAt: clock.now(), project: '', aggregateType: 'node',
          aggregateId: node.id, seq: 1, actor,
          data: { name, hostname, version, capacity, labels, agents, join_token_id: token.id },
        })
        return { node, credential }
      })
    },
  }
}

export type JoinTokenService = ReturnType<typeof createJoinTokenService>
