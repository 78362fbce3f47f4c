// JSON schemas of the REST resource routes: the one owner of REST wire types. The OpenAPI
// document is generated from these; handlers get their types from them.
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { AUDIT_CHAIN, SYSTEM_CHAIN } from '../../core/audit/audit-record.js'
import { BROKEN_REASONS } from '../../core/audit/audit-service.js'
import { FINDING_REASONS, MAX_FINDINGS } from '../../core/audit/checkpoint-compare.js'
import { NODE_NAME_PATTERN } from '../../core/nodes/node.js'
import { PROJECT_NAME_PATTERN, PROJECT_STATUSES } from '../../core/projects/project.js'
import { PROJECT_PATH_RULE } from '../../core/projects/project-path.js'
import { ENV_NAME_PATTERN, MAX_ENV_VALUE_LENGTH, MAX_ENV_VARS, MAX_FLAGS, MAX_FLAG_LENGTH, MAX_PROMPT_LENGTH, SESSION_ID_PATTERN } from '../../core/runners/launch-input.js'
import { ACTIVITY_SOURCES, ACTIVITY_STATES } from '../../core/runners/activity.js'
import { CONVERSATION_MODES, PAUSE_REASONS, RUNNER_STATUSES, RUNTIME_TYPES } from '../../core/runners/runner.js'
import { MAX_PAGE_SIZE } from '../../core/runners/runner-service.js'
import { TRANSCRIPT_ARCHIVES } from '../../core/sessions/session.js'
import { LabelsSchema } from './node-schemas.js'

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const DateTime = Type.String({ format: 'date-time' })
const strict = { additionalProperties: false }
const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map(v => Type.Literal(v)))

export const ProjectName = Type.String({ pattern: PROJECT_NAME_PATTERN, description: 'letters, digits, "-" and "_"; 1-63 characters' })
export const RunnerId = Type.String({ format: 'uuid' })
export const SessionId = Type.String({ pattern: SESSION_ID_PATTERN })
const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })
export const Flags = Type.Array(Type.String({ maxLength: MAX_FLAG_LENGTH }), {
  maxItems: MAX_FLAGS,
  description: "agent arguments (argv entries, no shell); each must match one of the agent's allow_flags (none by default)",
})
export const Capabilities = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })
export const Environment = Type.Record(Type.String({ pattern: ENV_NAME_PATTERN }), Type.String({ maxLength: MAX_ENV_VALUE_LENGTH }), {
  maxProperties: MAX_ENV_VARS,
  description: "variable names match ^[A-Z_][A-Z0-9_]*$ and the agent's launch_env (default TERM, COLORTERM, LANG, LANGUAGE, LC_*, TZ, NO_COLOR, FORCE_COLOR); loader and redirect variables (LD_*, NODE_OPTIONS, PATH, HOME, ...) only when launch_env names them",
})
export const ConversationMode = literals(CONVERSATION_MODES)

export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String({ description: 'stable machine-readable error code, e.g. QUOTA_EXCEEDED' }),
  detail: Type.String(),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  nodes: Type.Optional(Type.Array(Type.Object({ node: Type.String(), reason: Type.String() }), { description: 'NO_NODE_FITS: why each node cannot take the runner' })),
}, { $id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' })

// A 503 (the database, or a runner's supervisor, cannot be reached) always says when to retry.
const RETRY_AFTER = { 'Retry-After': { type: 'integer', description: 'seconds to wait before retrying' } }

/**
 * Problem responses for the given statuses, for a route's `response` map. A route lists what
 * it can answer itself (400 for its schema, 404, 409, 429, and 503 when it touches the
 * database); the 400, 413 and 415 that every route can answer are added by the openapi plugin.
 */
export const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map(s => [s, {
    description: `problem (${s})`,
    ...(s === 503 ? { headers: RETRY_AFTER } : {}),
    content: { 'application/problem+json': { schema: Type.Ref(Problem) } },
  }]))

