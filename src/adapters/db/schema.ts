// The Postgres schema, the source drizzle-kit generates migrations from (`npm run db:generate`).
// Migrations in drizzle/ are append-only: change this file, generate, commit both.
//
// Deliberate departures from the original Go schema (shared/reference/original-go-system.md §5):
// - budget scope_id is NOT NULL ('' for global) so UNIQUE(scope, scope_id, period) holds;
// - runners that never heartbeated are reaped by start time, so last_heartbeat may stay NULL;
// - project counters are computed on read, not stored;
// - ids are UUIDv7 made by the application, so id order is creation order (cursor pagination).
import { sql } from 'drizzle-orm'
import {
  bigint, bigserial, boolean, check, customType, index, integer, jsonb, pgTable, primaryKey, real, text, timestamp, uniqueIndex, uuid,
} from 'drizzle-orm/pg-core'

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })
const tokens = (name: string) => bigint(name, { mode: 'number' }).notNull().default(0)
// A full 64-bit transaction id (Postgres 13+); drizzle has no built-in type for it. Read as a
// decimal string, since it can exceed Number.MAX_SAFE_INTEGER.
const xid8 = customType<{ data: string, driverData: string }>({ dataType: () => 'xid8' })
// A snapshot as pg_current_snapshot() gives it (xmin:xmax:xip), in its text form.
const pgSnapshot = customType<{ data: string, driverData: string }>({ dataType: () => 'pg_snapshot' })
// postgres.js reads bytea as a Buffer, PGlite as a Uint8Array: both come back as a Buffer.
const bytea = customType<{ data: Buffer, driverData: Uint8Array }>({ dataType: () => 'bytea', fromDriver: value => Buffer.from(value) })

export const projects = pgTable('projects', {
  name: text('name').primaryKey(),
  path: text('path').notNull(),
  description: text('description').notNull().default(''),
  tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
  archived: boolean('archived').notNull().default(false),
  eventSeq: integer('event_seq').notNull().default(0),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  lastAccessedAt: ts('last_accessed_at'),
  archivedAt: ts('archived_at'),
}, t => [
  uniqueIndex('projects_path_key').on(t.path),
])

export const nodes = pgTable('nodes', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  hostname: text('hostname').notNull(),
  version: text('version').notNull(),
  capacity: integer('capacity').notNull().default(60),
  status: text('status').notNull().default('ready'),
  labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
  // Labels an admin gave through the join token: they win over what the node reports.
  pinnedLabels: jsonb('pinned_labels').$type<Record<string, string>>().notNull().default({}),
  // The agent CLIs the supervisor found on its host, name -> version ('' when unknown). Empty
  // for a node that never reported them: it is taken to run every agent.
  agents: jsonb('agents').$type<Record<string, string>>().notNull().default({}),
  credentialHash: text('credential_hash'),
  // Where the API reaches this node's supervisor for terminal attach, and the key (derived from
  // the node's credential, which only the node holds) that MACs the API's attach tickets.
  attachUrl: text('attach_url'),
  attachKey: text('attach_key'),
  registeredAt: ts('registered_at').notNull().defaultNow(),
  lastHeartbeat: ts('last_heartbeat'),
  /** seq of the latest event about this node (registered, lost, recovered). */
  eventSeq: bigint('event_seq', { mode: 'number' }).notNull().default(0),
  updatedAt: ts('updated_at').notNull().defaultNow(),
}, t => [
  uniqueIndex('nodes_name_key').on(t.name),
  check('nodes_status_check', sql`${t.status} in ('ready', 'lost', 'down')`),
])

