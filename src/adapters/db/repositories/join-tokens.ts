// Join tokens (src/core/nodes/join-token-service.ts). Whether a token is live (not revoked, not
// expired, uses left) is decided by the database clock in the statement that spends a use, so
// two hosts racing for a one-use token cannot both have it.
import { and, asc, eq, gt, isNull, lt, sql } from 'drizzle-orm'
import type { JoinToken, JoinTokenRepository } from '../../../core/nodes/ports.js'
import type { Db } from '../client.js'
import { nodeJoinTokens } from '../schema.js'

const toJoinToken = ({ tokenHash: _hash, ...row }: typeof nodeJoinTokens.$inferSelect): JoinToken => row
const live = and(isNull(nodeJoinTokens.revokedAt), gt(nodeJoinTokens.expiresAt, sql`now()`), lt(nodeJoinTokens.useCount, nodeJoinTokens.maxUses))

export const createJoinTokenRepository = (db: Db): JoinTokenRepository => ({
  async insert (token) {
    const [row] = await db.insert(nodeJoinTokens).values(token).returning()
    return toJoinToken(row!)
  },

  async list ({ includeDead }) {
    const rows = await db.select().from(nodeJoinTokens).where(includeDead ? undefined : live).orderBy(asc(nodeJoinTokens.id))
    return rows.map(toJoinToken)
  },

  async find (id) {
    const [row] = await db.select().from(nodeJoinTokens).where(eq(nodeJoinTokens.id, id)).limit(1)
    return row ? toJoinToken(row) : null
  },

  async revoke (id, by) {
    const [row] = await db.update(nodeJoinTokens).set({ revokedAt: sql`now()`, revokedBy: by })
      .where(and(eq(nodeJoinTokens.id, id), isNull(nodeJoinTokens.revokedAt))).returning()
    return row ? toJoinToken(row) : null
  },

  async consume (tokenHash) {
    const [row] = await db.update(nodeJoinTokens).set({ useCount: sql`${nodeJoinTokens.useCount} + 1`, lastUsedAt: sql`now()` })
      .where(and(eq(nodeJoinTokens.tokenHash, tokenHash), live)).returning()
    if (row) return toJoinToken(row)
    const [dead] = await db.select({
      revoked: sql<boolean>`${nodeJoinTokens.revokedAt} is not null`,
      expired: sql<boolean>`${nodeJoinTokens.expiresAt} <= now()`,
    }).from(nodeJoinTokens).where(eq(nodeJoinTokens.tokenHash, tokenHash)).limit(1)
    if (!dead) return 'unknown'
    return dead.revoked ? 'revoked' : dead.expired ? 'expired' : 'used_up'
  },
})
