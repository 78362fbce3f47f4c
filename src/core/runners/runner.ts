// The runner aggregate: one supervised agent session. Desired state is what a person asked
// for; status is what the supervisor last observed. The supervisor converges status towards
// the desired state; the reconciler judges runners whose supervisor stopped reporting.
//
//            launch                    supervisor spawns           process exits 0 / stop
//   (none) ────────> pending ──────────> starting ──> running ─────────────────> terminated
//                      │  stop before pickup            │  │  exit != 0
//                      └────────────> terminated        │  └──────────────────> failed
//                                                       │ no heartbeat for TTL
//                                                       └──> lost ──(grace)──> failed
//
//   pending/starting/running/lost ──pause (by hand, a budget, memory, a usage limit)──> paused
//   paused ──resume (admission: quota and budgets)──> pending ──> … (the conversation resumed)
//
// A paused runner's supervisor ends its process gracefully and keeps its session; paused holds
// no quota slot. `stopping` sits beside `running`. terminated and failed are terminal: nothing
// ever leaves them.

import type { DomainEvent, EventType } from '../events/event.js'
import type { Clock, IdGenerator } from '../ports.js'
import type { RunnerActivity } from './activity.js'

export const RUNNER_STATUSES = ['pending', 'starting', 'running', 'paused', 'stopping', 'lost', 'terminated', 'failed'] as const
export type RunnerStatus = typeof RUNNER_STATUSES[number]

export const TERMINAL_STATUSES: readonly RunnerStatus[] = ['terminated', 'failed']
export const ACTIVE_STATUSES: readonly RunnerStatus[] = RUNNER_STATUSES.filter(s => !TERMINAL_STATUSES.includes(s))
// Every active status but paused holds a quota slot (a pending runner is a promise to run); a
// paused runner holds no process and no slot, and must pass admission again to resume.
export const QUOTA_STATUSES: readonly RunnerStatus[] = ACTIVE_STATUSES.filter(s => s !== 'paused')
// What a pause may stop: a runner that runs or is about to.
export const PAUSABLE_STATUSES: readonly RunnerStatus[] = ['pending', 'starting', 'running', 'lost']

export const PAUSE_REASONS = ['budget', 'memory', 'manual', 'usage_limit'] as const
export type PauseReason = typeof PAUSE_REASONS[number]

export const CONVERSATION_MODES = ['new', 'continue', 'resume'] as const
export type ConversationMode = typeof CONVERSATION_MODES[number]

export const RUNTIME_TYPES = ['process'] as const
export type RuntimeType = typeof RUNTIME_TYPES[number]

export type DesiredState = 'running' | 'stopped'

export interface Runner {
  id: string
  projectName: string
  projectPath: string
  agent: string
  runtimeType: RuntimeType
  runtimeId: string
  nodeId: string | null
  status: RunnerStatus
  desiredState: DesiredState
  flags: string[]
  capabilities: string[]
  environment: Record<string, string>
  conversationMode: ConversationMode
  sessionId: string | null
  god: boolean
  prompt: string | null
  tokensUsed: number
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheCreationTokens: number
  cpuPercent: number
  memoryMb: number
  restartAttempts: number
  maxRestartAttempts: number
  heartbeatTtlSeconds: number
  generation: number
  /** seq of the latest event about this runner; the outbox orders per runner by it */
  eventSeq: number
  stopForce: boolean
  stopTimeoutSeconds: number | null
  stopRequestedAt: Date | null
  startedAt: Date | null
  lastHeartbeat: Date | null
  terminatedAt: Date | null
  exitCode: number | null
  /** Why it last ended or restarted, in one line (exit-report.ts); null before either. */
  reason: string | null
  /** Why a paused runner is paused; null otherwise. */
  pauseReason: PauseReason | null
  /** The budget that paused it (reason budget), while that budget exists. */
  pausedBudgetId: string | null
  pausedAt: Date | null
  /** What its agent is doing (activity.ts); unknown until the agent's signals say. */
  activity: RunnerActivity
  /** A usage-limit pause: when the limit resets (the agent's word, bounded; usage-limit.ts), else null. */
  resetsAt: Date | null
  /** Resume by itself once resetsAt has passed (the launch's, else agents.<name>.resume_after_limit). */
  resumeAfterLimit: boolean
  /** The account whose usage limit this runner shares with its agent's other runners. */
  limitAccount: string
  /** Stratavore's message the next start sends into the conversation (after a usage limit); null: none. */
  resumeMessage: string | null
  /** When it was last resumed after a usage limit. */
  limitResumedAt: Date | null
  createdBy: string
  createdAt: Date
  updatedAt: Date
}

export const isActive = (status: RunnerStatus): boolean => ACTIVE_STATUSES.includes(status)

/**
 * The event describing a runner's latest write. Every runner write bumps event_seq in the same
 * statement, so the row the write returned already carries the seq of its event.
 */
export const runnerEventOf = (
  runner: Runner,
  type: EventType,
  actor: string,
  data: Record<string, unknown>,
  { ids, clock }: { ids: IdGenerator, clock: Clock },
): DomainEvent => ({
  eventId: ids.next(),
  type,
  occurredAt: clock.now(),
  project: runner.projectName,
  aggregateType: 'runner',
  aggregateId: runner.id,
  seq: runner.eventSeq,
  actor,
  data,
})
