// The interfaces the core needs from the outside world. Adapters implement them; the core
// imports nothing else. Repositories are handed out by the unit of work, bound to one
// transaction, so a use case cannot write outside the transaction it started.
import type { AlertRepository, MetricsRepository } from './alerts/ports.js'
import type { AuditRecord } from './audit/audit-record.js'
import type { Budget, BudgetKey, BudgetPeriodRecord } from './budgets/budget.js'
import type { TokenRepository } from './auth/ports.js'
import type { AgentVersions, JoinTokenRepository, Labels, NodeRepository, PlacementCandidate } from './nodes/ports.js'
import type { DomainEvent } from './events/event.js'
import type { NotificationRepository } from './notifications/ports.js'
import type { NewProject, Project, ProjectStatus } from './projects/project.js'
import type { LaunchPolicy } from './runners/launch-policy.js'
import type { ActivitySignal, ActivitySource, RunnerActivity } from './runners/activity.js'
import type { ConversationMode, Runner, RunnerStatus } from './runners/runner.js'
import type { Session, TranscriptPosition, TranscriptSlice } from './sessions/session.js'

export interface Clock { now(): Date }

/** The slice of a structured logger (pino's shape) the core may use. */
export interface Log {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}
export interface IdGenerator { /** time-ordered UUID (v7) */ next(): string }

export type DirectoryCheck = { ok: true, realPath: string } | { ok: false, reason: string }
export interface PathResolver {
  resolveDirectory(path: string): Promise<DirectoryCheck>
  /** The realpath of `path`, or null when it cannot be resolved (missing, a dangling link, a loop, no access). */
  realPathOf(path: string): Promise<string | null>
}

export interface AgentCatalogue {
  names(): string[]
  has(name: string): boolean
  defaultAgent: string
  /** What a launch request may add to this agent's flags and environment (a known agent). */
  launchPolicy(name: string): LaunchPolicy
  /** The CLI kind behind an agent name (null: not configured here); two names of one kind share sessions. */
  kindOf(name: string): string | null
  /** Whether the agent's CLI can resume a conversation by its id. */
  canResume(name: string): boolean
  /** Its usage limits: the account its runners share one with (given the launch's environment), and whether they resume after one by default. */
  usageLimitPolicy(name: string, environment: Record<string, string>): { account: string, resumeAfterLimit: boolean }
}

/** What a launch must know about its project, read in one statement under the project lock. */
export interface LaunchAdmission {
  path: string
  archived: boolean
  maxConcurrentRunners: number
  activeRunners: number
  /** A budget over the global scope, the project or the agent with no tokens left, if any. */
  exhaustedBudget: Budget | null
  /** Every node with its load, for placement (src/core/nodes/placement.ts). */
  nodes: PlacementCandidate[]
}

export interface ProjectRepository {
  insert(project: NewProject): Promise<void>
  find(name: string): Promise<Project | null>
  /** The stored (real) path alone, without the counters `find` computes. */
  pathOf(name: string): Promise<string | null>
  /** `agent`: the runner's, whose agent budgets count too. */
  admission(name: string, at: Date, agent: string): Promise<LaunchAdmission | null>
  findByPath(path: string): Promise<Project | null>
  list(filter: { status?: ProjectStatus }): Promise<Project[]>
  /** Conditional: false when already archived. */
  archive(name: string, at: Date): Promise<boolean>
  delete(name: string): Promise<boolean>
  touch(name: string, at: Date): Promise<void>
  nextSeq(name: string): Promise<number>
}

export interface NewRunner {
  id: string
  projectName: string
  projectPath: string
  agent: string
  nodeId: string | null
  flags: string[]
  capabilities: string[]
  environment: Record<string, string>
  conversationMode: ConversationMode
  sessionId: string | null
  god: boolean
  prompt: string | null
  maxRestartAttempts: number
  heartbeatTtlSeconds: number
  resumeAfterLimit: boolean
  limitAccount: string
  createdBy: string
  createdAt: Date
}

export interface RunnerFilter { project?: string, status?: RunnerStatus }

export interface StopRequest { force: boolean, timeoutSeconds: number | null, at: Date }

