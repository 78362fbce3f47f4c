// Claude Code: argv for new/continue/resume, god and headless runs, and an observer that follows
// the session's JSONL transcript (plus subagent transcripts) for deduplicated usage. Streamed
// stdout is used only to learn the session id: its assistant events repeat a provisional usage
// per content block (agent-clis.md §1.6) and must never be summed. What the agent is doing comes
// from hooks (interactive) and the stream's state events (headless): activity-signals.ts.
import { randomUUID } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { childHome, flag, processEnv } from './common.js'
import { claudeConfigDir, claudeProjectDir, createClaudeTranscriptFacts, createClaudeUsageLedger } from './claude-transcript.js'
import { createJsonlTail, parseJsonObject, sizeNow, str, type JsonlTail } from './jsonl-tail.js'
import type { ActivitySink, AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver } from './types.js'
import { CLAUDE_HOOK_EVENTS, claudeStreamSignal } from './activity-signals.js'
import { HOOK_TOKEN_VARIABLE } from './hook-variables.js'
import { createClaudeLimitReader } from './usage-limit.js'

// Short: a hook waits for its answer, and a supervisor that cannot answer must not hold the agent.
const HOOK_TIMEOUT_SECONDS = 5

/**
 * `type: "http"` hooks (§1.8) POSTing each payload to the runner's hook URL. The secret stays
 * out of argv: the header names the variable, which Claude expands only because it is listed
 * in allowedEnvVars.
 */
export const claudeHookSettings = (url: string) => {
  const handler = { type: 'http', url, headers: { Authorization: `Bearer $${HOOK_TOKEN_VARIABLE}` }, allowedEnvVars: [HOOK_TOKEN_VARIABLE], timeout: HOOK_TIMEOUT_SECONDS }
  return { hooks: Object.fromEntries(CLAUDE_HOOK_EVENTS.map(event => [event, [{ matcher: '', hooks: [handler] }]])) }
}

const invocation = (spec: AgentLaunchSpec): AgentInvocation => {
  const argv = [...spec.command]
  const env: Record<string, string> = {}
  let sessionId: string | null = null
  if (spec.prompt !== null) argv.push('-p', flag('--output-format', 'stream-json'), '--verbose')
  if (spec.conversationMode === 'resume' && spec.sessionId) {
    argv.push(flag('--resume', spec.sessionId))
    sessionId = spec.sessionId
  } else if (spec.conversationMode === 'new') {
    // Pre-assigned so the transcript path is known before the spawn.
    sessionId = randomUUID()
    argv.push(flag('--session-id', sessionId))
  } else {
    // `continue`, and `resume` without an id (a bare --resume would open a picker, or fail in -p).
    argv.push('--continue')
  }
  // Interactive: hooks report to the runner's channel, through a settings layer of their own
  // (the user's settings files stay untouched). Headless: the stream's state events say it all.
  if (spec.prompt === null && spec.activityHook) argv.push(flag('--settings', JSON.stringify(claudeHookSettings(spec.activityHook.url))))
  if (spec.prompt !== null) env.CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS = '1'
  if (spec.god) {
    argv.push('--dangerously-skip-permissions')
    // As root the CLI refuses skip-permissions unless told it runs in a sandbox (§1.2).
    if (spec.runningAsRoot) env.IS_SANDBOX = '1'
  }
  argv.push(...spec.flags)
  // After `--` a prompt that starts with `-` cannot be read as a flag (verified on 2.1.332);
  // an interactive run takes a first message the same way.
  if (spec.prompt !== null) argv.push('--', spec.prompt)
  else if (spec.message) argv.push('--', spec.message)
  // CLAUDECODE=1 (set inside Claude's own tool shells) makes a child Claude think it is nested.
  return { argv, env, unsetEnv: ['CLAUDECODE'], terminal: spec.prompt === null, sessionId }
}

/** `.jsonl` files under a project dir and their sizes, the baseline of "already there". */
const snapshotSizes = (projectDir: string): Map<string, number> => {
  const sizes = new Map<string, number>()
  const visit = (dir: string, depth: number) => {
    let names: string[]
    try { names = readdirSync(dir) } catch { return }
    for (const name of names) {
      const path = join(dir, name)
      if (name.endsWith('.jsonl')) sizes.set(path, sizeNow(path))
      else if (depth < 2 && !name.includes('.')) visit(path, depth + 1)
    }
  }
  visit(projectDir, 0)
  return sizes
}

