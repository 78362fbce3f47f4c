// OpenCode (agent-clis.md §5): `opencode run --format json` for headless runs, the TUI for
// interactive ones. Usage and the headless run's activity come from the events on stdout
// (step_finish carries the tokens), proven against the real CLI in test/workers/supervisor-opencode.test.ts.
import { addUsage, flag } from './common.js'
import { asRecord, count, parseJsonObject, str } from './jsonl-tail.js'
import type { ActivitySink, AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from './types.js'
import { opencodeStreamSignal } from './activity-signals.js'

const invocation = (spec: AgentLaunchSpec): AgentInvocation => {
  const argv = [...spec.command]
  if (spec.prompt !== null) argv.push('run', flag('--format', 'json'))
  const sessionId = spec.conversationMode === 'resume' ? spec.sessionId : null
  if (sessionId) argv.push(flag('--session', sessionId))
  else if (spec.conversationMode !== 'new') argv.push('--continue')
  // --auto approves every permission request not explicitly denied (opencode.ai docs, Permissions).
  if (spec.god) argv.push('--auto')
  argv.push(...spec.flags)
  // `run [message..]` is a yargs positional; after `--` a prompt starting with `-` stays text.
  if (spec.prompt !== null) argv.push('--', spec.prompt)
  return { argv, env: {}, terminal: spec.prompt === null, sessionId }
}

/**
 * step_finish part.tokens: {input, output, reasoning, cache{read, write}}. The parts are
 * disjoint (the recorded total 4519 = 12 + 7 + 0 + 3000 + 1500), so reasoning joins output.
 */
export const usageFromOpencodeTokens = (tokens: Record<string, unknown>): TokenUsage => {
  const cache = asRecord(tokens.cache)
  return {
    inputTokens: count(tokens.input),
    outputTokens: count(tokens.output) + count(tokens.reasoning),
    cacheReadTokens: count(cache?.read),
    cacheCreationTokens: count(cache?.write),
  }
}

const observe = (spec: AgentLaunchSpec, inv: AgentInvocation, activity: ActivitySink = () => {}): AgentObserver => {
  let sessionId = inv.sessionId
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }
  const seenParts = new Set<string>()
  return {
    onStdoutLine(line) {
      const event = parseJsonObject(line)
      if (!event) return
      const signal = opencodeStreamSignal(event)
      if (signal) activity(signal)
      const part = asRecord(event.part)
      const id = str(event.sessionID) ?? str(part?.sessionID)
      if (id) sessionId = id
      if (event.type !== 'step_finish' || !part) return
      // A part printed twice (same id) is one step.
      const partId = str(part.id)
      if (partId) {
        if (seenParts.has(partId)) return
        seenParts.add(partId)
      }
      const tokens = asRecord(part.tokens)
      if (tokens) usage = addUsage(usage, usageFromOpencodeTokens(tokens))
    },
    poll: async () => {},
    sessionId: () => sessionId ?? spec.sessionId,
    usage: () => usage,
    transcriptPath: () => null,
    usageLimit: () => null,
    close: () => {},
  }
}

export const opencodeAdapter: AgentAdapter = { kind: 'opencode', invocation, observe }
