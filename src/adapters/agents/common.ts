// Small pieces every adapter shares: merging the spawn environment, adding usages, and the
// observer for CLIs that tell us nothing structured. No CLI-specific knowledge lives here.
import { homedir } from 'node:os'
import type { AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from './types.js'

/** The environment the child must get: spec.env, minus unsetEnv, plus the adapter's additions. */
export const processEnv = (spec: AgentLaunchSpec, invocation: AgentInvocation): Record<string, string> => {
  const env: Record<string, string> = { ...spec.env }
  for (const name of invocation.unsetEnv ?? []) delete env[name]
  return { ...env, ...invocation.env }
}

/** HOME as the child will see it (never this process's env, which the supervisor may not share). */
export const childHome = (spec: AgentLaunchSpec, invocation: AgentInvocation): string =>
  processEnv(spec, invocation).HOME || homedir()

export const addUsage = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheCreationTokens: a.cacheCreationTokens + b.cacheCreationTokens,
})

export const subUsage = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  inputTokens: Math.max(0, a.inputTokens - b.inputTokens),
  outputTokens: Math.max(0, a.outputTokens - b.outputTokens),
  cacheReadTokens: Math.max(0, a.cacheReadTokens - b.cacheReadTokens),
  cacheCreationTokens: Math.max(0, a.cacheCreationTokens - b.cacheCreationTokens),
})

/** A title or prompt as a one-line summary: whitespace folded, at most 200 characters. */
export const summaryLine = (text: string): string | null => {
  const line = text.replace(/\s+/g, ' ').trim()
  if (line === '') return null
  return line.length > 200 ? `${line.slice(0, 199)}…` : line
}

/** `--name=value` form: a value starting with `-` stays a value, never a flag. */
export const flag = (name: string, value: string): string => `${name}=${value}`

/**
 * The observer for a run whose CLI exposes no session or usage: the session id is whatever the
 * spec or invocation knew, usage stays zero.
 */
export const createNullObserver = (spec: AgentLaunchSpec, invocation: AgentInvocation): AgentObserver => {
  const id = invocation.sessionId ?? spec.sessionId
  return {
    onStdoutLine: () => {},
    poll: async () => {},
    sessionId: () => id,
    usage: () => ({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }),
    transcriptPath: () => null,
    usageLimit: () => null,
    close: () => {},
  }
}