const isSizes = (value: unknown): value is Record<string, number> =>
  typeof value === 'object' && value !== null && Object.values(value).every(size => typeof size === 'number')

/** The newest transcript in the project dir that grew after the baseline (interactive --continue). */
const newestWritten = (projectDir: string, baseline: Map<string, number>): string | null => {
  let best: { id: string, mtime: number } | null = null
  let names: string[]
  try { names = readdirSync(projectDir) } catch { return null }
  for (const name of names) {
    if (!name.endsWith('.jsonl')) continue
    const path = join(projectDir, name)
    try {
      const st = statSync(path)
      if (st.size <= (baseline.get(path) ?? 0)) continue
      if (!best || st.mtimeMs > best.mtime) best = { id: name.slice(0, -'.jsonl'.length), mtime: st.mtimeMs }
    } catch { /* vanished */ }
  }
  return best?.id ?? null
}

const observe = (spec: AgentLaunchSpec, inv: AgentInvocation, activity: ActivitySink = () => {}, origin?: unknown): AgentObserver => {
  const env = processEnv(spec, inv)
  const configDir = claudeConfigDir(env, childHome(spec, inv))
  let projectDir = claudeProjectDir(configDir, spec.cwd)
  // Resumed and continued sessions append to files that already hold earlier runs' usage; only
  // bytes written after this moment belong to this process.
  const baseline = isSizes(origin) ? new Map(Object.entries(origin)) : snapshotSizes(projectDir)
  const ledger = createClaudeUsageLedger()
  // The stream and the transcript tell of the same limit; one reader takes both.
  const limits = createClaudeLimitReader()
  const tails = new Map<string, JsonlTail>()
  let sessionId = inv.sessionId
  let closed = false

  const tailOf = (path: string) => {
    let tail = tails.get(path)
    if (!tail) { tail = createJsonlTail(path, baseline.get(path) ?? 0); tails.set(path, tail) }
    return tail
  }

  const transcriptFiles = (id: string): string[] => {
    const files = [join(projectDir, `${id}.jsonl`)]
    const subagents = join(projectDir, id, 'subagents')
    try {
      for (const name of readdirSync(subagents).sort()) {
        if (name.startsWith('agent-') && name.endsWith('.jsonl')) files.push(join(subagents, name))
      }
    } catch { /* no subagents yet */ }
    return files
  }

  return {
    onStdoutLine(line) {
      const event = parseJsonObject(line)
      if (event) limits.add(event, 'stream')
      const id = str(event?.session_id)
      // Every stream-json event carries session_id; old CLIs fork a new id on --resume (§1.3).
      if (id) sessionId = id
      const signal = event ? claudeStreamSignal(event) : null
      if (signal) activity(signal)
    },
    async poll() {
      if (closed) return
      // A long cwd's directory name ends in a hash; it can only be matched once it exists.
      if (tails.size === 0) projectDir = claudeProjectDir(configDir, spec.cwd)
      if (!sessionId && spec.prompt === null) sessionId = newestWritten(projectDir, baseline)
      if (!sessionId) return
      // Earlier ids stay followed: a fork mid-run must not lose what the old file recorded.
      for (const path of transcriptFiles(sessionId)) tailOf(path)
      for (const tail of tails.values()) {
        for (const record of await tail.read()) { ledger.add(record); limits.add(record, 'transcript') }
      }
    },
    sessionId: () => sessionId,
    usage: () => ledger.total(),
    transcriptPath: () => sessionId ? join(projectDir, `${sessionId}.jsonl`) : null,
    usageLimit: () => limits.limit(),
    close() { closed = true },
    origin: () => Object.fromEntries(baseline),
  }
}

export const claudeAdapter: AgentAdapter = {
  kind: 'claude',
  invocation,
  observe,
  transcriptHome: (spec, inv) => claudeConfigDir(processEnv(spec, inv), childHome(spec, inv)),
  transcriptFacts: createClaudeTranscriptFacts,
  hookFlavour: spec => spec.prompt === null ? 'claude' : null,
}
