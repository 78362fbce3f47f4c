// The ports of nodes: where join tokens and nodes are kept. Re-exported by src/core/ports.ts.

export type Labels = Record<string, string>
/** Agent CLIs a node has, name -> version ('' when its version could not be read). */
export type AgentVersions = Record<string, string>

export interface JoinToken {
  id: string
  labels: Labels
  maxUses: number
  useCount: number
  createdBy: string
  createdAt: Date
  expiresAt: Date
  lastUsedAt: Date | null
  revokedAt: Date | null
  revokedBy: string | null
}

export interface NewJoinToken {
  id: string
  tokenHash: string
  labels: Labels
  maxUses: number
  createdBy: string
  expiresAt: Date
}

/** Why a presented join token cannot be used; 'ok' with the token when it can. */
export type JoinTokenState = 'unknown' | 'expired' | 'revoked' | 'used_up'

export interface JoinTokenRepository {
  insert(token: NewJoinToken): Promise<JoinToken>
  list(options: { includeDead: boolean }): Promise<JoinToken[]>
  find(id: string): Promise<JoinToken | null>
  /** Marks it revoked now; null when there is no such token or it was revoked already. */
  revoke(id: string, by: string): Promise<JoinToken | null>
  /**
   * Counts one use of the live token with this hash (not revoked, not expired by the database
   * clock, uses left), or says why it cannot be used.
   */
  consume(tokenHash: string): Promise<JoinToken | JoinTokenState>
}

export interface NewJoinedNode {
  id: string
  name: string
  hostname: string
  version: string
  capacity: number
  labels: Labels
  pinnedLabels: Labels
  agents: AgentVersions
  credentialHash: string
}

/** What placement weighs of a node. */
export interface PlacementCandidate {
  id: string
  name: string
  status: 'ready' | 'lost' | 'down'
  capacity: number
  labels: Labels
  agents: AgentVersions
  /** Runners assigned to it and not finished. */
  activeRunners: number
}

/** A node as listed and as placement weighs it. */
export interface NodeSummary {
  id: string
  name: string
  hostname: string
  version: string
  status: 'ready' | 'lost' | 'down'
  capacity: number
  labels: Labels
  agents: AgentVersions
  /** Runners assigned to it and not finished. */
  activeRunners: number
  registeredAt: Date
  lastHeartbeat: Date | null
}

export interface NodeRepository {
  /** Null when the name is taken. Status `down`, event seq 1 (its node.joined). */
  insertJoined(node: NewJoinedNode): Promise<NodeSummary | null>
  /** Every node, by name. */
  list(): Promise<NodeSummary[]>
}
