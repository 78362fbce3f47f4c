// SupervisionService's wire types both ways: the API writes them (rpc/supervision.ts) and the
// remote supervisor reads them (adapters/supervisor/rpc-supervision.ts), so the two cannot
// drift. Unlike mappers.ts, a runner's flags and environment go unmasked: its own node needs
// them to start the agent, and only that node's credential reads them here.
import { create } from '@bufbuild/protobuf'
import { timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt'
import type { DesiredState, PauseReason, Runner, RunnerStatus, ConversationMode, RuntimeType } from '../../core/runners/runner.js'
import type { TranscriptPosition } from '../../core/sessions/session.js'
import { UNKNOWN_ACTIVITY, type ActivitySource, type ActivityState, type RunnerActivity } from '../../core/runners/activity.js'
import {
  SupervisedActivitySchema, SupervisedRunnerSchema, TranscriptPositionSchema,
  type SupervisedActivity, type SupervisedRunner, type TranscriptPosition as TranscriptPositionProto,
} from '../../gen/stratavore/v1/supervision_pb.js'

const time = (d: Date | null): Timestamp | undefined => d ? timestampFromDate(d) : undefined
const date = (t: Timestamp | undefined): Date | null => t ? timestampDate(t) : null
const unset = <T>(v: T | null): T | undefined => v ?? undefined

export const toSupervisedActivityProto = (a: RunnerActivity): SupervisedActivity => create(SupervisedActivitySchema, {
  state: a.state, source: unset(a.source), detail: unset(a.detail), since: time(a.since), resetsAt: time(a.resetsAt),
})

export const fromSupervisedActivityProto = (p: SupervisedActivity | undefined): RunnerActivity => p
  ? { state: p.state as ActivityState, source: (p.source ?? null) as ActivitySource | null, detail: p.detail ?? null, since: date(p.since), resetsAt: date(p.resetsAt) }
  : UNKNOWN_ACTIVITY

export const toSupervisedRunnerProto = (r: Runner): SupervisedRunner => create(SupervisedRunnerSchema, {
  id: r.id, projectName: r.projectName, projectPath: r.projectPath, agent: r.agent, runtimeType: r.runtimeType, runtimeId: r.runtimeId,
  nodeId: unset(r.nodeId), status: r.status, desiredState: r.desiredState, flags: r.flags, capabilities: r.capabilities, environment: r.environment,
  conversationMode: r.conversationMode, sessionId: unset(r.sessionId), god: r.god, prompt: unset(r.prompt), tokensUsed: BigInt(r.tokensUsed),
  inputTokens: BigInt(r.inputTokens), outputTokens: BigInt(r.outputTokens), cacheReadTokens: BigInt(r.cacheReadTokens), cacheCreationTokens: BigInt(r.cacheCreationTokens),
  cpuPercent: r.cpuPercent, memoryMb: Math.round(r.memoryMb), restartAttempts: r.restartAttempts, maxRestartAttempts: r.maxRestartAttempts,
  heartbeatTtlSeconds: r.heartbeatTtlSeconds, generation: BigInt(r.generation), eventSeq: BigInt(r.eventSeq), stopForce: r.stopForce,
  stopTimeoutSeconds: unset(r.stopTimeoutSeconds), stopRequestedAt: time(r.stopRequestedAt), startedAt: time(r.startedAt), lastHeartbeat: time(r.lastHeartbeat),
  terminatedAt: time(r.terminatedAt), exitCode: unset(r.exitCode), reason: unset(r.reason), pauseReason: unset(r.pauseReason), pausedBudgetId: unset(r.pausedBudgetId),
  pausedAt: time(r.pausedAt), createdBy: r.createdBy, createdAt: time(r.createdAt), updatedAt: time(r.updatedAt),
  resetsAt: time(r.resetsAt), resumeAfterLimit: r.resumeAfterLimit, limitAccount: r.limitAccount, resumeMessage: unset(r.resumeMessage), limitResumedAt: time(r.limitResumedAt),
  activity: toSupervisedActivityProto(r.activity),
})

export const fromSupervisedRunnerProto = (p: SupervisedRunner): Runner => ({
  id: p.id, projectName: p.projectName, projectPath: p.projectPath, agent: p.agent, runtimeType: p.runtimeType as RuntimeType, runtimeId: p.runtimeId,
  nodeId: p.nodeId ?? null, status: p.status as RunnerStatus, desiredState: p.desiredState as DesiredState, flags: p.flags, capabilities: p.capabilities,
  environment: { ...p.environment }, conversationMode: p.conversationMode as ConversationMode, sessionId: p.sessionId ?? null, god: p.god, prompt: p.prompt ?? null,
  tokensUsed: Number(p.tokensUsed), inputTokens: Number(p.inputTokens), outputTokens: Number(p.outputTokens), cacheReadTokens: Number(p.cacheReadTokens),
  cacheCreationTokens: Number(p.cacheCreationTokens), cpuPercent: p.cpuPercent, memoryMb: p.memoryMb, restartAttempts: p.restartAttempts,
  maxRestartAttempts: p.maxRestartAttempts, heartbeatTtlSeconds: p.heartbeatTtlSeconds, generation: Number(p.generation), eventSeq: Number(p.eventSeq),
  stopForce: p.stopForce, stopTimeoutSeconds: p.stopTimeoutSeconds ?? null, stopRequestedAt: date(p.stopRequestedAt), startedAt: date(p.startedAt),
  lastHeartbeat: date(p.lastHeartbeat), terminatedAt: date(p.terminatedAt), exitCode: p.exitCode ?? null, reason: p.reason ?? null,
  pauseReason: (p.pauseReason ?? null) as PauseReason | null, pausedBudgetId: p.pausedBudgetId ?? null, pausedAt: date(p.pausedAt), createdBy: p.createdBy,
  createdAt: date(p.createdAt) ?? new Date(0), updatedAt: date(p.updatedAt) ?? new Date(0),
  resetsAt: date(p.resetsAt), resumeAfterLimit: p.resumeAfterLimit, limitAccount: p.limitAccount, resumeMessage: p.resumeMessage ?? null, limitResumedAt: date(p.limitResumedAt),
  activity: fromSupervisedActivityProto(p.activity),
})

export const toTranscriptPositionProto = (p: TranscriptPosition): TranscriptPositionProto =>
  create(TranscriptPositionSchema, { name: unset(p.name), bytes: BigInt(p.bytes), archive: p.archive })

export const fromTranscriptPositionProto = (p: TranscriptPositionProto): TranscriptPosition =>
  ({ name: p.name ?? null, bytes: Number(p.bytes), archive: p.archive as TranscriptPosition['archive'] })
