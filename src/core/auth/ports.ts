// The ports of authentication: where API tokens are kept and how a secret is made and hashed.
// Re-exported by src/core/ports.ts.
import type { Role } from './principal.js'

export interface ApiToken {
  id: string
  name: string
  role: Role
  description: string
  createdBy: string
  createdAt: Date
  expiresAt: Date | null
  revokedAt: Date | null
  revokedBy: string | null
}

export interface NewApiToken {
  id: string
  name: string
  role: Role
  tokenHash: string
  description: string
  createdBy: string
  expiresAt: Date | null
}

export interface TokenRepository {
  /** Null when a live token already has this name (a subject names one live token). */
  insert(token: NewApiToken): Promise<ApiToken | null>
  list(options: { includeRevoked: boolean }): Promise<ApiToken[]>
  find(id: string): Promise<ApiToken | null>
  /** Marks it revoked now; null when there is no such token or it was revoked already. */
  revoke(id: string, by: string): Promise<ApiToken | null>
  /** The live (not revoked, not expired) token with this hash. */
  findLiveByHash(tokenHash: string): Promise<ApiToken | null>
  /** Of these ids, the ones that are no longer live (revoked, expired or gone). */
  notLive(ids: string[]): Promise<string[]>
  /** The node whose credential hashes to this, for a supervisor's own routes. */
  findNodeByCredentialHash(credentialHash: string): Promise<{ id: string, name: string } | null>
}

export interface TokenSecrets {
  /** A new random secret, as the client will send it. */
  generate(): string
  /** What is stored and looked up: never the secret itself. */
  hash(secret: string): string
}
