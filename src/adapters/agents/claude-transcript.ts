// Claude Code's transcript layout and its usage rule (agent-clis.md §1.4, §1.5, §1.7): where a
// session's JSONL lives, and how to count its assistant records without over-counting. One API
// response with N content blocks is written as N records repeating the same usage, so usage is
// keyed on message.id + requestId; a sidechain copy of a main-chain message is a replay.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { summaryLine } from './common.js'
import { asRecord, count, str } from './jsonl-tail.js'
import type { TokenUsage, TranscriptFacts } from './types.js'

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

/** The text of a user record that is a prompt (not a tool result, not the CLI's own meta record). */
const promptText = (record: Record<string, unknown>): string | null => {
  if (record.isMeta === true) return null
  const content = asRecord(record.message)?.content
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return null
  const blocks = content.map(asRecord)
  if (blocks.some(b => b?.type === 'tool_result')) return null
  const text = blocks.flatMap(b => b?.type === 'text' && typeof b.text === 'string' ? [b.text] : []).join(' ')
  return text === '' ? null : text
}

// The session's name as Claude keeps it: a title the user gave beats one the model generated,
// which beats an old-style summary record (agent-clis.md §1.5; 2.1.332 binary strings).
const TITLE_FIELDS: Array<[type: string, field: string]> = [['custom-title', 'customTitle'], ['ai-title', 'aiTitle'], ['summary', 'summary']]

/**
 * Messages are the main chain's prompts and replies: an assistant reply is written as one record
 * per content block (counted once, by message.id); tool results and sidechains are not messages.
 */
export const createClaudeTranscriptFacts = (): TranscriptFacts => {
  const replies = new Set<string>()
  let messages = 0
  let titles: Array<string | null> = TITLE_FIELDS.map(() => null)
  let firstPrompt: string | null = null
  return {
    add(record) {
      const titleAt = TITLE_FIELDS.findIndex(([type]) => type === record.type)
      if (titleAt >= 0) {
        const title = str(record[TITLE_FIELDS[titleAt]![1]])
        if (title) titles[titleAt] = summaryLine(title)
        return
      }
      if (record.isSidechain === true) return
      if (record.type === 'assistant') {
        const id = str(asRecord(record.message)?.id) ?? str(record.uuid)
        if (id && replies.has(id)) return
        if (id) replies.add(id)
        messages++
      } else if (record.type === 'user') {
        const text = promptText(record)
        if (text === null) return
        messages++
        firstPrompt ??= summaryLine(text)
      }
    },
    take() {
      const facts = { messages, summary: titles.find(t => t !== null) ?? null, firstPrompt }
      messages = 0
      titles = TITLE_FIELDS.map(() => null)
      firstPrompt = null
      return facts
    },
  }
}
