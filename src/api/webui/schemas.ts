// Wire types of the Lex WebUI routes, exactly as shared/contracts/lex-webui.md lists them.
import { Type, type TSchema } from '@sinclair/typebox'
import { PROJECT_STATUSES } from '../../core/projects/project.js'
import { Capabilities, Environment, Flags, ProjectName, RunnerActivityDto, SessionId } from '../rest/schemas.js'

const Time = Type.String({ description: 'RFC 3339, or "" when unknown' })
const strict = { additionalProperties: false }
const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map(v => Type.Literal(v)))
/** Domain errors on these routes are a 200 with `error`, as the app reads r.data.error. */
export const orError = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Object({ error: Type.String() })])

export const WebuiRunner = Type.Object({
  id: Type.String(),
  runtimeType: Type.String(),
  runtimeId: Type.String(),
  nodeId: Type.String(),
  projectName: Type.String(),
  projectPath: Type.String(),
  status: literals(['pending', 'running', 'paused', 'terminated', 'failed']),
  flags: Type.Array(Type.String()),
  capabilities: Type.Array(Type.String()),
  environment: Type.Record(Type.String(), Type.String()),
  sessionId: Type.String(),
  conversationMode: literals(['new', 'continue', 'resume']),
  tokensUsed: Type.Integer(),
  cpuPercent: Type.Number(),
  memoryMb: Type.Integer(),
  restartAttempts: Type.Integer(),
  maxRestartAttempts: Type.Integer(),
  startedAt: Time,
  lastHeartbeat: Time,
  heartbeatTtlSeconds: Type.Integer(),
  terminatedAt: Type.Optional(Time),
  exitCode: Type.Optional(Type.Integer()),
  createdAt: Time,
  updatedAt: Time,
  agent: Type.String(),
  // Extra fields (ours; the contract's fields stay as they are): what the agent is doing, as REST gives it.
  activity: RunnerActivityDto,
}, { $id: 'WebuiRunner' })

export const WebuiProject = Type.Object({
  name: Type.String(),
  path: Type.String(),
  status: literals(PROJECT_STATUSES),
  description: Type.String(),
  tags: Type.Array(Type.String()),
  totalRunners: Type.Integer(),
  activeRunners: Type.Integer(),
  totalSessions: Type.Integer(),
  totalTokens: Type.Integer(),
  createdAt: Time,
  lastAccessedAt: Time,
  archivedAt: Type.Optional(Time),
  updatedAt: Time,
}, { $id: 'WebuiProject' })

export const WebuiSession = Type.Object({
  id: Type.String(),
  runner_id: Type.String(),
  project_name: Type.String(),
  started_at: Time,
  ended_at: Type.Optional(Time),
  last_message_at: Type.Optional(Time),
  message_count: Type.Integer(),
  tokens_used: Type.Integer(),
  resumable: Type.Boolean(),
  resumed_from: Type.Optional(Type.String()),
  summary: Type.Optional(Type.String()),
  created_at: Time,
}, { $id: 'WebuiSession' })

export const DaemonStatus = Type.Object({
  daemonId: Type.String(),
  hostname: Type.String(),
  version: Type.String(),
  startedAt: Time,
  lastHeartbeat: Time,
  healthy: Type.Boolean(),
}, { $id: 'DaemonStatus' })

export const GlobalMetrics = Type.Object({
  activeRunners: Type.Integer(),
  activeProjects: Type.Integer(),
  totalSessions: Type.Integer(),
  tokensUsed: Type.Integer(),
  tokenLimit: Type.Integer(),
}, { $id: 'GlobalMetrics' })

export const MetricsSnake = Type.Object({
  active_runners: Type.Integer(),
  active_projects: Type.Integer(),
  total_sessions: Type.Integer(),
  tokens_used: Type.Integer(),
  token_limit: Type.Integer(),
}, { $id: 'MetricsSnake' })

export const FleetPrs = Type.Object({
  prs: Type.Array(Type.Object({
    repo: Type.String(),
    number: Type.Integer(),
    title: Type.String(),
    author: Type.String(),
    created_at: Type.String(),
    draft: Type.Boolean(),
    assignees: Type.Array(Type.String()),
    url: Type.String(),
  })),
  cached_at: Type.String(),
  total: Type.Integer(),
})

export const Success = Type.Object({ success: Type.Boolean(), error: Type.Optional(Type.String()) })

// Request bodies. Keys arrive camelCase, snake_case or PascalCase; they are folded onto these
// names before validation. Empty strings mean "the default", as the app and old CLIs send them.
export const LaunchRunnerRequest = Type.Object({
  projectName: ProjectName,
  projectPath: Type.Optional(Type.String({ maxLength: 4096 })),
  flags: Type.Optional(Flags),
  capabilities: Type.Optional(Capabilities),
  environment: Type.Optional(Environment),
  conversationMode: Type.Optional(literals(['', 'new', 'continue', 'resume'])),
  sessionId: Type.Optional(Type.Union([Type.Literal(''), SessionId])),
  runtimeType: Type.Optional(Type.String({ maxLength: 32 })),
  agent: Type.Optional(Type.String({ pattern: '^$|^[a-z0-9][a-z0-9_-]{0,31}$' })),
  god: Type.Optional(Type.Boolean()),
  prompt: Type.Optional(Type.String({ maxLength: 100_000 })),
  maxRestartAttempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
}, strict)

export const StopRunnerRequest = Type.Object({
  runnerId: Type.String({ minLength: 1, maxLength: 256 }),
  force: Type.Optional(Type.Boolean()),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
}, strict)

export const CreateProjectRequest = Type.Object({
  name: ProjectName,
  path: Type.String({ minLength: 1, maxLength: 4096 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })),
}, strict)

export const DeleteProjectRequest = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) }, strict)

// Identifiers in queries are looked up as given: an id that names nothing is a domain error
// (200 with `error`), only a missing one is a 400.
const Lookup = Type.String({ minLength: 1, maxLength: 256 })
export const RunnerIdQuery = Type.Object({ id: Lookup }, strict)
export const ProjectNameQuery = Type.Object({ name: Lookup }, strict)
// Optional filters may come empty (axios sends `?project=` for ''): empty means no filter.
export const OptionalProjectQuery = Type.Object({ project: Type.Optional(Type.String({ maxLength: 256 })) }, strict)
export const RequiredProjectQuery = Type.Object({ project: Lookup }, strict)
export const SessionIdQuery = Type.Object({ session_id: Lookup }, strict)
export const StatusQuery = Type.Object({ status: Type.Optional(literals(['', ...PROJECT_STATUSES])) }, strict)
export const FleetQuery = Type.Object({ refresh: Type.Optional(Type.Boolean()) }, strict)

export const webuiSharedSchemas = [WebuiRunner, WebuiProject, WebuiSession, DaemonStatus, GlobalMetrics, MetricsSnake]
