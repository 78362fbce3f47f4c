// Google Gemini CLI (agent-clis.md §3): `-p` headless runs with stream-json output, a
// pre-assigned --session-id for new sessions, --resume for the others. Verified on 0.61.0 against
// a local mock of the Gemini API (test/workers/supervisor-gemini.test.ts): the session id is kept
// on resume and a headless run's `result.stats` covers that run only (not the resumed history).
// The interactive TUI prints no usage: interactive runs are counted from the chat recording.
// Activity: headless runs from the stream-json events, interactive ones from hooks in a settings
// layer of the runner's own (gemini-hooks.ts), both mapped in activity-signals.ts.
import { randomUUID } from 'node:crypto'
import { addUsage, childHome, flag, processEnv } from './common.js'
import { createGeminiChatUsage, geminiChatFiles, geminiDirOf } from './gemini-chat.js'
import { GEMINI_DEFAULTS_VARIABLE, geminiHooksPossible, removeGeminiHookLayer, writeGeminiHookLayer } from './gemini-hooks.js'
import { geminiStreamSignal } from './activity-signals.js'
import { asRecord, count, createJsonlTail, parseJsonObject, sizeNow, str, type JsonlTail } from './jsonl-tail.js'
import type { ActivitySink, AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from './types.js'

const invocation = (spec: AgentLaunchSpec): AgentInvocation => {
  const argv = [...spec.command]
  const env: Record<string, string> = {}
  let sessionId: string | null = null
  // Interactive: the runner's hooks, in a system-defaults layer that leaves the user's settings as they are.
  const layer = spec.prompt === null && spec.activityHook ? writeGeminiHookLayer(spec) : null
  if (layer) env[GEMINI_DEFAULTS_VARIABLE] = layer
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
  // In a folder the user never trusted, 0.61 turns --yolo back into `default` approval (and a
  // headless run refuses to start at all); god mode is the operator's decision for this project.
  if (spec.god) argv.push('--yolo', '--skip-trust')
  argv.push(...spec.flags)
  // yargs takes `--prompt=<value>` whole, so a prompt starting with `-` stays the prompt.
  if (spec.prompt !== null) argv.push(flag('--output-format', 'stream-json'), flag('--prompt', spec.prompt))
  return { argv, env, terminal: spec.prompt === null, sessionId }
}

/**
 * result.stats: input_tokens is the prompt count including cached tokens; `input` is the
 * uncached part when present (packages/core/src/output/types.ts). output_tokens is
 * candidatesTokenCount only: the thinking tokens, billed as output, are in total_tokens alone
 * (verified on 0.61.0: total = prompt + candidates + thoughts), so output takes the remainder
 * (which would also hold a tool-use prompt count; the stats do not tell them apart).
 */
export const usageFromGeminiStats = (stats: Record<string, unknown>): TokenUsage => {
  const cached = count(stats.cached)
  const prompt = count(stats.input_tokens)
  const input = typeof stats.input === 'number' ? count(stats.input) : Math.max(0, prompt - cached)
  const output = count(stats.output_tokens)
  const thoughts = Math.max(0, count(stats.total_tokens) - prompt - output)
  return { inputTokens: input, outputTokens: output + thoughts, cacheReadTokens: cached, cacheCreationTokens: 0 }
}

const observe = (spec: AgentLaunchSpec, inv: AgentInvocation, activity: ActivitySink = () => {}): AgentObserver => {
  let sessionId = inv.sessionId
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }
  // Interactive: the chat recording, from what it held at the spawn (a resume appends to it).
  const geminiDir = geminiDirOf(processEnv(spec, inv), childHome(spec, inv))
  const baseline = new Map<string, number>()
  if (spec.prompt === null && sessionId) for (const path of geminiChatFiles(geminiDir, sessionId)) baseline.set(path, sizeNow(path))
  const chat = createGeminiChatUsage()
  const tails = new Map<string, JsonlTail>()
  let closed = false
  return {
    onStdoutLine(line) {
      const event = parseJsonObject(line)
      if (!event) return
      const signal = geminiStreamSignal(event)
      if (signal) activity(signal)
      const id = str(event.session_id)
      if (id) sessionId = id
      // One result per headless turn; its stats cover that turn.
      const stats = event.type === 'result' ? asRecord(event.stats) : null
      if (stats) usage = addUsage(usage, usageFromGeminiStats(stats))
    },
    async poll() {
      if (closed || spec.prompt !== null || !sessionId) return
      for (const path of geminiChatFiles(geminiDir, sessionId)) {
        if (!tails.has(path)) tails.set(path, createJsonlTail(path, baseline.get(path) ?? 0))
      }
      for (const tail of tails.values()) for (const record of await tail.read()) chat.add(record)
    },
    sessionId: () => sessionId ?? spec.sessionId,
    usage: () => spec.prompt === null ? chat.total() : usage,
    transcriptPath: () => null,
    usageLimit: () => null,
    close() {
      closed = true
      removeGeminiHookLayer(inv.env[GEMINI_DEFAULTS_VARIABLE])
    },
  }
}

export const geminiAdapter: AgentAdapter = {
  kind: 'gemini',
  invocation,
  observe,
  hookFlavour: spec => spec.prompt === null && geminiHooksPossible() ? 'gemini' : null,
}
