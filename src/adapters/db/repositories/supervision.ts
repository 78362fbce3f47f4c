// What a supervisor writes. Every runner transition is conditional on the generation (the
// fencing token) and the state it leaves, and bumps event_seq, so a supervisor from an older
// life, or one racing the reconciler, changes nothing and writes no event.
import { and, asc, eq, inArray, isNull, notInArray, sql } from 'drizzle-orm'
import type { SupervisionRepository } from '../../../core/ports.js'
import { nextActivity } from '../../../core/runners/activity.js'
import { QUOTA_STATUSES, TERMINAL_STATUSES } from '../../../core/runners/runner.js'
import { rowsOf, type Db } from '../client.js'
import { nodes, runnerOutputs, runners, sessions } from '../schema.js'
import { createHeartbeatStatement } from './heartbeats.js'
import { handedOverColumns, toRunner } from './runners.js'

const bumpSeq = { eventSeq: sql`${runners.eventSeq} + 1`, updatedAt: sql`now()` }
// A new or ended process: nothing its agent said before holds (the runner.started or ended event says so).
const activityCleared = { activityState: 'unknown', activitySource: null, activityDetail: null, activitySince: sql`now()`, activityResetsAt: null } as const
const active = notInArray(runners.status, [...TERMINAL_STATUSES])
const one = async (rows: Promise<Array<typeof runners.$inferSelect>>) => {
  const [row] = await rows
  return row ? toRunner(row) : null
}