export interface RunnerRepository {
  insert(runner: NewRunner): Promise<Runner>
  find(id: string): Promise<Runner | null>
  /** Newest first; `beforeId` continues a page (ids are time-ordered). */
  list(filter: RunnerFilter & { limit: number, beforeId?: string }): Promise<Runner[]>
  count(filter: RunnerFilter): Promise<number>
  countActive(project: string): Promise<number>
  /** The project's newest runner not yet finished that holds (or will resume) this session. */
  activeForSession(project: string, sessionId: string): Promise<Runner | null>
  /** Conditional: only a non-terminal runner is changed; null otherwise. */
  requestStop(id: string, stop: StopRequest): Promise<Runner | null>
  /** Conditional: only a runner with no process (pending, or paused with its process ended) is terminated. */
  terminateUnstarted(id: string, at: Date): Promise<Runner | null>
  /** The output kept when the runner's process last ended or restarted (supervision.recordOutput). */
  keptOutput(id: string): Promise<KeptOutput | null>
  /** lost → terminated in a new generation: no supervisor can be asked, and a node that comes back is fenced. */
  terminateLost(id: string, at: Date): Promise<Runner | null>
  /** Running runners whose agent waits for a person (activity.ts WAITING_STATES), the oldest wait first. */
  waiting(filter: { project?: string, limit: number }): Promise<Runner[]>
}

export interface KeptOutput { generation: number, output: Buffer, signal: string | null, recordedAt: Date }

export interface SessionRepository {
  find(id: string): Promise<Session | null>
  list(filter: { project?: string, runnerId?: string, resumableOnly?: boolean, limit: number }): Promise<Session[]>
}

export interface TranscriptRepository {
  /** Null when there is no such session. */
  position(sessionId: string): Promise<TranscriptPosition | null>
  /**
   * Adds the slice if the session's transcript ends where it starts (else null: another writer
   * or a reset moved it), with its messages and summary; past `maxBytes` the archive is dropped
   * and only the count goes on. Several statements: run it in a unit of work.
   */
  append(sessionId: string, slice: TranscriptSlice, maxBytes: number): Promise<TranscriptPosition | null>
  /** The file was rewritten (it shrank): forget what was read of it. */
  reset(sessionId: string): Promise<void>
  /** The archived transcript, decompressed, chunk by chunk in order, up to `endBytes` (a position read before). */
  read(sessionId: string, endBytes: number): AsyncIterable<Uint8Array>
}

export interface QuotaRepository {
  maxConcurrentRunners(project: string): Promise<number>
  setMaxConcurrentRunners(project: string, max: number, at: Date): Promise<void>
  /** The per-runner memory cap (MiB); null removes it. After setMaxConcurrentRunners (which makes the row). */
  setMaxMemoryMb(project: string, max: number | null, at: Date): Promise<void>
}

export interface NewBudget extends BudgetKey {
  id: string
  timezone: string
  limitTokens: number
  warningPercent: number
  createdBy: string
}

export interface BudgetRepository {
  list(filter: { scope?: Budget['scope'], scopeId?: string }): Promise<Budget[]>
  find(id: string): Promise<Budget | null>
  findByKey(key: BudgetKey): Promise<Budget | null>
  /** Inserts with the period that contains `at` (in the budget's timezone); null when the key is taken. */
  insert(budget: NewBudget, at: Date): Promise<Budget | null>
  /** Changes the limit and warning share, bumping event_seq; null when the budget is gone. */
  update(id: string, change: { limitTokens: number, warningPercent: number }): Promise<Budget | null>
  /** Deletes; the row as it was, with event_seq bumped for its budget.deleted event. */
  delete(id: string): Promise<Budget | null>
  /** Deletes a project's budgets (the project goes), returned as delete() does. */
  deleteForProject(project: string): Promise<Budget[]>
  /** Ended periods, newest first; one budget's when given. */
  history(filter: { budgetId?: string, limit: number }): Promise<BudgetPeriodRecord[]>
  /**
   * Budgets whose period ended at or before `at` (never `total`): the ended period goes to the
   * history, use starts again at 0 in the period containing `at`. event_seq is bumped.
   */
  rollOver(at: Date, limit: number): Promise<Array<{ budget: Budget, ended: BudgetPeriodRecord }>>
  /** The limit of the shortest global budget in force, 0 when there is none. */
  globalLimit(): Promise<number>
}