// Join tokens: an admin hands one to a new host, whose supervisor trades it for a node of its
// own (POST /api/v1/nodes/join). Only the secret's SHA-256 is kept; a token is spent after
// max_uses joins, dead after expires_at or once revoked. labels go onto every node it joins.
export const nodeJoinTokens = pgTable('node_join_tokens', {
  id: uuid('id').primaryKey(),
  tokenHash: text('token_hash').notNull(),
  labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
  maxUses: integer('max_uses').notNull().default(1),
  useCount: integer('use_count').notNull().default(0),
  createdBy: text('created_by').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  expiresAt: ts('expires_at').notNull(),
  lastUsedAt: ts('last_used_at'),
  revokedAt: ts('revoked_at'),
  revokedBy: text('revoked_by'),
}, t => [
  uniqueIndex('node_join_tokens_token_hash_key').on(t.tokenHash),
  check('node_join_tokens_uses_check', sql`${t.useCount} >= 0 and ${t.useCount} <= ${t.maxUses}`),
])

// API tokens (bearer credentials) with a role. Only the SHA-256 of the secret is kept; the secret
// is shown once, when the token is created. name is the token's subject in audit rows and events.
export const apiTokens = pgTable('api_tokens', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  role: text('role').notNull(),
  tokenHash: text('token_hash').notNull(),
  description: text('description').notNull().default(''),
  createdBy: text('created_by').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  expiresAt: ts('expires_at'),
  revokedAt: ts('revoked_at'),
  revokedBy: text('revoked_by'),
}, t => [
  uniqueIndex('api_tokens_token_hash_key').on(t.tokenHash),
  // A subject names one live token; a revoked token's name may be used again.
  uniqueIndex('api_tokens_live_name_key').on(t.name).where(sql`${t.revokedAt} is null`),
  check('api_tokens_role_check', sql`${t.role} in ('admin', 'operator', 'viewer', 'node')`),
])

