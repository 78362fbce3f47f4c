// What the supervisor core (node-supervisor.ts, heartbeat-tick.ts, transcript-archiver.ts) asks
// of the control plane, and nothing more. Two adapters stand behind it: the database one
// (database-supervision.ts: the conditional transitions in this process, for the embedded
// default and a supervisor that holds the database's credentials) and the RPC one
// (src/adapters/supervisor/rpc-supervision.ts: the same calls over SupervisionService, for a
// supervisor that holds only its node's credential). A runner answered as null, or missing
// from a map, has moved on (stopped, failed, restarted elsewhere): its process must not live.
import type { NodeRegistration, RunnerBeat } from '../ports.js'
import type { ActivitySignal, RunnerActivity } from '../runners/activity.js'
import type { Runner } from '../runners/runner.js'
import type { ReportedLimit, ResetAdjustment } from '../runners/usage-limits.js'
import type { TranscriptPosition, TranscriptSlice } from '../sessions/session.js'
import type { ExitStatus } from './agent-runtime.js'

/** An activity recorded: the runner as it now is and what it was doing before. */
export interface ActivityChange { runner: Runner, previous: RunnerActivity }

/** A session as a live agent reports it. */
export interface SeenSession { sessionId: string, transcriptPath: string | null, resumable: boolean }

export interface StartedProcess { runner: Runner, pid: number, sessionId: string | null, transcriptPath: string | null, resumable: boolean }

export interface RestartRequest { attempt: number, delayMs: number, reason: string, output?: Buffer, exit?: ExitStatus }

export interface UsageOutcome {
  /** Recorded (runners the reconciler had declared lost are recovered). */
  accepted: string[]
  /** Refused: the runner finished or lives in a newer generation; its process must die. */
  fenced: string[]
  /** Paused by this report (a budget reached its limit, memory over its cap): end their agents. */
  paused: Runner[]
}

export interface TranscriptArchive {
  position(sessionId: string): Promise<TranscriptPosition | null>
  /** Null: another writer or a reset moved the archive. */
  append(sessionId: string, slice: TranscriptSlice, maxBytes: number): Promise<TranscriptPosition | null>
  reset(sessionId: string): Promise<void>
  read(sessionId: string, endBytes: number): AsyncIterable<Uint8Array>
}

export interface SupervisionPort {
  register(node: NodeRegistration): Promise<'ok' | 'name_taken' | 'credential_mismatch'>
  /** Unassigned pending runners → this node, up to `limit`. */
  claim(limit: number): Promise<Runner[]>
  /** This node's active runners, oldest first. */
  assigned(): Promise<Runner[]>
  /** pending → starting for first starts; the rows that moved. */
  beginMany(runners: Runner[]): Promise<Runner[]>
  restart(runner: Runner, restart: RestartRequest): Promise<Runner | null>
  /** starting → running; the map holds the rows that moved. */
  running(started: StartedProcess[]): Promise<Map<string, Runner>>
  exited(runner: Runner, generation: number, status: 'terminated' | 'failed', exit: ExitStatus | null, reason: string, output?: Buffer): Promise<Runner | null>
  sessionSeen(runner: Runner, generation: number, seen: SeenSession): Promise<void>
  pausedStopped(runnerId: string, generation: number): Promise<void>
  resetRestartAttempts(runnerId: string, generation: number): Promise<void>
  /** One heartbeat for every process of the node, with its consequences (recoveries, pauses). */
  heartbeat(beats: RunnerBeat[]): Promise<UsageOutcome>
  /** What the agent says it is doing; null when nothing changed or the runner moved on. */
  activity(runner: Runner, generation: number, signal: ActivitySignal, since: Date): Promise<ActivityChange | null>
  /** A usage limit the agent reported: it and its account's runnable runners are paused. */
  pauseForUsageLimit(runner: Runner, generation: number, limit: ReportedLimit): Promise<{ paused: Runner[], resetsAt: Date, adjusted: ResetAdjustment }>
  /** The graceful stop (supervisor.on_shutdown), after the agents ended. */
  release(mode: 'stop' | 'handover'): Promise<{ stopped: number, handedOver: number }>
  transcripts: TranscriptArchive
}
