// Claude Code's transcript layout and its usage rule (agent-clis.md §1.4, §1.5, §1.7): where a
// session's JSONL lives, and how to count its assistant records without over-counting. One API
// response with N content blocks is written as N records repeating the same usage, so usage is
// keyed on message.id + requestId; a sidechain copy of a main-chain message is a replay.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { asRecord, count, str } from './jsonl-tail.js'
import type { TokenUsage } from './types.js'

// The CLI truncates longer encoded names and appends a Bun.hash we cannot reproduce (§1.4).
const MAX_ENCODED = 200

/** `/home/dev/my_app.v2` → `-home-dev-my-app-v2`: every non-alphanumeric character becomes `-`. */
export const encodeProjectDir = (cwd: string): string => cwd.replace(/[^a-zA-Z0-9]/g, '-')

export const claudeConfigDir = (env: Record<string, string>, home: string): string =>
  env.CLAUDE_CONFIG_DIR || join(home, '.claude')

/**
 * The per-project transcript directory. For long cwds the real name has a hash suffix: match the
 * existing directory on the 200-character prefix, else return the prefix (it appears later).
 */
export const claudeProjectDir = (configDir: string, cwd: string): string => {
  const projects = join(configDir, 'projects')
  const encoded = encodeProjectDir(cwd)
  if (encoded.length <= MAX_ENCODED) return join(projects, encoded)
  const prefix = encoded.slice(0, MAX_ENCODED)
  try {
    const match = readdirSync(projects).find(name => name.startsWith(`${prefix}-`))
    if (match) return join(projects, match)
  } catch { /* no projects dir yet */ }
  return join(projects, prefix)
}

interface Counted { messageId: string | null, sidechain: boolean, usage: TokenUsage }

export interface ClaudeUsageLedger {
  /** Feeds one transcript record; anything but an assistant record with usage is ignored. */
  add(record: Record<string, unknown>): void
  total(): TokenUsage
}

export const usageOfMessage = (usage: Record<string, unknown>): TokenUsage => ({
  inputTokens: count(usage.input_tokens),
  outputTokens: count(usage.output_tokens),
  cacheReadTokens: count(usage.cache_read_input_tokens),
  cacheCreationTokens: count(usage.cache_creation_input_tokens),
})

export const createClaudeUsageLedger = (): ClaudeUsageLedger => {
  const byKey = new Map<string, Counted>()
  // message.id → key of the main-chain record counted for it, to recognise sidechain replays.
  const mainByMessage = new Map<string, string>()
  const sideByMessage = new Map<string, string[]>()

  return {
    add(record) {
      if (record.type !== 'assistant') return
      const message = asRecord(record.message)
      const usage = asRecord(message?.usage)
      if (!message || !usage) return
      const messageId = str(message.id)
      const requestId = str(record.requestId)
      // Without a message id there is nothing to dedupe on; the record's own uuid keeps a re-read
      // of the same line from counting twice.
      const key = messageId ? `${messageId}:${requestId ?? ''}` : `uuid:${str(record.uuid) ?? byKey.size}`
      if (byKey.has(key)) return
      const sidechain = record.isSidechain === true
      if (messageId && sidechain && mainByMessage.has(messageId)) return
      if (messageId && !sidechain) {
        // A main-chain record supersedes sidechain copies of the same message counted earlier.
        for (const sideKey of sideByMessage.get(messageId) ?? []) byKey.delete(sideKey)
        sideByMessage.delete(messageId)
        mainByMessage.set(messageId, key)
      }
      if (messageId && sidechain) sideByMessage.set(messageId, [...sideByMessage.get(messageId) ?? [], key])
      byKey.set(key, { messageId, sidechain, usage: usageOfMessage(usage) })
    },
    total() {
      const sum: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 }
      for (const { usage } of byKey.values()) {
        sum.inputTokens += usage.inputTokens
        sum.outputTokens += usage.outputTokens
        sum.cacheReadTokens += usage.cacheReadTokens
        sum.cacheCreationTokens += usage.cacheCreationTokens
      }
      return sum
    },
  }
}