export const runners = pgTable('runners', {
  id: uuid('id').primaryKey(),
  projectName: text('project_name').notNull().references(() => projects.name, { onDelete: 'cascade' }),
  projectPath: text('project_path').notNull(),
  agent: text('agent').notNull(),
  runtimeType: text('runtime_type').notNull().default('process'),
  runtimeId: text('runtime_id').notNull().default(''),
  nodeId: uuid('node_id').references(() => nodes.id, { onDelete: 'set null' }),
  status: text('status').notNull().default('pending'),
  desiredState: text('desired_state').notNull().default('running'),
  flags: jsonb('flags').$type<string[]>().notNull().default([]),
  capabilities: jsonb('capabilities').$type<string[]>().notNull().default([]),
  environment: jsonb('environment').$type<Record<string, string>>().notNull().default({}),
  conversationMode: text('conversation_mode').notNull().default('new'),
  sessionId: text('session_id'),
  god: boolean('god').notNull().default(false),
  prompt: text('prompt'),
  tokensUsed: tokens('tokens_used'),
  inputTokens: tokens('input_tokens'),
  outputTokens: tokens('output_tokens'),
  cacheReadTokens: tokens('cache_read_tokens'),
  cacheCreationTokens: tokens('cache_creation_tokens'),
  cpuPercent: real('cpu_percent').notNull().default(0),
  memoryMb: integer('memory_mb').notNull().default(0),
  restartAttempts: integer('restart_attempts').notNull().default(0),
  maxRestartAttempts: integer('max_restart_attempts').notNull().default(3),
  heartbeatTtlSeconds: integer('heartbeat_ttl_seconds').notNull().default(30),
  // Fencing token: bumped on every (re)start so a heartbeat from an older life is refused.
  generation: integer('generation').notNull().default(0),
  eventSeq: integer('event_seq').notNull().default(0),
  stopForce: boolean('stop_force').notNull().default(false),
  stopTimeoutSeconds: integer('stop_timeout_seconds'),
  stopRequestedAt: ts('stop_requested_at'),
  startedAt: ts('started_at'),
  lastHeartbeat: ts('last_heartbeat'),
  terminatedAt: ts('terminated_at'),
  exitCode: integer('exit_code'),
  // Why it last ended or restarted, in a line ("exited with code 1 at start: Not logged in").
  reason: text('reason'),
  // Why a paused runner is paused (budget, memory, manual) and, for a budget, which one.
  pauseReason: text('pause_reason'),
  pausedBudgetId: uuid('paused_budget_id').references(() => budgets.id, { onDelete: 'set null' }),
  pausedAt: ts('paused_at'),
  // What the agent is doing (src/core/runners/activity.ts), written by its supervisor.
  activityState: text('activity_state').notNull().default('unknown'),
  activitySource: text('activity_source'),
  activityDetail: text('activity_detail'),
  activitySince: ts('activity_since'),
  activityResetsAt: ts('activity_resets_at'),
  // Usage limits (README, Usage limits): when a runner paused by one is due to be resumed, whether
  // it resumes by itself then, the account whose runners share the limit, the message its next
  // start sends into the conversation, and when it was last resumed after a limit (the probe).
  resetsAt: ts('resets_at'),
  resumeAfterLimit: boolean('resume_after_limit').notNull().default(false),
  limitAccount: text('limit_account').notNull().default(''),
  resumeMessage: text('resume_message'),
  limitResumedAt: ts('limit_resumed_at'),
  createdBy: text('created_by').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
}, t => [
  index('runners_project_idx').on(t.projectName, t.id),
  index('runners_active_idx').on(t.projectName).where(sql`${t.status} not in ('terminated', 'failed')`),
  index('runners_node_idx').on(t.nodeId).where(sql`${t.status} not in ('terminated', 'failed')`),
  index('runners_heartbeat_idx').on(t.lastHeartbeat).where(sql`${t.status} in ('starting', 'running', 'paused', 'stopping', 'lost')`),
  // Recent failures, for the runner-failures alert (src/core/alerts): a range of failed rows only.
  index('runners_failed_idx').on(t.terminatedAt).where(sql`${t.status} = 'failed'`),
  check('runners_status_check', sql`${t.status} in ('pending', 'starting', 'running', 'paused', 'stopping', 'lost', 'terminated', 'failed')`),
  check('runners_desired_state_check', sql`${t.desiredState} in ('running', 'stopped')`),
  check('runners_conversation_mode_check', sql`${t.conversationMode} in ('new', 'continue', 'resume')`),
  check('runners_pause_reason_check', sql`${t.pauseReason} in ('budget', 'memory', 'manual', 'usage_limit')`),
  index('runners_limit_account_idx').on(t.agent, t.limitAccount).where(sql`${t.status} not in ('terminated', 'failed')`),
  index('runners_paused_idx').on(t.pausedAt, t.id).where(sql`${t.status} = 'paused'`),
  check('runners_activity_state_check', sql`${t.activityState} in ('working', 'waiting_permission', 'waiting_input', 'idle', 'rate_limited', 'error', 'unknown')`),
  // The inbox: running runners waiting for a person, oldest first.
  index('runners_waiting_idx').on(t.activitySince, t.id).where(sql`${t.status} = 'running' and ${t.activityState} in ('waiting_permission', 'waiting_input')`),
])

// The last output of a runner's process (its tail, at most RUNNER_OUTPUT_BYTES), written when
// the process ends or is restarted, so any daemon can show why it ended once it is gone. Its
// own table: runner rows are read on every list and heartbeat, and this is kilobytes.
export const runnerOutputs = pgTable('runner_outputs', {
  runnerId: uuid('runner_id').primaryKey().references(() => runners.id, { onDelete: 'cascade' }),
  generation: integer('generation').notNull(),
  output: bytea('output').notNull(),
  // The signal that ended that life, if one did (its exit code is the runner's).
  signal: text('signal'),
  recordedAt: ts('recorded_at').notNull().defaultNow(),
})

