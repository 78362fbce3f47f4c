// What the supervisor needs from the machine it runs on: starting an agent's process (the
// adapters pick argv, terminal and transcript), sampling process trees, and cleaning up a
// process a previous supervisor left behind, or adopting it. Implemented in src/adapters/agents/runtime.ts.
import type { ActivitySignal } from '../runners/activity.js'
import type { ConversationMode, Runner } from '../runners/runner.js'
import type { TranscriptSlice } from '../sessions/session.js'
import type { ReportedLimit } from '../runners/usage-limits.js'

export interface TokenCounts {
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheCreationTokens: number
}

export interface ExitStatus { code: number | null, signal: string | null }

export interface LiveAgent {
  pid: number
  /** Resolves once, when the process has exited and its output is drained. */
  exited: Promise<ExitStatus>
  /** SIGTERM to the process group, SIGKILL after timeoutMs (0: at once); no descendant survives. */
  stop(timeoutMs: number): Promise<ExitStatus>
  /** Reads the agent's structured signals (transcript) so the getters below are current. */
  poll(): Promise<void>
  sessionId(): string | null
  transcriptPath(): string | null
  /** Whether the agent's CLI can resume its session by id (recorded on the session). */
  resumable: boolean
  /**
   * The transcript's bytes from `offset` (at most maxBytes) with what they tell of the
   * conversation; null when there is no transcript (yet), 'shrank' when the file is now shorter
   * than `offset` (rewritten).
   */
  readTranscript(offset: number, maxBytes: number): Promise<TranscriptSlice | 'shrank' | null>
  /** The latest output of this process (the tail its terminal keeps), readable after it exits. */
  output(): Uint8Array
  /** Tokens this process has used so far (not counting earlier lives of the session). */
  usage(): TokenCounts
  /**
   * Where what the agent says it is doing goes (its hooks and stream events); signals that came
   * before a listener was set are handed to it, in order, when it is.
   */
  onActivity(listener: (signal: ActivitySignal) => void): void
  /** The usage or rate limit the agent reported in this life (read by poll()), or null. */
  usageLimit(): ReportedLimit | null
  /** Its exit is recorded: whatever keeps it for a later supervisor (a shim) may let it go. */
  release?(): void
  /** Lets go of the process without ending it: it stays with its shim for the next supervisor. */
  detach?(): void
}

/** A process an earlier supervisor started and left running (or whose exit it left unrecorded). */
export interface AdoptedAgent {
  agent: LiveAgent
  /** The runner's token totals before this process started, as they were at its start. */
  base: TokenCounts
  /** When the process started (epoch ms). */
  startedAt: number
}

export interface StartPlan {
  generation: number
  conversationMode: ConversationMode
  sessionId: string | null
  /** Stratavore's message this start sends into the conversation (after a usage limit), or null. */
  message: string | null
  /** The archived transcript of the session to resume, written back where the CLI looks for it. */
  restore: TranscriptRestore | null
}

export interface TranscriptRestore {
  /** The transcript's path under the CLI's home (as recorded where it was read). */
  name: string
  bytes: number
  read(): AsyncIterable<Uint8Array>
}

export interface ProcessSample { cpuPercent: number, memoryMb: number }

export interface AgentRuntime {
  /** Spawns the runner's agent; rejects (spawn failed, agent unknown) without leaving a process. */
  start(runner: Runner, plan: StartPlan): Promise<LiveAgent>
  /** CPU and memory of each pid's whole process tree, read in one pass. */
  sample(pids: number[]): Map<number, ProcessSample>
  /** Kills the process tree at `pid` if it is this runner's agent from an earlier life; true if it was. */
  killLeftover(runnerId: string, pid: number): Promise<boolean>
  /**
   * Takes over the process an earlier supervisor left for this runner's current generation,
   * where it is (no restart); its exit, if it ended meanwhile, comes through `exited`. Null
   * when there is none (a runtime whose agents end with their supervisor has none to give).
   */
  adopt?(runner: Runner): Promise<AdoptedAgent | null>
}
