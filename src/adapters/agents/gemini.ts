// Google Gemini CLI (agent-clis.md §3): `-p` headless runs with stream-json output, a
// pre-assigned --session-id for new sessions, --resume for the others. Only proven against the
// recorded event shapes in the reference (the CLI is not installed here); the interactive TUI
// reports no usage we read yet.
import { randomUUID } from 'node:crypto'
import { addUsage, flag } from './common.js'
import { asRecord, count, parseJsonObject, str } from './jsonl-tail.js'
import type { AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from './types.js'

const invocation = (spec: AgentLaunchSpec): AgentInvocation => {
  const argv = [...spec.command]
  let sessionId: string | null = null
  // --resume, --session-id and --session-file are mutually exclusive (§3).
  if (spec.conversationMode === 'new') {
    sessionId = randomUUID()
    argv.push(flag('--session-id', sessionId))
  } else if (spec.conversationMode === 'resume' && spec.sessionId) {
    sessionId = spec.sessionId
    argv.push(flag('--resume', spec.sessionId))
  } else {
    argv.push(flag('--resume', 'latest'))
  }
  if (spec.god) argv.push('--yolo')
  argv.push(...spec.flags)
  // yargs takes `--prompt=<value>` whole, so a prompt starting with `-` stays the prompt.
  if (spec.prompt !== null) argv.push(flag('--output-format', 'stream-json'), flag('--prompt', spec.prompt))
  return { argv, env: {}, terminal: spec.prompt === null, sessionId }
}

/**
 * result.stats: input_tokens is the prompt count including cached tokens; `input` is the
 * uncached part when present (packages/core/src/output/types.ts).
 */
export const usageFromGeminiStats = (stats: Record<string, unknown>): TokenUsage => {
  const cached = count(stats.cached)
  const input = typeof stats.input === 'number' ? count(stats.input) : Math.max(0, count(stats.input_tokens) - cached)
  return { inputTokens: input, outputTokens: count(stats.output_tokens), cacheReadTokens: cached, cacheCreationTokens: 0 }
}

const observe = (spec: AgentLaunchSpec, inv: AgentInvocation): AgentObserver => {
  let sessionId = inv.sessionId
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }
  return {
    onStdoutLine(line) {
      const event = parseJsonObject(line)
      if (!event) return
      const id = str(event.session_id)
      if (id) sessionId = id
      // One result per headless turn; its stats cover that turn.
      const stats = event.type === 'result' ? asRecord(event.stats) : null
      if (stats) usage = addUsage(usage, usageFromGeminiStats(stats))
    },
    poll: async () => {},
    sessionId: () => sessionId ?? spec.sessionId,
    usage: () => usage,
    transcriptPath: () => null,
    usageLimit: () => null,
    close: () => {},
  }
}

export const geminiAdapter: AgentAdapter = { kind: 'gemini', invocation, observe }