export const sessions = pgTable('sessions', {
  id: text('id').primaryKey(),
  runnerId: uuid('runner_id').references(() => runners.id, { onDelete: 'set null' }),
  projectName: text('project_name').notNull().references(() => projects.name, { onDelete: 'cascade' }),
  agent: text('agent').notNull(),
  startedAt: ts('started_at').notNull().defaultNow(),
  endedAt: ts('ended_at'),
  lastMessageAt: ts('last_message_at'),
  messageCount: integer('message_count').notNull().default(0),
  tokensUsed: tokens('tokens_used'),
  inputTokens: tokens('input_tokens'),
  outputTokens: tokens('output_tokens'),
  cacheReadTokens: tokens('cache_read_tokens'),
  cacheCreationTokens: tokens('cache_creation_tokens'),
  resumable: boolean('resumable').notNull().default(true),
  resumedFrom: text('resumed_from'),
  summary: text('summary'),
  transcriptPath: text('transcript_path'),
  // The transcript's path under the agent CLI's home (CLAUDE_CONFIG_DIR, CODEX_HOME), where a
  // supervisor on another node writes it back before resuming.
  transcriptName: text('transcript_name'),
  // Bytes of the transcript read so far: the archive's end, and where the next chunk starts.
  transcriptBytes: tokens('transcript_bytes'),
  // none (nothing read yet) ──read──> archived ──past sessions.archive_max_bytes──> over_limit
  transcriptArchive: text('transcript_archive').notNull().default('none'),
  createdAt: ts('created_at').notNull().defaultNow(),
}, t => [
  index('sessions_project_idx').on(t.projectName, t.lastMessageAt),
  index('sessions_runner_idx').on(t.runnerId),
  check('sessions_transcript_archive_check', sql`${t.transcriptArchive} in ('none', 'archived', 'over_limit')`),
])

// A session's transcript as the supervisor read it, in gzip-compressed chunks keyed by the byte
// offset where each starts; the chunks in offset order are the file.
export const sessionTranscriptChunks = pgTable('session_transcript_chunks', {
  sessionId: text('session_id').notNull().references(() => sessions.id, { onDelete: 'cascade' }),
  offset: bigint('offset', { mode: 'number' }).notNull(),
  rawBytes: integer('raw_bytes').notNull(),
  data: bytea('data').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
}, t => [
  primaryKey({ columns: [t.sessionId, t.offset] }),
])

// Outbox row states: pending ──publish+confirm──> delivered; pending ──attempts exhausted──> dead.
export const outbox = pgTable('outbox', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  eventId: uuid('event_id').notNull(),
  eventType: text('event_type').notNull(),
  routingKey: text('routing_key').notNull(),
  aggregateType: text('aggregate_type').notNull(),
  aggregateId: text('aggregate_id').notNull(),
  seq: integer('seq').notNull(),
  payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull().default(10),
  nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
  lastError: text('last_error'),
  deliveredAt: ts('delivered_at'),
  deadAt: ts('dead_at'),
}, t => [
  uniqueIndex('outbox_event_id_key').on(t.eventId),
  index('outbox_pending_idx').on(t.nextAttemptAt, t.id).where(sql`${t.deliveredAt} is null and ${t.deadAt} is null`),
  index('outbox_aggregate_idx').on(t.aggregateId, t.seq),
  // Dead rows are counted for /metrics and alerts without walking the delivered ones.
  index('outbox_dead_idx').on(t.id).where(sql`${t.deadAt} is not null`),
])

// The audit log: append-only, one row per state change, chained by HMAC (mac over prev_mac and
// the canonical row) so an edited, deleted or reordered row is detectable. One chain per project
// (`_system` for events without one), numbered 1, 2, 3... by chain_seq with no gaps; appends to
// a chain are serialized by the project's advisory lock (src/adapters/db/repositories/event-log.ts).
// key_id names the key of the MAC so keys can rotate. tx_id is the writing transaction, for
// readers that tail the table without skipping rows that commit out of order.
export const events = pgTable('events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  chain: text('chain').notNull(),
  chainSeq: integer('chain_seq').notNull(),
  eventId: uuid('event_id').notNull(),
  eventType: text('event_type').notNull(),
  entityType: text('entity_type').notNull(),
  entityId: text('entity_id').notNull(),
  project: text('project'),
  actor: text('actor').notNull(),
  occurredAt: ts('occurred_at').notNull(),
  data: jsonb('data').$type<Record<string, unknown>>().notNull(),
  keyId: text('key_id'),
  prevMac: text('prev_mac'),
  mac: text('mac'),
  txId: xid8('tx_id').notNull().default(sql`pg_current_xact_id()`),
}, t => [
  uniqueIndex('events_event_id_key').on(t.eventId),
  uniqueIndex('events_chain_seq_key').on(t.chain, t.chainSeq),
  index('events_entity_idx').on(t.entityType, t.entityId),
  index('events_occurred_idx').on(t.occurredAt),
  // The live feed's sequencer finds newly committed rows by tx_id (drizzle/0006_event_feed.sql).
  index('events_tx_position_idx').on(t.txId, t.id),
])