/** Pausing and resuming runners: conditional transitions, each bumping the runner's event_seq. */
export interface PauseRepository {
  /** A runnable runner (pending, starting, running, lost) → paused, for a manual pause. */
  pause(id: string, reason: 'manual', at: Date): Promise<Runner | null>
  /** Every runnable runner in the scope of an exhausted budget → paused (reason budget); rows locked in id order. */
  pauseExhausted(at: Date): Promise<Runner[]>
  /** These runners (a heartbeat's) whose memory is above their project's max_memory_mb → paused (reason memory). */
  pauseOverMemory(runnerIds: string[], at: Date): Promise<Runner[]>
  /** Runners paused by a budget whose process has ended and whose scope has no exhausted budget now, oldest pause first. */
  resumeCandidates(at: Date, limit: number): Promise<Runner[]>
  /**
   * A usage limit one runner reported: it and every runnable runner of its agent and account →
   * paused (reason usage_limit, resetsAt); the account's runners already paused by a limit take
   * the later reset too. Their activity becomes rate_limited (with the reporter's source; the
   * detail given for the reporter, `othersDetail` for the rest); event_seq moves by two, for a
   * runner.activity and a runner.paused event. Rows locked in id order.
   */
  pauseForUsageLimit(
    limit: { runnerId: string, generation: number, agent: string, account: string, resetsAt: Date },
    activity: { source: ActivitySource, detail: string, othersDetail: string },
    at: Date,
  ): Promise<Array<{ runner: Runner, previous: RunnerActivity }>>
  /** Runners a limit paused that resume by themselves, whose reset has passed and whose process has ended, oldest pause first. */
  limitResumeCandidates(at: Date, limit: number): Promise<Runner[]>
  /** When a runner of this agent and account was last resumed after a limit (the probe), or null. */
  lastLimitResume(agent: string, account: string): Promise<Date | null>
  /**
   * paused (with no process left) → pending on `nodeId`, resuming its conversation; `message` is
   * what its next start sends (null: none), `afterLimit` records the resume as one after a limit.
   */
  resume(id: string, nodeId: string | null, at: Date, options?: { message: string | null, afterLimit: boolean }): Promise<Runner | null>
}


export interface GlobalCounts { activeRunners: number, activeProjects: number, totalSessions: number, tokensUsed: number }
export interface StatsRepository { globalCounts(): Promise<GlobalCounts> }

export interface DaemonInstance {
  id: string
  hostname: string
  pid: number
  version: string
  roles: string[]
  startedAt: Date
  lastHeartbeat: Date
}
export interface DaemonRepository {
  register(instance: Omit<DaemonInstance, 'startedAt' | 'lastHeartbeat'>): Promise<DaemonInstance>
  heartbeat(id: string): Promise<DaemonInstance | null>
  markStopped(id: string): Promise<void>
  find(id: string): Promise<DaemonInstance | null>
}

export interface EventLog {
  /**
   * Appends to the outbox and to the audit log, chained and signed; must run in the caller's
   * transaction, and takes the project's lock (lockProject) until it ends.
   */
  append(event: DomainEvent): Promise<void>
  /** The same for several events, in the order given, in two round trips however many there are. */
  appendMany(events: DomainEvent[]): Promise<void>
}

export type MacCheck = 'ok' | 'mismatch' | 'unknown_key'

/** Signs and checks audit-log MACs (HMAC-SHA256); the keys never leave the adapter. */
export interface AuditSigner {
  /** The MAC of `text` under the current signing key, with that key's id. */
  sign(text: string): { keyId: string, mac: string }
  /** Compares in constant time; 'unknown_key' when no configured key has that id. */
  check(keyId: string, text: string, mac: string): MacCheck
}

export interface StoredAuditRow extends AuditRecord {
  id: number
  keyId: string | null
  prevMac: string | null
  mac: string | null
}

export interface AuditPosition { chain: string, chainSeq: number, id: number }

/** What the table holds now at a checkpointed head. */
export interface HeadProbe {
  chain: string
  /** The chain's newest chain_seq; 0 when it has no row. */
  headSeq: number
  /** A row exists at the probed seq. */
  present: boolean
  /** That row's MAC (null when it has none or there is no row). */
  macAt: string | null
}

