// Who is calling: the subject a credential speaks for and the role it holds. A principal rides on
// the request (REST, WebSocket) or the RPC context down to the use cases, and its subject is what
// audit rows and events record as the actor. It is never read from a request body.

export const ROLES = ['admin', 'operator', 'viewer', 'node'] as const
export type Role = typeof ROLES[number]

export interface Principal {
  /** The actor in audit rows and events: `admin`, a token's name, `node:<name>`. */
  subject: string
  role: Role
  /** The api_tokens row this came from, when it did (revocation closes what it opened). */
  tokenId?: string
  /** A node credential speaks for this node alone. */
  nodeId?: string
}

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value)

/**
 * Whether `role` may do what needs `required`. admin ⊇ operator ⊇ viewer; `node` is apart: a
 * supervisor's credential reaches its own routes and nothing else, and only a node reaches them.
 */
export const permits = (role: Role, required: Role): boolean => {
  if (required === 'node' || role === 'node') return role === required
  const rank: Record<Exclude<Role, 'node'>, number> = { viewer: 1, operator: 2, admin: 3 }
  return rank[role] >= rank[required]
}