export const ProjectDto = Type.Object({
  name: Type.String(),
  path: Type.String(),
  status: literals(PROJECT_STATUSES),
  description: Type.String(),
  tags: Type.Array(Type.String()),
  totalRunners: Type.Integer(),
  activeRunners: Type.Integer(),
  totalSessions: Type.Integer(),
  totalTokens: Type.Integer(),
  maxConcurrentRunners: Type.Integer(),
  createdAt: DateTime,
  updatedAt: DateTime,
  lastAccessedAt: Nullable(DateTime),
  archivedAt: Nullable(DateTime),
}, { $id: 'Project' })
export type ProjectDto = Static<typeof ProjectDto>

export const CreateProjectBody = Type.Object({
  name: ProjectName,
  path: Type.String({ minLength: 1, maxLength: 4096, description: `an existing directory: ${PROJECT_PATH_RULE}; stored as its realpath` }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  tags: Type.Optional(Tags),
}, strict)

export const QuotaBody = Type.Object({
  maxConcurrentRunners: Type.Integer({ minimum: 0, maximum: 10_000 }),
  maxMemoryMb: Type.Optional(Nullable(Type.Integer({
    minimum: 1, maximum: 10_000_000, description: "resident memory of one runner's process tree (MiB); past it the runner is paused (reason memory); null removes it, absent leaves it",
  }))),
}, strict)
export const ProjectParams = Type.Object({ name: ProjectName }, strict)
export const ProjectListQuery = Type.Object({ status: Type.Optional(literals(PROJECT_STATUSES)) }, strict)

export const RunnerActivityDto = Type.Object({
  state: literals(ACTIVITY_STATES),
  source: Nullable(literals(ACTIVITY_SOURCES)),
  detail: Nullable(Type.String({ description: 'what the agent gave: the tool and command awaiting permission ("Bash: rm -rf build"), the question, the error' })),
  since: Nullable(DateTime),
  resetsAt: Nullable(DateTime),
}, { description: 'what the runner\'s agent is doing, read from its CLI\'s hooks and stream events (unknown until it says; a new or ended process is unknown)' })

export const RunnerDto = Type.Object({
  id: Type.String(),
  project: Type.String(),
  projectPath: Type.String(),
  agent: Type.String(),
  runtimeType: Type.String(),
  runtimeId: Type.String(),
  nodeId: Nullable(Type.String()),
  status: literals(RUNNER_STATUSES),
  desiredState: literals(['running', 'stopped']),
  flags: Type.Array(Type.String(), { description: 'secrets masked as ******** (the value of --api-key=..., the argument after --token, key-shaped arguments)' }),
  capabilities: Type.Array(Type.String()),
  environment: Type.Record(Type.String(), Type.String(), { description: 'values of secret-looking names, and key-shaped values, are masked as ********' }),
  conversationMode: ConversationMode,
  sessionId: Nullable(Type.String()),
  god: Type.Boolean(),
  headless: Type.Boolean(),
  tokensUsed: Type.Integer(),
  inputTokens: Type.Integer(),
  outputTokens: Type.Integer(),
  cacheReadTokens: Type.Integer(),
  cacheCreationTokens: Type.Integer(),
  cpuPercent: Type.Number(),
  memoryMb: Type.Integer(),
  restartAttempts: Type.Integer(),
  maxRestartAttempts: Type.Integer(),
  heartbeatTtlSeconds: Type.Integer(),
  generation: Type.Integer(),
  stopForce: Type.Boolean(),
  stopTimeoutSeconds: Nullable(Type.Integer()),
  pauseReason: Nullable(literals(PAUSE_REASONS)),
  pausedBudgetId: Nullable(Type.String({ description: 'the budget that paused it (pauseReason budget)' })),
  pausedAt: Nullable(DateTime),
  activity: RunnerActivityDto,
  resetsAt: Nullable(DateTime),
  resumeAfterLimit: Type.Boolean({ description: 'it resumes by itself once resetsAt has passed (README, Usage limits)' }),
  limitAccount: Type.String({ description: 'the account whose usage limit it shares with its agent\'s other runners' }),
  stopRequestedAt: Nullable(DateTime),
  startedAt: Nullable(DateTime),
  lastHeartbeat: Nullable(DateTime),
  terminatedAt: Nullable(DateTime),
  exitCode: Nullable(Type.Integer()),
  reason: Nullable(Type.String({ description: 'why it last ended or restarted, in one line (e.g. "exited with code 1 at start: Not logged in · Please run /login"); its output is at /api/v1/runners/{id}/output' })),
  createdBy: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
}, { $id: 'Runner' })
export type RunnerDto = Static<typeof RunnerDto>

export const LaunchBody = Type.Object({
  project: ProjectName,
  agent: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'a configured agent; defaults.agent when omitted' })),
  projectPath: Type.Optional(Type.String({ maxLength: 4096, description: 'working directory inside the project; the project path when empty' })),
  flags: Type.Optional(Flags),
  capabilities: Type.Optional(Capabilities),
  environment: Type.Optional(Environment),
  conversationMode: Type.Optional(ConversationMode),
  sessionId: Type.Optional(SessionId),
  god: Type.Optional(Type.Boolean({ description: "skip the agent's permission prompts (Claude: --dangerously-skip-permissions)" })),
  prompt: Type.Optional(Type.String({ maxLength: MAX_PROMPT_LENGTH, description: 'run headless with this prompt' })),
  runtimeType: Type.Optional(literals(RUNTIME_TYPES)),
  maxRestartAttempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  node: Type.Optional(Type.String({ pattern: NODE_NAME_PATTERN, description: 'place the runner on this node (name or id); 409 NO_NODE_FITS when it cannot take it' })),
  nodeSelector: Type.Optional(LabelsSchema('place the runner on a node whose labels include all of these; 409 NO_NODE_FITS (the reason per node in details.nodes) when none can')),
  resumeAfterLimit: Type.Optional(Type.Boolean({ description: 'resume by itself when a usage limit that paused it resets (agents.<name>.resume_after_limit when omitted)' })),
}, strict)

