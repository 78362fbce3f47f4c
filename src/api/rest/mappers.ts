// Domain objects to REST DTOs: the only place this mapping happens.
import type { AuditVerification } from '../../core/audit/audit-service.js'
import type { ApiToken } from '../../core/auth/ports.js'
import type { JoinToken, NodeSummary } from '../../core/nodes/ports.js'
import { isExhausted, type Budget, type BudgetPeriodRecord } from '../../core/budgets/budget.js'
import type { Project } from '../../core/projects/project.js'
import type { RunnerActivity } from '../../core/runners/activity.js'
import type { Runner } from '../../core/runners/runner.js'
import { redactEnvironment, redactFlags } from '../../core/secrets.js'
import type { Session } from '../../core/sessions/session.js'
import type { AuditVerificationDto, InboxItemDto, ProjectDto, RunnerDto, SessionDto } from './schemas.js'
import type { JoinTokenDto, NodeDto } from './node-schemas.js'
import type { TokenDto } from './tokens.js'
import type { BudgetDto, BudgetPeriodDto } from './budgets.js'
import type { NotificationDelivery } from '../../core/notifications/ports.js'
import type { DeliveryDto } from './notifications.js'

const iso = (d: Date) => d.toISOString()
const isoOrNull = (d: Date | null) => d ? d.toISOString() : null

export const toProjectDto = (p: Project): ProjectDto => ({
  name: p.name,
  path: p.path,
  status: p.status,
  description: p.description,
  tags: p.tags,
  totalRunners: p.totalRunners,
  activeRunners: p.activeRunners,
  totalSessions: p.totalSessions,
  totalTokens: p.totalTokens,
  maxConcurrentRunners: p.maxConcurrentRunners,
  createdAt: iso(p.createdAt),
  updatedAt: iso(p.updatedAt),
  lastAccessedAt: isoOrNull(p.lastAccessedAt),
  archivedAt: isoOrNull(p.archivedAt),
})

export const toActivityDto = (a: RunnerActivity): RunnerDto['activity'] => ({
  state: a.state,
  source: a.source,
  detail: a.detail,
  since: isoOrNull(a.since),
  resetsAt: isoOrNull(a.resetsAt),
})

export const toInboxItemDto = (r: Runner, now: Date): InboxItemDto => ({
  runnerId: r.id,
  project: r.projectName,
  agent: r.agent,
  nodeId: r.nodeId,
  sessionId: r.sessionId,
  state: r.activity.state as InboxItemDto['state'],
  source: r.activity.source,
  detail: r.activity.detail,
  since: isoOrNull(r.activity.since),
  waitingSeconds: r.activity.since ? Math.max(0, (now.getTime() - r.activity.since.getTime()) / 1000) : 0,
})

export const toRunnerDto = (r: Runner): RunnerDto => ({
  id: r.id,
  project: r.projectName,
  projectPath: r.projectPath,
  agent: r.agent,
  runtimeType: r.runtimeType,
  runtimeId: r.runtimeId,
  nodeId: r.nodeId,
  status: r.status,
  desiredState: r.desiredState,
  flags: redactFlags(r.flags),
  capabilities: r.capabilities,
  environment: redactEnvironment(r.environment),
  conversationMode: r.conversationMode,
  sessionId: r.sessionId,
  god: r.god,
  headless: r.prompt !== null,
  tokensUsed: r.tokensUsed,
  inputTokens: r.inputTokens,
  outputTokens: r.outputTokens,
  cacheReadTokens: r.cacheReadTokens,
  cacheCreationTokens: r.cacheCreationTokens,
  cpuPercent: r.cpuPercent,
  memoryMb: r.memoryMb,
  restartAttempts: r.restartAttempts,
  maxRestartAttempts: r.maxRestartAttempts,
  heartbeatTtlSeconds: r.heartbeatTtlSeconds,
  generation: r.generation,
  stopForce: r.stopForce,
  stopTimeoutSeconds: r.stopTimeoutSeconds,
  pauseReason: r.pauseReason,
  pausedBudgetId: r.pausedBudgetId,
  pausedAt: isoOrNull(r.pausedAt),
  activity: toActivityDto(r.activity),
  resetsAt: isoOrNull(r.resetsAt),
  resumeAfterLimit: r.resumeAfterLimit,
  limitAccount: r.limitAccount,
  stopRequestedAt: isoOrNull(r.stopRequestedAt),
  startedAt: isoOrNull(r.startedAt),
  lastHeartbeat: isoOrNull(r.lastHeartbeat),
  terminatedAt: isoOrNull(r.terminatedAt),
  exitCode: r.exitCode,
  reason: r.reason,
  createdBy: r.createdBy,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
})