// The live feed's order (src/adapters/db/repositories/event-feed.ts): every committed audit row
// gets its place, seq 1, 2, 3... with no gap, once its transaction has committed, in commit
// order. Places are given by the function event_feed_advance() (drizzle/0006_event_feed.sql),
// one caller at a time, so a reader of `seq > n` never sees a later place before an earlier one.
export const eventFeed = pgTable('event_feed', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  auditId: bigint('audit_id', { mode: 'number' }).notNull().references(() => events.id, { onDelete: 'cascade' }),
}, t => [
  uniqueIndex('event_feed_audit_id_key').on(t.auditId),
])

// One row: the snapshot of the last advance. The audit rows it did not see (tx_id in its xip
// list or at or above its xmax) are the ones still to be placed.
export const eventFeedState = pgTable('event_feed_state', {
  one: boolean('one').primaryKey().default(true),
  snapshot: pgSnapshot('snapshot').notNull(),
}, t => [
  check('event_feed_state_one_check', sql`${t.one}`),
])

// Token budgets: one row per scope and period kind, holding the current period and its use.
// scope_id is '' for the global scope (never NULL, so the unique key really is unique). The
// period's bounds are computed in the budget's timezone when it is made and at each rollover;
// `total` never rolls over (its end is far in the future). Heartbeats add to used_tokens; the
// rollover moves the ended period to budget_periods and starts the next one.
export const budgets = pgTable('budgets', {
  id: uuid('id').primaryKey(),
  scope: text('scope').notNull(),
  scopeId: text('scope_id').notNull().default(''),
  period: text('period').notNull(),
  timezone: text('timezone').notNull().default('UTC'),
  limitTokens: bigint('limit_tokens', { mode: 'number' }).notNull(),
  warningPercent: integer('warning_percent').notNull().default(80),
  usedTokens: tokens('used_tokens'),
  periodStart: ts('period_start').notNull(),
  periodEnd: ts('period_end').notNull(),
  /** seq of the latest event about this budget (set, warning, exceeded, rolled over, deleted). */
  eventSeq: bigint('event_seq', { mode: 'number' }).notNull().default(1),
  createdBy: text('created_by').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
}, t => [
  uniqueIndex('budgets_scope_period_key').on(t.scope, t.scopeId, t.period),
  index('budgets_period_end_idx').on(t.periodEnd),
  check('budgets_scope_check', sql`${t.scope} in ('global', 'project', 'agent')`),
  check('budgets_global_scope_id_check', sql`(${t.scope} = 'global') = (${t.scopeId} = '')`),
  check('budgets_period_check', sql`${t.period} in ('day', 'week', 'month', 'total')`),
  check('budgets_limit_check', sql`${t.limitTokens} >= 0`),
  check('budgets_warning_percent_check', sql`${t.warningPercent} between 1 and 100`),
])

// The history: one row per ended period of a budget, written by the rollover.
export const budgetPeriods = pgTable('budget_periods', {
  budgetId: uuid('budget_id').notNull().references(() => budgets.id, { onDelete: 'cascade' }),
  periodStart: ts('period_start').notNull(),
  periodEnd: ts('period_end').notNull(),
  limitTokens: bigint('limit_tokens', { mode: 'number' }).notNull(),
  usedTokens: bigint('used_tokens', { mode: 'number' }).notNull(),
  closedAt: ts('closed_at').notNull().defaultNow(),
}, t => [primaryKey({ columns: [t.budgetId, t.periodStart] })])