export const createSupervisionRepository = (db: Db): SupervisionRepository => ({
  async registerNode (node) {
    const [byName] = await db.select({ id: nodes.id }).from(nodes).where(eq(nodes.name, node.name)).limit(1)
    if (byName && byName.id !== node.id) return 'name_taken'
    const rows = await db.insert(nodes).values({
      id: node.id, name: node.name, hostname: node.hostname, version: node.version, capacity: node.capacity, status: 'ready',
      labels: node.labels ?? {}, agents: node.agents ?? {}, credentialHash: node.credentialHash, attachUrl: node.attachUrl, attachKey: node.attachKey, lastHeartbeat: sql`now()`, eventSeq: 1,
    }).onConflictDoUpdate({
      target: nodes.id,
      set: {
        name: node.name, hostname: node.hostname, version: node.version, capacity: node.capacity, status: 'ready',
        // What the supervisor reports now, under the labels an admin pinned through its join token.
        labels: sql`${JSON.stringify(node.labels ?? {})}::jsonb || ${nodes.pinnedLabels}`, agents: node.agents ?? {},
        attachUrl: node.attachUrl, attachKey: node.attachKey, lastHeartbeat: sql`now()`, updatedAt: sql`now()`,
        eventSeq: sql`${nodes.eventSeq} + 1`,
      },
      // A node id is only ever re-registered by the holder of its credential.
      setWhere: eq(nodes.credentialHash, node.credentialHash),
    }).returning({ seq: nodes.eventSeq })
    return rows.length === 1 ? { seq: rows[0]!.seq } : 'credential_mismatch'
  },

  async releaseNode (nodeId, mode) {
    // Runners already asked to stop end as stopped either way; `paused` ones hold no process
    // and stay as they are.
    const onNode = and(eq(runners.nodeId, nodeId), inArray(runners.status, ['pending', 'starting', 'running', 'stopping']))
    const ended = { status: 'terminated', desiredState: 'stopped', terminatedAt: sql`now()`, ...bumpSeq } as const
    const stopped = await db.update(runners).set(ended)
      .where(and(onNode, mode === 'stop' ? sql`true` : eq(runners.desiredState, 'stopped'))).returning()
    const handedOver = mode === 'stop' ? [] : await db.update(runners).set(handedOverColumns(null))
      .where(and(onNode, eq(runners.desiredState, 'running'))).returning()
    const [node] = await db.update(nodes).set({ status: 'down', eventSeq: sql`${nodes.eventSeq} + 1`, updatedAt: sql`now()` })
      .where(eq(nodes.id, nodeId)).returning({ name: nodes.name, seq: nodes.eventSeq })
    return { stopped: stopped.map(toRunner), handedOver: handedOver.map(toRunner), node: node ?? null }
  },

  async nodeAttachInfo (nodeId) {
    const [row] = await db.select({ nodeId: nodes.id, attachUrl: nodes.attachUrl, attachKey: nodes.attachKey, status: nodes.status, credentialHash: nodes.credentialHash })
      .from(nodes).where(eq(nodes.id, nodeId)).limit(1)
    return row ?? null
  },

  async claimUnassigned (nodeId, limit) {
    if (limit <= 0) return []
    // Only runners whose agent this node has (a node that reported no agents takes any).
    const nodeAgents = sql`(select ${nodes.agents} from ${nodes} where ${nodes.id} = ${nodeId})`
    const candidates = db.select({ id: runners.id }).from(runners)
      .where(and(isNull(runners.nodeId), eq(runners.status, 'pending'), sql`(${nodeAgents} = '{}'::jsonb or jsonb_exists(${nodeAgents}, ${runners.agent}))`))
      .orderBy(asc(runners.id)).limit(limit).for('update', { skipLocked: true })
    const rows = await db.update(runners).set({ nodeId, ...bumpSeq })
      .where(and(inArray(runners.id, candidates), isNull(runners.nodeId), eq(runners.status, 'pending')))
      .returning()
    return rows.map(toRunner)
  },

  async assigned (nodeId) {
    const rows = await db.select().from(runners).where(and(eq(runners.nodeId, nodeId), active)).orderBy(asc(runners.id))
    return rows.map(toRunner)
  },

  // A paused runner is started again only through a resume (which makes it pending first). The
  // new life has not beaten yet: the last life's heartbeat (a pause or a backoff ago) would make
  // the reconciler take it for silent while it starts; it is seen from this transition instead.
  beginStart: (id, nodeId, { generation, restartAttempts, reason }) => one(db.update(runners)
    .set({ status: 'starting', generation: sql`${runners.generation} + 1`, restartAttempts, exitCode: null, lastHeartbeat: null, startedAt: null, ...(reason !== undefined ? { reason } : {}), ...bumpSeq })
    .where(and(eq(runners.id, id), eq(runners.nodeId, nodeId), eq(runners.generation, generation), eq(runners.desiredState, 'running'),
      inArray(runners.status, [...QUOTA_STATUSES])))
    .returning()),

  async pausedStopped (id, generation) {
    await db.update(runners).set({ runtimeId: '', cpuPercent: 0, memoryMb: 0, updatedAt: sql`now()` })
      .where(and(eq(runners.id, id), eq(runners.generation, generation), eq(runners.status, 'paused')))
  },

  markRunning: (id, generation, { pid, sessionId }) => one(db.update(runners)
    .set({
      status: 'running', runtimeId: String(pid), startedAt: sql`now()`, lastHeartbeat: sql`now()`,
      // The start that carried Stratavore's message has run: a later restart does not send it again.
      resumeMessage: null,
      sessionId: sql`coalesce(${sessionId}::text, ${runners.sessionId})`, ...activityCleared, ...bumpSeq,
    })
    .where(and(eq(runners.id, id), eq(runners.generation, generation), eq(runners.status, 'starting')))
    .returning()),

  markExited: (id, generation, { status, exitCode, reason }) => one(db.update(runners)
    .set({ status, exitCode, reason, desiredState: 'stopped', terminatedAt: sql`now()`, cpuPercent: 0, memoryMb: 0, ...activityCleared, ...bumpSeq })
    .where(and(eq(runners.id, id), eq(runners.generation, generation), active))
    .returning()),

  async recordOutput (runnerId, generation, { output, signal }) {
    await db.insert(runnerOutputs).values({ runnerId, generation, output, signal, recordedAt: sql`now()` })
      .onConflictDoUpdate({ target: runnerOutputs.runnerId, set: { generation, output, signal, recordedAt: sql`now()` } })
  },

  async setActivity (id, generation, signal, since) {
    // Only a running process of this generation reports, and only a real change is written
    // (the same state and detail again bumps nothing and writes no event). The row is locked so
    // the previous state the event names is the one replaced.
    const mine = and(eq(runners.id, id), eq(runners.generation, generation), eq(runners.status, 'running'))
    const [current] = await db.select().from(runners).where(mine).for('update')
    if (!current) return null
    const before = toRunner(current)
    const activity = nextActivity(before.activity, signal, since)
    if (!activity) return null
    const [row] = await db.update(runners)
      .set({
        activityState: activity.state, activitySource: activity.source, activityDetail: activity.detail,
        activitySince: activity.since, activityResetsAt: activity.resetsAt, ...bumpSeq,
      })
      .where(mine).returning()
    return row ? { runner: toRunner(row), previous: before.activity } : null
  },

  recoverLost: (id, generation) => one(db.update(runners)
    .set({ status: 'running', ...bumpSeq })
    .where(and(eq(runners.id, id), eq(runners.generation, generation), eq(runners.status, 'lost')))
    .returning()),

  async resetRestartAttempts (id, generation) {
    await db.update(runners).set({ restartAttempts: 0, updatedAt: sql`now()` })
      .where(and(eq(runners.id, id), eq(runners.generation, generation), active))
  },

  setSession: (id, generation, sessionId) => one(db.update(runners)
    .set({ sessionId, ...bumpSeq })
    .where(and(eq(runners.id, id), eq(runners.generation, generation), active, sql`${runners.sessionId} is distinct from ${sessionId}`))
    .returning()),

  async endSession (sessionId, runnerId) {
    await db.update(sessions).set({ endedAt: sql`now()` }).where(and(eq(sessions.id, sessionId), eq(sessions.runnerId, runnerId)))
  },

  async recordSession (s) {
    const rows = rowsOf(await db.execute(sql`
      insert into ${sessions} (id, runner_id, project_name, agent, transcript_path, resumed_from, resumable, started_at, last_message_at)
      values (${s.id}, ${s.runnerId}, ${s.project}, ${s.agent}, ${s.transcriptPath}, ${s.resumedFrom}, ${s.resumable}, now(), now())
      on conflict (id) do update set runner_id = excluded.runner_id, ended_at = null,
        transcript_path = coalesce(excluded.transcript_path, ${sessions.transcriptPath})
      returning (xmax = 0) as inserted`))
    return (rows[0] as { inserted?: boolean } | undefined)?.inserted === true
  },

  heartbeat: createHeartbeatStatement(db),
})