export const toSessionDto = (s: Session): SessionDto => ({
  id: s.id,
  runnerId: s.runnerId,
  project: s.projectName,
  agent: s.agent,
  startedAt: iso(s.startedAt),
  endedAt: isoOrNull(s.endedAt),
  lastMessageAt: isoOrNull(s.lastMessageAt),
  messageCount: s.messageCount,
  tokensUsed: s.tokensUsed,
  inputTokens: s.inputTokens,
  outputTokens: s.outputTokens,
  cacheReadTokens: s.cacheReadTokens,
  cacheCreationTokens: s.cacheCreationTokens,
  resumable: s.resumable,
  resumedFrom: s.resumedFrom,
  summary: s.summary,
  transcriptBytes: s.transcriptBytes,
  transcriptArchive: s.transcriptArchive,
  createdAt: iso(s.createdAt),
})

export const toAuditVerificationDto = (v: AuditVerification): AuditVerificationDto => ({
  ok: v.ok,
  checkedRows: v.checkedRows,
  chains: v.chains,
  ...(v.firstBroken ? { firstBroken: { chain: v.firstBroken.chain, chainSeq: v.firstBroken.chainSeq, eventId: v.firstBroken.eventId, reason: v.firstBroken.reason } } : {}),
  findings: v.findings.map(f => ({ ...f })),
  ...(v.checkpoint ? { checkpoint: { at: iso(v.checkpoint.at), daemonId: v.checkpoint.daemonId, chains: v.checkpoint.chains } } : {}),
  complete: v.complete,
  ...(v.next ? { next: v.next } : {}),
})

export const toTokenDto = (t: ApiToken): TokenDto => ({
  id: t.id,
  name: t.name,
  role: t.role as TokenDto['role'],
  description: t.description,
  createdBy: t.createdBy,
  createdAt: iso(t.createdAt),
  expiresAt: isoOrNull(t.expiresAt),
  revokedAt: isoOrNull(t.revokedAt),
})

export const toJoinTokenDto = (t: JoinToken): JoinTokenDto => ({
  id: t.id,
  labels: t.labels,
  maxUses: t.maxUses,
  useCount: t.useCount,
  createdBy: t.createdBy,
  createdAt: iso(t.createdAt),
  expiresAt: iso(t.expiresAt),
  lastUsedAt: isoOrNull(t.lastUsedAt),
  revokedAt: isoOrNull(t.revokedAt),
})

export const toNodeDto = (n: NodeSummary): NodeDto => ({
  id: n.id,
  name: n.name,
  hostname: n.hostname,
  version: n.version,
  status: n.status,
  capacity: n.capacity,
  labels: n.labels,
  agents: n.agents,
  activeRunners: n.activeRunners,
  registeredAt: iso(n.registeredAt),
  lastHeartbeat: isoOrNull(n.lastHeartbeat),
})

export const toBudgetDto = (b: Budget): BudgetDto => ({
  id: b.id,
  scope: b.scope,
  scopeId: b.scopeId,
  period: b.period,
  timezone: b.timezone,
  limitTokens: b.limitTokens,
  warningPercent: b.warningPercent,
  usedTokens: b.usedTokens,
  exhausted: isExhausted(b),
  periodStart: iso(b.periodStart),
  periodEnd: iso(b.periodEnd),
  createdBy: b.createdBy,
  createdAt: iso(b.createdAt),
  updatedAt: iso(b.updatedAt),
})

export const toBudgetPeriodDto = (p: BudgetPeriodRecord): BudgetPeriodDto => ({
  budgetId: p.budgetId,
  periodStart: iso(p.periodStart),
  periodEnd: iso(p.periodEnd),
  limitTokens: p.limitTokens,
  usedTokens: p.usedTokens,
  closedAt: iso(p.closedAt),
})

export const toDeliveryDto = (d: NotificationDelivery): DeliveryDto => ({
  id: d.id,
  idempotencyKey: d.idempotencyKey,
  webhookId: d.webhookId,
  kind: d.kind,
  eventId: d.eventId,
  type: String(d.payload.type ?? d.eventType),
  routingKey: d.routingKey,
  status: d.status,
  attempts: d.attempts,
  maxAttempts: d.maxAttempts,
  nextAttemptAt: iso(d.nextAttemptAt),
  lastError: d.lastError,
  lastStatusCode: d.lastStatusCode,
  createdAt: iso(d.createdAt),
  deliveredAt: isoOrNull(d.deliveredAt),
  deadAt: isoOrNull(d.deadAt),
})

