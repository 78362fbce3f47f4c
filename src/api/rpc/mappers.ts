// Domain objects to proto messages, and proto enums to domain values: the only place RPC maps.
// Nullable domain fields become unset optional fields; times become Timestamps; secrets in a
// runner's flags and environment are masked (core/secrets.ts), as on every read surface.
import { create, fromJson, type JsonObject } from '@bufbuild/protobuf'
import { timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt'
import type { AuditVerification } from '../../core/audit/audit-service.js'
import type { ApiToken } from '../../core/auth/ports.js'
import type { JoinToken, NodeSummary } from '../../core/nodes/ports.js'
import { errors } from '../../core/errors.js'
import type { FeedEvent } from '../../core/ports.js'
import { PROJECT_STATUSES, type Project, type ProjectStatus as DomainProjectStatus } from '../../core/projects/project.js'
import type { ReconcileResult } from '../../core/runners/reconcile-service.js'
import { CONVERSATION_MODES, RUNNER_STATUSES, type Runner, type RunnerStatus as DomainRunnerStatus } from '../../core/runners/runner.js'
import { redactEnvironment, redactFlags } from '../../core/secrets.js'
import { TRANSCRIPT_ARCHIVES, type Session } from '../../core/sessions/session.js'
import type { DaemonStatus, GlobalMetrics } from '../../core/status/status-service.js'
import { EventSchema } from '../../gen/stratavore/v1/events_pb.js'
import { WatchEventsResponseSchema, type WatchEventsResponse } from '../../gen/stratavore/v1/event_service_pb.js'
import { JoinTokenSchema, NodeSchema } from '../../gen/stratavore/v1/node_pb.js'
import { ProjectSchema, ProjectStatus } from '../../gen/stratavore/v1/project_pb.js'
import { ActivityState, ConversationMode, DesiredState, RunnerActivitySchema, RunnerSchema, RunnerStatus } from '../../gen/stratavore/v1/runner_pb.js'
import { ACTIVITY_STATES } from '../../core/runners/activity.js'
import { SessionSchema, type TranscriptArchive } from '../../gen/stratavore/v1/session_pb.js'
import { ApiTokenSchema } from '../../gen/stratavore/v1/token_pb.js'
import { DaemonStatusSchema, GlobalMetricsSchema, ReconcileResponseSchema, VerifyAuditLogResponseSchema } from '../../gen/stratavore/v1/system_pb.js'

const time = (d: Date): Timestamp => timestampFromDate(d)
const timeOrUnset = (d: Date | null): Timestamp | undefined => d ? timestampFromDate(d) : undefined
const unsetIfNull = <T>(v: T | null): T | undefined => v ?? undefined

// Proto enum values are the domain values' positions plus one (0 is UNSPECIFIED), in the
// order of the domain's own lists; the tests hold the two in step.
const enumOf = <D extends string>(values: readonly D[]) => ({
  toProto: (value: D): number => values.indexOf(value) + 1,
  /** UNSPECIFIED (0) is "no value"; a number the proto does not define is refused. */
  fromProto: (field: string, value: number): D | undefined => {
    if (value === 0) return undefined
    const domain = values[value - 1]
    if (domain === undefined) throw errors.invalidArgument(`${field}: unknown enum value ${value}`, { field })
    return domain
  },
})
export const projectStatuses = enumOf<DomainProjectStatus>(PROJECT_STATUSES)
export const runnerStatuses = enumOf<DomainRunnerStatus>(RUNNER_STATUSES)
export const conversationModes = enumOf(CONVERSATION_MODES)
export const activityStates = enumOf(ACTIVITY_STATES)
export const transcriptArchives = enumOf(TRANSCRIPT_ARCHIVES)
const DESIRED: Record<Runner['desiredState'], DesiredState> = { running: DesiredState.RUNNING, stopped: DesiredState.STOPPED }

export const toProjectProto = (p: Project) => create(ProjectSchema, {
  name: p.name,
  path: p.path,
  status: projectStatuses.toProto(p.status) as ProjectStatus,
  description: p.description,
  tags: p.tags,
  totalRunners: p.totalRunners,
  activeRunners: p.activeRunners,
  totalSessions: p.totalSessions,
  totalTokens: BigInt(p.totalTokens),
  maxConcurrentRunners: p.maxConcurrentRunners,
  createdAt: time(p.createdAt),
  updatedAt: time(p.updatedAt),
  lastAccessedAt: timeOrUnset(p.lastAccessedAt),
  archivedAt: timeOrUnset(p.archivedAt),
})

export const toRunnerProto = (r: Runner) => create(RunnerSchema, {
  id: r.id,
  project: r.projectName,
  projectPath: r.projectPath,
  agent: r.agent,
  runtimeType: r.runtimeType,
  runtimeId: r.runtimeId,
  nodeId: unsetIfNull(r.nodeId),
  status: runnerStatuses.toProto(r.status) as RunnerStatus,
  desiredState: DESIRED[r.desiredState],
  flags: redactFlags(r.flags),
  capabilities: r.capabilities,
  environment: redactEnvironment(r.environment),
  conversationMode: conversationModes.toProto(r.conversationMode) as ConversationMode,
  sessionId: unsetIfNull(r.sessionId),
  god: r.god,
  headless: r.prompt !== null,
  tokensUsed: BigInt(r.tokensUsed),
  inputTokens: BigInt(r.inputTokens),
  outputTokens: BigInt(r.outputTokens),
  cacheReadTokens: BigInt(r.cacheReadTokens),
  cacheCreationTokens: BigInt(r.cacheCreationTokens),
  cpuPercent: r.cpuPercent,
  memoryMb: r.memoryMb,
  restartAttempts: r.restartAttempts,
  maxRestartAttempts: r.maxRestartAttempts,
  heartbeatTtlSeconds: r.heartbeatTtlSeconds,
  generation: BigInt(r.generation),
  stopForce: r.stopForce,
  stopTimeoutSeconds: unsetIfNull(r.stopTimeoutSeconds),
  pauseReason: unsetIfNull(r.pauseReason),
  pausedBudgetId: unsetIfNull(r.pausedBudgetId),
  pausedAt: timeOrUnset(r.pausedAt),
  activity: create(RunnerActivitySchema, {
    state: activityStates.toProto(r.activity.state) as ActivityState,
    source: unsetIfNull(r.activity.source),
    detail: unsetIfNull(r.activity.detail),
    since: timeOrUnset(r.activity.since),
    resetsAt: timeOrUnset(r.activity.resetsAt),
  }),
  resetsAt: timeOrUnset(r.resetsAt),
  resumeAfterLimit: r.resumeAfterLimit,
  limitAccount: r.limitAccount,
  stopRequestedAt: timeOrUnset(r.stopRequestedAt),
  startedAt: timeOrUnset(r.startedAt),
  lastHeartbeat: timeOrUnset(r.lastHeartbeat),
  terminatedAt: timeOrUnset(r.terminatedAt),
  exitCode: unsetIfNull(r.exitCode),
  reason: unsetIfNull(r.reason),
  createdBy: r.createdBy,
  createdAt: time(r.createdAt),
  updatedAt: time(r.updatedAt),
})

export const toSessionProto = (s: Session) => create(SessionSchema, {
  id: s.id,
  runnerId: unsetIfNull(s.runnerId),
  project: s.projectName,
  agent: s.agent,
  startedAt: time(s.startedAt),
  endedAt: timeOrUnset(s.endedAt),
  lastMessageAt: timeOrUnset(s.lastMessageAt),
  messageCount: s.messageCount,
  tokensUsed: BigInt(s.tokensUsed),
  inputTokens: BigInt(s.inputTokens),
  outputTokens: BigInt(s.outputTokens),
  cacheReadTokens: BigInt(s.cacheReadTokens),
  cacheCreationTokens: BigInt(s.cacheCreationTokens),
  resumable: s.resumable,
  resumedFrom: unsetIfNull(s.resumedFrom),
  summary: unsetIfNull(s.summary),
  createdAt: time(s.createdAt),
  transcriptBytes: BigInt(s.transcriptBytes),
  transcriptArchive: transcriptArchives.toProto(s.transcriptArchive) as TranscriptArchive,
})

export const toDaemonStatusProto = (d: DaemonStatus) => create(DaemonStatusSchema, {
  id: d.id,
  hostname: d.hostname,
  pid: d.pid,
  version: d.version,
  roles: d.roles,
  startedAt: time(d.startedAt),
  lastHeartbeat: time(d.lastHeartbeat),
  healthy: d.healthy,
})

export const toGlobalMetricsProto = (m: GlobalMetrics) => create(GlobalMetricsSchema, {
  activeRunners: m.activeRunners,
  activeProjects: m.activeProjects,
  totalSessions: BigInt(m.totalSessions),
  tokensUsed: BigInt(m.tokensUsed),
  tokenLimit: BigInt(m.tokenLimit),
})

export const toReconcileProto = (r: ReconcileResult) => create(ReconcileResponseSchema, {
  reconciledCount: r.reconciledCount,
  lostRunnerIds: r.lostRunnerIds,
  failedRunnerIds: r.failedRunnerIds,
  rescheduledRunnerIds: r.rescheduledRunnerIds,
})

export const toAuditVerificationProto = (v: AuditVerification) => create(VerifyAuditLogResponseSchema, {
  ok: v.ok,
  checkedRows: v.checkedRows,
  chains: v.chains,
  ...(v.firstBroken ? { firstBroken: { chain: v.firstBroken.chain, chainSeq: BigInt(v.firstBroken.chainSeq), eventId: v.firstBroken.eventId, reason: v.firstBroken.reason } } : {}),
  findings: v.findings.map(f => ({
    reason: f.reason,
    ...(f.chain !== undefined ? { chain: f.chain } : {}),
    ...(f.chainSeq !== undefined ? { chainSeq: BigInt(f.chainSeq) } : {}),
    ...(f.headSeq !== undefined ? { headSeq: BigInt(f.headSeq) } : {}),
    ...(f.lines !== undefined ? { lines: f.lines } : {}),
  })),
  ...(v.checkpoint ? { checkpoint: { at: time(v.checkpoint.at), daemonId: v.checkpoint.daemonId, chains: v.checkpoint.chains } } : {}),
  complete: v.complete,
  ...(v.next ? { next: v.next } : {}),
})

// Every subscriber of an event gets the same message: build it once.
const eventMessages = new WeakMap<FeedEvent, WatchEventsResponse>()

/** A live-feed frame (the Event envelope as JSON, plus routing_key) as a stream message. */
export const toWatchEventsProto = (event: FeedEvent): WatchEventsResponse => {
  let message = eventMessages.get(event)
  if (!message) {
    const { routing_key: _routingKey, ...envelope } = event.frame
    message = create(WatchEventsResponseSchema, {
      event: fromJson(EventSchema, envelope as JsonObject, { ignoreUnknownFields: true }),
      routingKey: event.routingKey,
    })
    eventMessages.set(event, message)
  }
  return message
}

export const toTokenProto = (t: ApiToken) => create(ApiTokenSchema, {
  id: t.id,
  name: t.name,
  role: t.role,
  description: t.description,
  createdBy: t.createdBy,
  createdAt: time(t.createdAt),
  expiresAt: timeOrUnset(t.expiresAt),
  revokedAt: timeOrUnset(t.revokedAt),
})

export const toNodeProto = (n: NodeSummary) => create(NodeSchema, {
  id: n.id,
  name: n.name,
  hostname: n.hostname,
  version: n.version,
  status: n.status,
  capacity: n.capacity,
  labels: n.labels,
  agents: n.agents,
  activeRunners: n.activeRunners,
  registeredAt: time(n.registeredAt),
  lastHeartbeat: timeOrUnset(n.lastHeartbeat),
})

export const toJoinTokenProto = (t: JoinToken) => create(JoinTokenSchema, {
  id: t.id,
  labels: t.labels,
  maxUses: t.maxUses,
  useCount: t.useCount,
  createdBy: t.createdBy,
  createdAt: time(t.createdAt),
  expiresAt: time(t.expiresAt),
  lastUsedAt: timeOrUnset(t.lastUsedAt),
  revokedAt: timeOrUnset(t.revokedAt),
})
