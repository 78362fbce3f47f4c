// What the supervisor needs from an agent CLI adapter: how to start it (argv, environment,
// terminal or pipes) and how to read what it did (its session id and token usage) from the
// CLI's own structured output or transcript. One adapter per CLI kind; see
// shared/reference/agent-clis.md for each CLI's real flags and formats.
import type { AgentKind } from '../../config-spec.js'
import type { ActivitySignal } from '../../core/runners/activity.js'
import type { UsageLimit } from './usage-limit.js'

export interface AgentLaunchSpec {
  runnerId: string
  /** The configured agent name (`agents.<name>`) and its kind. */
  agentName: string
  kind: AgentKind
  /** `agents.<name>.command`: the program and any fixed leading arguments. */
  command: string[]
  /** Absolute, already checked working directory. */
  cwd: string
  /** The runner's own extra flags, appended after the adapter's; never parsed by a shell. */
  flags: string[]
  god: boolean
  conversationMode: 'new' | 'continue' | 'resume'
  /** The session to resume (mode `resume`), or null. */
  sessionId: string | null
  /** Headless when set: the CLI runs this one prompt with structured output and exits. */
  prompt: string | null
  /**
   * Stratavore's own words to an interactive run, sent as its first message (a resume after a
   * usage limit); a headless run gets them as its prompt instead. Null: none.
   */
  message?: string | null
  /** The environment the process will get (config env + runner env + the supervisor's base). */
  env: Record<string, string>
  /** True when the supervisor runs as uid 0 (Claude refuses skip-permissions as root without IS_SANDBOX=1). */
  runningAsRoot: boolean
  /**
   * The runner's hook channel (src/adapters/supervisor/hook-server.ts), when the adapter asked
   * for one (hookFlavour): its URL; the secret is in env as STRATAVORE_HOOK_TOKEN.
   */
  activityHook?: { url: string }
}

/** Where an observer sends what the CLI's structured output says the agent is doing. */
export type ActivitySink = (signal: ActivitySignal) => void

export interface AgentInvocation {
  /** argv[0] is the program; an array, never a shell string. */
  argv: string[]
  /** Variables the adapter adds on top of spec.env. */
  env: Record<string, string>
  /**
   * Variables to remove from spec.env before the spawn (e.g. CLAUDECODE, which makes Claude
   * think it runs nested inside another Claude). Use processEnv() in ./index.ts to apply both.
   */
  unsetEnv?: string[]
  /** true: run in a pseudo-terminal; false: pipes, stdout carries the structured output. */
  terminal: boolean
  /** The agent's session id when known before the spawn (pre-assigned or resumed). */
  sessionId: string | null
}

export interface TokenUsage {
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheCreationTokens: number
}

export const ZERO_USAGE: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }
export const totalTokens = (u: TokenUsage) => u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheCreationTokens

/**
 * Reads one running process's structured signals. The supervisor feeds it stdout lines (pipes
 * mode only) and calls poll() before every heartbeat; observers that tail a transcript read
 * the new bytes there. Every method must tolerate garbage input (unknown record types,
 * partial lines, missing files) without throwing.
 */
export interface AgentObserver {
  /** One complete line of the process's stdout (pipes mode). */
  onStdoutLine(line: string): void
  /** Reads whatever files the observer follows (transcripts); cheap when nothing changed. */
  poll(): Promise<void>
  /** The session id last seen (it may change, e.g. on old CLIs that fork on resume). */
  sessionId(): string | null
  /** Usage of this process's life so far, deduplicated, cumulative. */
  usage(): TokenUsage
  /** Where the transcript lives, when known (stored on the session). */
  transcriptPath(): string | null
  /** The usage or rate limit the CLI reported in this life (usage-limit.ts), or null. */
  usageLimit(): UsageLimit | null
  close(): void
  /**
   * Where this observer began counting, as JSON; passed back to observe() it counts from the
   * same point again, so a supervisor that adopts a running process counts its whole life.
   * Absent: an adopter counts on from the runner's recorded totals.
   */
  origin?(): unknown
}

/** What a process's transcript records tell of the conversation, gathered as they are read. */
export interface TranscriptFacts {
  add(record: Record<string, unknown>): void
  /** What the records added since the last take hold. */
  take(): ConversationFacts
}

export interface ConversationFacts {
  /** Prompts and replies (not tool calls and results, not the CLI's own bookkeeping). */
  messages: number
  /** The agent's own title or summary of the session, if one was written. */
  summary: string | null
  firstPrompt: string | null
}

export interface AgentAdapter {
  kind: AgentKind
  invocation(spec: AgentLaunchSpec): AgentInvocation
  /**
   * `activity` receives the signals read from stdout (stream events); adapters without any ignore it.
   * `origin`: an earlier observer's origin() for the same process (adoption).
   */
  observe(spec: AgentLaunchSpec, invocation: AgentInvocation, activity?: ActivitySink, origin?: unknown): AgentObserver
  /** Whether (and how) this CLI's hooks report to the supervisor's hook channel for this spec. */
  hookFlavour?(spec: AgentLaunchSpec): 'claude' | 'codex' | 'gemini' | 'opencode' | null
  /**
   * The directory the CLI keeps its transcripts under (Claude's config dir, CODEX_HOME): a
   * transcript's path relative to it is where another host's CLI looks for it. Absent: the
   * adapter archives no transcript.
   */
  transcriptHome?(spec: AgentLaunchSpec, invocation: AgentInvocation): string
  transcriptFacts?(): TranscriptFacts
}