export const StopBody = Type.Object({
  force: Type.Optional(Type.Boolean({ description: 'SIGKILL at once instead of SIGTERM first' })),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'grace between SIGTERM and SIGKILL (default 10)' })),
}, strict)

export const RunnerParams = Type.Object({ id: RunnerId }, strict)
export const RunnerListQuery = Type.Object({
  project: Type.Optional(ProjectName),
  status: Type.Optional(literals(RUNNER_STATUSES)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
}, strict)
export const InboxQuery = Type.Object({
  project: Type.Optional(ProjectName),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: MAX_PAGE_SIZE })),
}, strict)
export const InboxItemDto = Type.Object({
  runnerId: Type.String(),
  project: Type.String(),
  agent: Type.String(),
  nodeId: Nullable(Type.String()),
  sessionId: Nullable(Type.String()),
  state: literals(['waiting_permission', 'waiting_input']),
  source: Nullable(literals(ACTIVITY_SOURCES)),
  detail: Nullable(Type.String({ description: 'what it asks: the tool and command awaiting permission, the question' })),
  since: Nullable(DateTime),
  waitingSeconds: Type.Number({ description: 'how long it has waited, by the API\'s clock' }),
})
export type InboxItemDto = Static<typeof InboxItemDto>
export const InboxDto = Type.Object({ items: Type.Array(InboxItemDto, { description: 'oldest wait first' }) })

export const RunnerPageDto = Type.Object({
  runners: Type.Array(Type.Ref(RunnerDto)),
  total: Type.Integer({ description: 'runners matching the filter, over all pages' }),
  nextCursor: Nullable(Type.String({ description: 'pass as ?cursor= for the next page; null on the last page' })),
})

