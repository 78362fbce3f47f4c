// The project aggregate: a named directory that runners work in. Its status is derived, not
// stored: archived when archived, active while it has an active runner, idle otherwise. The
// counters are computed from the runners and sessions tables on read, so they cannot drift.

export const PROJECT_STATUSES = ['active', 'idle', 'archived'] as const
export type ProjectStatus = typeof PROJECT_STATUSES[number]

export interface Project {
  name: string
  path: string
  status: ProjectStatus
  description: string
  tags: string[]
  totalRunners: number
  activeRunners: number
  totalSessions: number
  totalTokens: number
  maxConcurrentRunners: number
  createdAt: Date
  updatedAt: Date
  lastAccessedAt: Date | null
  archivedAt: Date | null
}

export interface NewProject {
  name: string
  path: string
  description: string
  tags: string[]
  createdAt: Date
}

// Names end up in routing keys (`runner.started.<project>`) and URLs, so they are kept to a
// character set that is safe in both: no dots, no wildcards, no slashes.
export const PROJECT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$'
export const DEFAULT_MAX_CONCURRENT_RUNNERS = 5