export interface AuditReader {
  /** Up to `limit` rows in (chain, chain_seq, id) order after `after`; one chain when given. */
  page(query: { chain?: string, after: AuditPosition | null, limit: number }): Promise<StoredAuditRow[]>
  /** The newest row of every chain: seq and MAC ('' for an unsigned row). One index probe per chain. */
  heads(): Promise<Array<{ chain: string, seq: number, mac: string }>>
  /** For each (chain, seq): the chain's head now and the row at seq, if any. */
  probe(positions: Array<{ chain: string, seq: number }>): Promise<HeadProbe[]>
}

/**
 * Checkpoint lines kept outside the database (an append-only file in the data dir). The log
 * stores and returns text; signing and checking it is the core's (audit/checkpoint.ts).
 */
export interface CheckpointLog {
  /** Where it is, for messages. */
  readonly location: string
  /** Appends one line durably (synced before it resolves). */
  append(line: string): Promise<void>
  /** The lines, newest first, read from the end; nothing when there is no log yet. */
  newestFirst(): AsyncIterable<string>
}

export interface ReconcileRepository {
  /** Conditional: active runners silent for longer than their TTL, by the database clock, become lost. */
  markSilentRunnersLost(limit: number): Promise<Runner[]>
  /** Lost runners still silent `graceSeconds` after their TTL, locked for this transaction (others' locked rows skipped). */
  lostPastGrace(graceSeconds: number, limit: number): Promise<Runner[]>
  /** Conditional: lost → pending on `nodeId` (null: any node claims it), in a new generation, resuming its session if known. */
  reschedule(id: string, nodeId: string | null): Promise<Runner | null>
  /** Conditional: lost → failed. */
  /** Each with the reason it is failed for (kept on the runner). */
  failLost(lost: Array<{ id: string, reason: string }>): Promise<Runner[]>
  /** Conditional: ready nodes silent for longer than `ttlSeconds` become lost. */
  markSilentNodesLost(ttlSeconds: number): Promise<Array<{ id: string, name: string, lastHeartbeat: Date | null, seq: number }>>
}

export interface OutboxRow {
  id: number
  eventId: string
  eventType: string
  routingKey: string
  payload: Record<string, unknown>
  attempts: number
  maxAttempts: number
  createdAt: Date
  /** Seconds since its writing transaction, by the database clock when it was claimed. */
  ageSeconds: number
}

export interface OutboxRepository {
  /** Locks up to `limit` due rows for this transaction, skipping rows other relays hold. */
  claimBatch(limit: number): Promise<OutboxRow[]>
  markDelivered(ids: number[]): Promise<void>
  markFailed(id: number, failure: { error: string, retryInSeconds: number, dead: boolean }): Promise<void>
  backlog(): Promise<{ pending: number, dead: number }>
}

export interface NodeRegistration {
  id: string
  name: string
  hostname: string
  version: string
  capacity: number
  credentialHash: string
  attachUrl: string
  attachKey: string
  /** supervisor.labels (a join token's labels stay on top). */
  labels?: Labels
  /** The agent CLIs found on the host, name -> version. */
  agents?: AgentVersions
}

export interface NodeAttachInfo { nodeId: string, attachUrl: string | null, attachKey: string | null, status: string, credentialHash: string | null }

/** A runner's process as one heartbeat reports it; tokens are the runner's running totals. */
export interface RunnerBeat {
  runnerId: string
  generation: number
  cpuPercent: number
  memoryMb: number
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheCreationTokens: number
}

export interface HeartbeatOutcome {
  /** Recorded; the runner is alive as far as the database knows. */
  accepted: string[]
  /** Recorded, but the reconciler had declared the runner lost: it must be recovered. */
  lost: string[]
  /** Refused: the runner is finished or lives in a newer generation; its process must die. */
  fenced: string[]
  /** Budgets whose use this heartbeat took past their warning share or their limit. */
  budgets: BudgetUse[]
  /** Set when this heartbeat brought the node back from lost: the seq of its node.recovered event. */
  nodeRecovered: { name: string, seq: number } | null
}

export interface BudgetUse {
  budgetId: string
  scope: Budget['scope']
  /** '' for the global budget, else the project or agent name. */
  scopeId: string
  period: Budget['period']
  limitTokens: number
  warningPercent: number
  usedBefore: number
  usedAfter: number
  periodEnd: Date
  /** The budget's event_seq after this heartbeat (bumped once per threshold crossed). */
  eventSeq: number
}

