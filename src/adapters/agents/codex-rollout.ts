// Codex's rollout files (agent-clis.md §2): where a thread's JSONL lives under
// $CODEX_HOME/sessions/YYYY/MM/DD/, and how its token_count records turn into this process's
// usage. The rollout's total_token_usage is thread-cumulative, so this process's usage is the
// last total minus the last total written before the process started; repeated token_count
// events (Codex also emits them for rate-limit updates) cannot double count that way.
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { subUsage, summaryLine } from './common.js'
import { asRecord, count, parseJsonObject } from './jsonl-tail.js'
import type { TokenUsage, TranscriptFacts } from './types.js'

const ROLLOUT = /^rollout-.*-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$/

const listDesc = (dir: string): string[] => {
  try { return readdirSync(dir).sort().reverse() } catch { return [] }
}

/** Every rollout file, newest day first. Stops early when `visit` returns true. */
export const walkRollouts = (codexHome: string, visit: (path: string, threadId: string) => boolean): void => {
  const sessions = join(codexHome, 'sessions')
  for (const year of listDesc(sessions)) {
    for (const month of listDesc(join(sessions, year))) {
      for (const day of listDesc(join(sessions, year, month))) {
        const dir = join(sessions, year, month, day)
        for (const name of listDesc(dir)) {
          const match = ROLLOUT.exec(name)
          if (match?.[1] && visit(join(dir, name), match[1])) return
        }
      }
    }
  }
}

export const findRollout = (codexHome: string, threadId: string): string | null => {
  let found: string | null = null
  walkRollouts(codexHome, (path, id) => {
    if (id === threadId) found = path
    return found !== null
  })
  return found
}

/** The cwd in a rollout's first record (session_meta), read from at most the first 1 MiB. */
export const rolloutCwd = (path: string): string | null => {
  let fd: number | null = null
  try {
    fd = openSync(path, 'r')
    const buf = Buffer.alloc(1024 * 1024)
    const got = readSync(fd, buf, 0, buf.length, 0)
    const text = buf.subarray(0, got).toString('utf8')
    const first = parseJsonObject(text.split('\n')[0] ?? '')
    const payload = asRecord(first?.payload)
    return first?.type === 'session_meta' && typeof payload?.cwd === 'string' ? payload.cwd : null
  } catch {
    return null
  } finally {
    if (fd !== null) closeSync(fd)
  }
}

/**
 * For an interactive run whose thread id we never see: the rollout for `cwd` written to most
 * recently, and after `since` (ms). Returns [path, threadId] or null.
 */
export const discoverRollout = (codexHome: string, cwd: string, since: number): [string, string] | null => {
  let best: { path: string, id: string, mtime: number } | null = null
  walkRollouts(codexHome, (path, id) => {
    try {
      const mtime = statSync(path).mtimeMs
      if (mtime >= since && (!best || mtime > best.mtime) && rolloutCwd(path) === cwd) best = { path, id, mtime }
    } catch { /* vanished */ }
    return false
  })
  const found = best as { path: string, id: string } | null
  return found ? [found.path, found.id] : null
}

/** OpenAI usage → ours: input_tokens includes cached ones, output_tokens includes reasoning. */
export const usageFromOpenAI = (u: Record<string, unknown> | null): TokenUsage => {
  const input = count(u?.input_tokens)
  const cached = count(u?.cached_input_tokens)
  return {
    inputTokens: Math.max(0, input - cached),
    outputTokens: count(u?.output_tokens),
    cacheReadTokens: cached,
    // Codex reports cache_write_input_tokens (always 0 against OpenAI so far); whether it is part
    // of input_tokens is unverified, so it is reported apart and not subtracted.
    cacheCreationTokens: count(u?.cache_write_input_tokens),
  }
}

export interface RolloutUsage {
  add(record: Record<string, unknown>): void
  /** Usage written by this process (records stamped at or after `since`), or null if none yet. */
  total(): TokenUsage | null
}

export const createRolloutUsage = (since: number): RolloutUsage => {
  let before: Record<string, unknown> | null = null
  let latest: Record<string, unknown> | null = null
  return {
    add(record) {
      const payload = asRecord(record.payload)
      if (record.type !== 'event_msg' || payload?.type !== 'token_count') return
      const total = asRecord(asRecord(payload.info)?.total_token_usage)
      if (!total) return
      const at = typeof record.timestamp === 'string' ? Date.parse(record.timestamp) : NaN
      if (Number.isFinite(at) && at < since) before = total
      else latest = total
    },
    total() {
      if (!latest) return null
      return subUsage(usageFromOpenAI(latest), usageFromOpenAI(before))
    },
  }
}

const itemText = (item: Record<string, unknown>): string | null => {
  const content = Array.isArray(item.content) ? item.content.map(asRecord) : []
  const text = content.flatMap(c => typeof c?.text === 'string' ? [c.text] : []).join(' ')
  return text === '' ? null : text
}

/**
 * Messages are the user's prompts and the agent's replies as Codex records them: 0.169 writes
 * `item_completed` events with UserMessage / AgentMessage items, older versions `user_message`
 * and `agent_message` events. The environment context Codex injects as a user response_item is
 * not a prompt, so response_items are not read.
 */
export const createCodexTranscriptFacts = (): TranscriptFacts => {
  let messages = 0
  let firstPrompt: string | null = null
  const prompt = (text: string | null) => {
    messages++
    if (text !== null) firstPrompt ??= summaryLine(text)
  }
  return {
    add(record) {
      const payload = asRecord(record.payload)
      if (record.type !== 'event_msg' || !payload) return
      if (payload.type === 'item_completed') {
        const item = asRecord(payload.item)
        if (item?.type === 'UserMessage') prompt(itemText(item))
        else if (item?.type === 'AgentMessage') messages++
      } else if (payload.type === 'user_message') {
        prompt(typeof payload.message === 'string' ? payload.message : null)
      } else if (payload.type === 'agent_message') {
        messages++
      }
    },
    take() {
      const facts = { messages, summary: null, firstPrompt }
      messages = 0
      firstPrompt = null
      return facts
    },
  }
}
