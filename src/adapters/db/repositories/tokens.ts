// API tokens and the node-credential lookup behind authentication. Liveness (not revoked, not
// expired) is decided by the database clock, so every daemon sharing the database agrees.
import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm'
import type { ApiToken, TokenRepository } from '../../../core/auth/ports.js'
import type { Role } from '../../../core/auth/principal.js'
import type { Db } from '../client.js'
import { apiTokens, nodes } from '../schema.js'

const toToken = ({ tokenHash: _hash, ...row }: typeof apiTokens.$inferSelect): ApiToken => ({ ...row, role: row.role as Role })
const live = and(isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, sql`now()`)))

export const createTokenRepository = (db: Db): TokenRepository => ({
  async insert (token) {
    const [row] = await db.insert(apiTokens).values(token).onConflictDoNothing().returning()
    return row ? toToken(row) : null
  },

  async list ({ includeRevoked }) {
    const rows = await db.select().from(apiTokens).where(includeRevoked ? undefined : isNull(apiTokens.revokedAt)).orderBy(asc(apiTokens.id))
    return rows.map(toToken)
  },

  async find (id) {
    const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id)).limit(1)
    return row ? toToken(row) : null
  },

  async revoke (id, by) {
    const [row] = await db.update(apiTokens).set({ revokedAt: sql`now()`, revokedBy: by })
      .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))).returning()
    return row ? toToken(row) : null
  },

  async findLiveByHash (tokenHash) {
    const [row] = await db.select().from(apiTokens).where(and(eq(apiTokens.tokenHash, tokenHash), live)).limit(1)
    return row ? toToken(row) : null
  },

  async notLive (ids) {
    const rows = await db.select({ id: apiTokens.id }).from(apiTokens).where(and(inArray(apiTokens.id, ids), live))
    const alive = new Set(rows.map(r => r.id))
    return ids.filter(id => !alive.has(id))
  },

  async findNodeByCredentialHash (credentialHash) {
    const [row] = await db.select({ id: nodes.id, name: nodes.name }).from(nodes).where(eq(nodes.credentialHash, credentialHash)).limit(1)
    return row ?? null
  },
})
