// Gemini CLI's chat recording (agent-clis.md §3), the only usage an interactive run leaves: the
// TUI prints none. Files are `<GEMINI_CLI_HOME or HOME>/.gemini/tmp/<project>/chats/session-<time>-
// <first 8 of the session id>.jsonl`; verified on 0.61.0, each model reply is one top-level
// `{type:"gemini", id, tokens:{input, output, cached, thoughts, tool, total}}` record appended
// once, while `{"$set": …}` records rewrite earlier messages (never counted here). A resume
// appends to the session's first file and may leave a second, empty one beside it.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { addUsage } from './common.js'
import { asRecord, count, str } from './jsonl-tail.js'
import type { TokenUsage } from './types.js'

/** The `.gemini` directory the CLI uses for this environment. */
export const geminiDirOf = (env: Record<string, string>, home: string): string => join(env.GEMINI_CLI_HOME || home, '.gemini')

/** Every chat recording of one session, in any project directory. */
export const geminiChatFiles = (geminiDir: string, sessionId: string): string[] => {
  const suffix = `-${sessionId.slice(0, 8)}.jsonl`
  const tmp = join(geminiDir, 'tmp')
  const files: string[] = []
  let projects: string[]
  try { projects = readdirSync(tmp) } catch { return files }
  for (const project of projects) {
    let names: string[]
    try { names = readdirSync(join(tmp, project, 'chats')) } catch { continue }
    for (const name of names) if (name.startsWith('session-') && name.endsWith(suffix)) files.push(join(tmp, project, 'chats', name))
  }
  return files
}

/**
 * One reply's tokens in the runner's kinds: `input` includes `cached` (the prompt count), the
 * tool-use prompt is input too, thinking is billed as output.
 */
export const usageFromGeminiTokens = (tokens: Record<string, unknown>): TokenUsage => {
  const cached = count(tokens.cached)
  return {
    inputTokens: Math.max(0, count(tokens.input) - cached) + count(tokens.tool),
    outputTokens: count(tokens.output) + count(tokens.thoughts),
    cacheReadTokens: cached,
    cacheCreationTokens: 0,
  }
}

/** Sums the replies' tokens of the records given, each reply id once. */
export const createGeminiChatUsage = () => {
  const seen = new Set<string>()
  let total: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }
  return {
    add(record: Record<string, unknown>) {
      const tokens = record.type === 'gemini' ? asRecord(record.tokens) : null
      const id = str(record.id)
      if (!tokens || !id || seen.has(id)) return
      seen.add(id)
      total = addUsage(total, usageFromGeminiTokens(tokens))
    },
    total: () => total,
  }
}