/** The supervisor's conditional transitions; each returns the changed row or null. */
export interface SupervisionRepository {
  /** 'ok', or why this node may not register under that id and name. */
  /** Registers (or re-registers) the node; `seq` is that of its node.registered event. */
  registerNode(node: NodeRegistration): Promise<{ seq: number } | 'name_taken' | 'credential_mismatch'>
  nodeAttachInfo(nodeId: string): Promise<NodeAttachInfo | null>
  /**
   * A supervisor's graceful stop: its runners end as stopped (`stop`), or go back unassigned
   * in a new generation, resuming their sessions (`handover`); the node is `down` until it registers again.
   */
  releaseNode(nodeId: string, mode: 'stop' | 'handover'): Promise<{ stopped: Runner[], handedOver: Runner[], node: { name: string, seq: number } | null }>
  /** Assigns up to `limit` pending runners that no node holds yet to this node. */
  /** Assigns up to `limit` unassigned pending runners to the node; returns them as written. */
  claimUnassigned(nodeId: string, limit: number): Promise<Runner[]>
  /** The active runners assigned to this node, oldest first. */
  assigned(nodeId: string): Promise<Runner[]>
  /** pending (or any active state, for a restart) → starting, in a new generation. */
  /** With a reason for a restart: why the previous life ended. */
  beginStart(id: string, nodeId: string, expect: { generation: number, restartAttempts: number, reason?: string }): Promise<Runner | null>
  markRunning(id: string, generation: number, process: { pid: number, sessionId: string | null }): Promise<Runner | null>
  markExited(id: string, generation: number, outcome: { status: 'terminated' | 'failed', exitCode: number | null, reason: string }): Promise<Runner | null>
  /** Keeps the last output of the runner's process (one row per runner: the newest life's). */
  recordOutput(runnerId: string, generation: number, kept: { output: Buffer, signal: string | null }): Promise<void>
  recoverLost(id: string, generation: number): Promise<Runner | null>
  /**
   * Records what the agent of this running generation is doing (activity.ts nextActivity); null
   * when the runner is not running in that generation or nothing changed. `previous` is the
   * activity it replaced.
   */
  setActivity(id: string, generation: number, signal: ActivitySignal, since: Date): Promise<{ runner: Runner, previous: RunnerActivity } | null>
  resetRestartAttempts(id: string, generation: number): Promise<void>
  setSession(id: string, generation: number, sessionId: string): Promise<Runner | null>
  /** A paused runner's process has ended here: it holds no process (runtime id cleared). */
  pausedStopped(id: string, generation: number): Promise<void>
  /** The session's last runner has ended: it is no longer live (it stays resumable). */
  endSession(sessionId: string, runnerId: string): Promise<void>
  /** Inserts the session unless it exists; true when it was new. */
  recordSession(session: { id: string, runnerId: string, project: string, agent: string, transcriptPath: string | null, resumedFrom: string | null, resumable: boolean }): Promise<boolean>
  /** One statement for the whole host: fenced by generation, timed by the database clock. */
  heartbeat(nodeId: string, beats: RunnerBeat[]): Promise<HeartbeatOutcome>
}

export interface Repositories {
  projects: ProjectRepository
  runners: RunnerRepository
  sessions: SessionRepository
  transcripts: TranscriptRepository
  quotas: QuotaRepository
  budgets: BudgetRepository
  pauses: PauseRepository
  nodes: NodeRepository
  joinTokens: JoinTokenRepository
  stats: StatsRepository
  daemons: DaemonRepository
  reconcile: ReconcileRepository
  outbox: OutboxRepository
  supervision: SupervisionRepository
  tokens: TokenRepository
  metrics: MetricsRepository
  alerts: AlertRepository
  notifications: NotificationRepository
  events: EventLog
}

export interface TransactionRepositories extends Repositories {
  /** Serializes launches per project until the transaction ends (pg_advisory_xact_lock). */
  lockProject(name: string): Promise<void>
}

export interface UnitOfWork {
  /** Runs `work` in one READ COMMITTED transaction; everything commits or nothing does. */
  run<T>(work: (tx: TransactionRepositories) => Promise<T>): Promise<T>
}

// The event bus and the live feed's source have their own file; re-exported so that every
// port is still importable from here.
export type * from './events/ports.js'
export type * from './auth/ports.js'
export type * from './nodes/ports.js'
export type * from './alerts/ports.js'
