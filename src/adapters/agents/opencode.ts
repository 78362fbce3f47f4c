// OpenCode (agent-clis.md §5): `opencode run --format json` for headless runs, the TUI for
// interactive ones. Usage and the headless run's activity come from the events on stdout
// (step_finish carries the tokens), proven against the real CLI in test/workers/supervisor-opencode.test.ts;
// an interactive run's activity comes from Stratavore's plugin, added to the run's config through
// OPENCODE_CONFIG_CONTENT, which OpenCode merges over the user's own (their plugins included).
import { pathToFileURL } from 'node:url'
import { addUsage, flag } from './common.js'
import { asRecord, count, parseJsonObject, str } from './jsonl-tail.js'
import type { ActivitySink, AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from './types.js'
import { opencodeStreamSignal } from './activity-signals.js'
import { sourcePath } from '../../source-root.js'

const CONFIG_CONTENT = 'OPENCODE_CONFIG_CONTENT'
/** The plugin as OpenCode loads a local one: a file:// URL (readable by the runner's user). */
export const OPENCODE_PLUGIN_URL = pathToFileURL(sourcePath('src/adapters/agents/opencode-activity-plugin.mjs')).href

/**
 * The run's OPENCODE_CONFIG_CONTENT with the plugin added: its own when none is set, or the one
 * the agent's env already gives with the plugin appended to its `plugin` list. Null when that one
 * is not a JSON object (JSONC, say): it is left as it is, and the run reports no activity.
 */
export const configWithPlugin = (existing: string | undefined): string | null => {
  if (existing === undefined || existing.trim() === '') return JSON.stringify({ plugin: [OPENCODE_PLUGIN_URL] })
  let config: unknown
  try { config = JSON.parse(existing) } catch { return null }
  const object = asRecord(config)
  if (!object || (object.plugin !== undefined && !Array.isArray(object.plugin))) return null
  return JSON.stringify({ ...object, plugin: [...(object.plugin as unknown[] | undefined ?? []), OPENCODE_PLUGIN_URL] })
}

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
  const config = spec.activityHook && spec.prompt === null ? configWithPlugin(spec.env[CONFIG_CONTENT]) : null
  return { argv, env: config ? { [CONFIG_CONTENT]: config } : {}, terminal: spec.prompt === null, sessionId }
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

export const opencodeAdapter: AgentAdapter = {
  kind: 'opencode', invocation, observe,
  hookFlavour: spec => spec.prompt === null ? 'opencode' : null,
}