export const resourceQuotas = pgTable('resource_quotas', {
  projectName: text('project_name').primaryKey().references(() => projects.name, { onDelete: 'cascade' }),
  maxConcurrentRunners: integer('max_concurrent_runners').notNull().default(5),
  // Resident memory of one runner's process tree; past it the runner is paused (reason memory).
  maxMemoryMb: bigint('max_memory_mb', { mode: 'number' }),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
}, t => [
  check('resource_quotas_max_runners_check', sql`${t.maxConcurrentRunners} >= 0`),
  check('resource_quotas_max_memory_check', sql`${t.maxMemoryMb} is null or ${t.maxMemoryMb} > 0`),
])

export const daemonInstances = pgTable('daemon_instances', {
  id: uuid('id').primaryKey(),
  hostname: text('hostname').notNull(),
  pid: integer('pid').notNull(),
  version: text('version').notNull(),
  roles: text('roles').array().notNull(),
  startedAt: ts('started_at').notNull().defaultNow(),
  lastHeartbeat: ts('last_heartbeat').notNull().defaultNow(),
  stoppedAt: ts('stopped_at'),
}, t => [
  // Daemons not stopped, by last beat: the daemon-down alert reads the recent ones only.
  index('daemon_instances_live_idx').on(t.lastHeartbeat).where(sql`${t.stoppedAt} is null`),
])

// Fleet counters for /metrics (repositories/metrics.ts): what a scrape would otherwise count
// over whole tables (runners per status, sessions, tokens). Statement triggers on runners and
// sessions append deltas (drizzle/0011_metric_counters.sql); inserts only, so no writer ever
// waits on a counter row. A rollup folds the deltas into metric_counters; readers add both.
export const metricCounters = pgTable('metric_counters', {
  name: text('name').notNull(),
  label: text('label').notNull().default(''),
  value: bigint('value', { mode: 'number' }).notNull().default(0),
}, t => [primaryKey({ columns: [t.name, t.label] })])

export const metricCounterDeltas = pgTable('metric_counter_deltas', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  name: text('name').notNull(),
  label: text('label').notNull().default(''),
  delta: bigint('delta', { mode: 'number' }).notNull(),
})

// One row: the daemon whose /metrics carries the fleet gauges, until expires_at (a lease it
// renews). The others serve only their own process metrics, so sums never double count.
export const metricsLeader = pgTable('metrics_leader', {
  one: boolean('one').primaryKey().default(true),
  daemonId: uuid('daemon_id').notNull(),
  expiresAt: ts('expires_at').notNull(),
}, t => [
  check('metrics_leader_one_check', sql`${t.one}`),
])

// Alert conditions (src/core/alerts): one row per condition key, firing or resolved. A
// system.alert.<severity> event is written only by the statement that changes a row's state,
// so a condition raises one event when it begins and one when it ends, whoever evaluates.
export const alerts = pgTable('alerts', {
  key: text('key').primaryKey(),
  name: text('name').notNull(),
  severity: text('severity').notNull(),
  state: text('state').notNull(),
  summary: text('summary').notNull(),
  data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
  firedAt: ts('fired_at').notNull(),
  resolvedAt: ts('resolved_at'),
  /** seq of the latest system.alert event about this key (fired 1, resolved 2, fired again 3...). */
  eventSeq: integer('event_seq').notNull().default(0),
}, t => [
  index('alerts_firing_idx').on(t.name).where(sql`${t.state} = 'firing'`),
  check('alerts_state_check', sql`${t.state} in ('firing', 'resolved')`),
  check('alerts_severity_check', sql`${t.severity} in ('info', 'warning', 'error', 'critical')`),
])