export const SessionDto = Type.Object({
  id: Type.String(),
  runnerId: Nullable(Type.String()),
  project: Type.String(),
  agent: Type.String(),
  startedAt: DateTime,
  endedAt: Nullable(DateTime),
  lastMessageAt: Nullable(DateTime),
  messageCount: Type.Integer(),
  tokensUsed: Type.Integer(),
  inputTokens: Type.Integer(),
  outputTokens: Type.Integer(),
  cacheReadTokens: Type.Integer(),
  cacheCreationTokens: Type.Integer(),
  resumable: Type.Boolean(),
  resumedFrom: Nullable(Type.String()),
  summary: Nullable(Type.String({ description: 'the agent\'s own title or summary of the session, else its first prompt' })),
  transcriptBytes: Type.Integer({ description: 'bytes of the agent\'s transcript read so far (archived unless over the limit)' }),
  transcriptArchive: Type.Union(TRANSCRIPT_ARCHIVES.map(v => Type.Literal(v)), {
    description: 'none: nothing read yet; archived: in the database, so the session resumes on any node; over_limit: past sessions.archive_max_bytes, only on the disk of the node that ran it',
  }),
  createdAt: DateTime,
}, { $id: 'Session' })
export type SessionDto = Static<typeof SessionDto>
export const SessionParams = Type.Object({ id: SessionId }, strict)
export const SessionListQuery = Type.Object({
  project: Type.Optional(ProjectName),
  runnerId: Type.Optional(RunnerId),
  resumable: Type.Optional(Type.Boolean({ description: 'only sessions that can still be resumed' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
}, strict)

export const AUDIT_VERIFY_MAX_LIMIT = 1_000_000
export const AuditVerifyQuery = Type.Object({
  chain: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: `one chain: a project name, ${JSON.stringify(SYSTEM_CHAIN)} for events without a project, or ${JSON.stringify(AUDIT_CHAIN)} for the checkpoints` })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: AUDIT_VERIFY_MAX_LIMIT, description: 'examine at most this many rows, then answer a `next` cursor; every row when absent' })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'the `next` cursor of the previous answer: go on from there' })),
}, strict)
export const AuditVerificationDto = Type.Object({
  ok: Type.Boolean({ description: 'true when every row checked is intact and nothing is missing compared with the checkpoint' }),
  checkedRows: Type.Integer({ description: 'rows examined by this request, the broken one included' }),
  chains: Type.Integer({ description: 'chains this request started to examine, the broken one included' }),
  firstBroken: Type.Optional(Type.Object({
    chain: Type.String(),
    chainSeq: Type.Integer(),
    eventId: Type.String(),
    reason: literals(BROKEN_REASONS),
  }, { description: 'the first row, in chain then chain_seq order, that does not verify' })),
  findings: Type.Array(Type.Object({
    reason: literals(FINDING_REASONS),
    chain: Type.Optional(Type.String()),
    chainSeq: Type.Optional(Type.Integer({ description: 'the checkpointed head' })),
    headSeq: Type.Optional(Type.Integer({ description: 'the chain\'s newest row now; 0 when it has none' })),
    lines: Type.Optional(Type.Integer({ description: 'checkpoint_invalid: lines newer than the checkpoint used that do not check' })),
  }), { maxItems: MAX_FINDINGS + 1, description: 'what the log lacks compared with the newest valid checkpoint (on a request without `after`)' }),
  checkpoint: Type.Optional(Type.Object({
    at: DateTime,
    daemonId: Type.String(),
    chains: Type.Integer(),
  }, { description: 'the checkpoint compared with; absent when this daemon has none yet, or with `after`' })),
  complete: Type.Boolean({ description: 'the walk reached the end of the log (or of the chain)' }),
  next: Type.Optional(Type.String({ description: '`limit` stopped the walk: pass this as `after` to go on' })),
}, { $id: 'AuditVerification' })
export type AuditVerificationDto = Static<typeof AuditVerificationDto>

/** Schemas with an $id, registered once with app.addSchema and referenced by routes. */
export const restSharedSchemas = [Problem, ProjectDto, RunnerDto, SessionDto, AuditVerificationDto]
