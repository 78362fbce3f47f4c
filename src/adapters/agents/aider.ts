// Aider (agent-clis.md §4): `--message` for headless runs, no session ids (history is a markdown
// file reloaded with --restore-chat-history). Usage comes from the JSONL analytics log, which
// aider keeps writing even with --no-analytics. Only proven against the recorded line shape in
// the reference (the CLI is not installed here).
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addUsage, flag } from './common.js'
import { asRecord, count, createJsonlTail } from './jsonl-tail.js'
import type { AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from './types.js'

const ANALYTICS_LOG = '--analytics-log'

const invocation = (spec: AgentLaunchSpec): AgentInvocation => {
  const argv = [...spec.command]
  // One log per process, so the observer reads only this run's events.
  const dir = spec.env.TMPDIR || tmpdir()
  const safeRunner = spec.runnerId.replace(/[^A-Za-z0-9_-]/g, '_')
  const log = join(dir, `stratavore-aider-${safeRunner}-${randomBytes(6).toString('hex')}.jsonl`)
  argv.push(flag(ANALYTICS_LOG, log), '--no-analytics')
  if (spec.conversationMode !== 'new') argv.push('--restore-chat-history')
  if (spec.god) argv.push('--yes-always')
  argv.push(...spec.flags)
  if (spec.prompt !== null) argv.push(flag('--message', spec.prompt))
  return { argv, env: {}, terminal: spec.prompt === null, sessionId: null }
}

/** The analytics log the invocation chose, read back from its own argv. */
export const analyticsLogOf = (argv: string[]): string | null => {
  const arg = argv.find(a => a.startsWith(`${ANALYTICS_LOG}=`))
  return arg ? arg.slice(ANALYTICS_LOG.length + 1) : null
}

/** `message_send` properties: prompt_tokens / completion_tokens; aider logs no cache split. */
export const usageFromAiderEvent = (record: Record<string, unknown>): TokenUsage | null => {
  if (record.event !== 'message_send') return null
  const props = asRecord(record.properties)
  if (!props) return null
  return { inputTokens: count(props.prompt_tokens), outputTokens: count(props.completion_tokens), cacheReadTokens: 0, cacheCreationTokens: 0 }
}

const observe = (spec: AgentLaunchSpec, inv: AgentInvocation): AgentObserver => {
  const log = analyticsLogOf(inv.argv)
  const tail = log ? createJsonlTail(log) : null
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }
  let closed = false
  return {
    onStdoutLine: () => {},
    async poll() {
      if (closed || !tail) return
      for (const record of await tail.read()) {
        const u = usageFromAiderEvent(record)
        if (u) usage = addUsage(usage, u)
      }
    },
    sessionId: () => spec.sessionId,
    usage: () => usage,
    transcriptPath: () => log,
    usageLimit: () => null,
    // The log is ours (a temp file); the supervisor polls once more before closing.
    close() {
      closed = true
      if (log) rmSync(log, { force: true })
    },
  }
}

export const aiderAdapter: AgentAdapter = { kind: 'aider', invocation, observe }