// Webhook notifications (src/core/notifications). notification_cursor is the place in the live
// feed's order (event_feed.seq) up to which events have been turned into deliveries: one row,
// locked by the pass that moves it, so daemons sharing the database never fan out one event
// twice and a restarted daemon goes on from where the last pass committed.
export const notificationCursor = pgTable('notification_cursor', {
  one: boolean('one').primaryKey().default(true),
  position: bigint('position', { mode: 'number' }).notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
}, t => [
  check('notification_cursor_one_check', sql`${t.one}`),
])

// One request to make: an event (or a reminder) for one webhook. idempotency_key is unique, so
// a state change becomes one delivery per webhook whoever fans it out, and it is sent as the
// Idempotency-Key header. A claim sets status sending with a lease (lease_id, lease_until): a
// daemon that dies mid-request leaves the row to be claimed again once the lease ends.
//
//   pending ──claimed──> sending ──2xx──> delivered
//      ^                    │ └──failed, attempts left──> pending (next_attempt_at backed off)
//      │                    └────failed, attempts used up──> dead ──retried by hand──> pending
//      └──────lease ended (the daemon died mid-request)─────┘
export const notificationDeliveries = pgTable('notification_deliveries', {
  id: uuid('id').primaryKey(),
  idempotencyKey: text('idempotency_key').notNull(),
  webhookId: text('webhook_id').notNull(),
  kind: text('kind').notNull(),
  eventId: uuid('event_id').notNull(),
  eventType: text('event_type').notNull(),
  routingKey: text('routing_key').notNull(),
  payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  status: text('status').notNull().default('pending'),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull(),
  nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
  leaseId: uuid('lease_id'),
  leaseUntil: ts('lease_until'),
  lastError: text('last_error'),
  lastStatusCode: integer('last_status_code'),
  createdAt: ts('created_at').notNull().defaultNow(),
  deliveredAt: ts('delivered_at'),
  deadAt: ts('dead_at'),
}, t => [
  uniqueIndex('notification_deliveries_idempotency_key').on(t.idempotencyKey),
  index('notification_deliveries_due_idx').on(t.webhookId, t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
  index('notification_deliveries_sending_idx').on(t.leaseUntil).where(sql`${t.status} = 'sending'`),
  index('notification_deliveries_status_idx').on(t.status, t.id),
  check('notification_deliveries_status_check', sql`${t.status} in ('pending', 'sending', 'delivered', 'dead')`),
  check('notification_deliveries_kind_check', sql`${t.kind} in ('event', 'reminder')`),
])

// A runner waiting for a person (its latest runner.activity event says waiting_permission or
// waiting_input): reminded once at due_at unless its next activity event comes first. The row
// is replaced by each waiting event of the runner and deleted by any other.
export const notificationReminders = pgTable('notification_reminders', {
  runnerId: text('runner_id').primaryKey(),
  eventId: uuid('event_id').notNull(),
  project: text('project').notNull(),
  state: text('state').notNull(),
  data: jsonb('data').$type<Record<string, unknown>>().notNull(),
  since: ts('since').notNull(),
  dueAt: ts('due_at').notNull(),
  firedAt: ts('fired_at'),
}, t => [
  index('notification_reminders_due_idx').on(t.dueAt).where(sql`${t.firedAt} is null`),
])

export const projectCapabilities = pgTable('project_capabilities', {
  projectName: text('project_name').notNull().references(() => projects.name, { onDelete: 'cascade' }),
  capability: text('capability').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
  createdAt: ts('created_at').notNull().defaultNow(),
}, t => [primaryKey({ columns: [t.projectName, t.capability] })])

export const schema = {
  projects, nodes, nodeJoinTokens, apiTokens, runners, runnerOutputs, sessions, sessionTranscriptChunks, outbox, events, eventFeed, eventFeedState, budgets, budgetPeriods, resourceQuotas, daemonInstances, projectCapabilities,
  metricCounters, metricCounterDeltas, metricsLeader, alerts, notificationCursor, notificationDeliveries, notificationReminders,
}
export type Schema = typeof schema
