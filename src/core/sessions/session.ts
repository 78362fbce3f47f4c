// An agent conversation, identified by the agent's own session id, so that a later runner can
// resume it. Sessions outlive the runners that created them.

export interface Session {
  id: string
  runnerId: string | null
  projectName: string
  agent: string
  startedAt: Date
  endedAt: Date | null
  lastMessageAt: Date | null
  messageCount: number
  tokensUsed: number
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheCreationTokens: number
  resumable: boolean
  resumedFrom: string | null
  summary: string | null
  /** Bytes of the agent's transcript read so far (archived unless over the limit). */
  transcriptBytes: number
  transcriptArchive: TranscriptArchive
  createdAt: Date
}

/**
 * none: nothing read yet; archived: the transcript is in the database (a resume on any node
 * writes it back); over_limit: it grew past sessions.archive_max_bytes and lives only on the
 * disk of the node that ran it.
 */
export const TRANSCRIPT_ARCHIVES = ['none', 'archived', 'over_limit'] as const
export type TranscriptArchive = typeof TRANSCRIPT_ARCHIVES[number]

/** Where a session's transcript archive stands. */
export interface TranscriptPosition {
  /** The transcript's path under the agent CLI's home, where a resume writes it back. */
  name: string | null
  bytes: number
  archive: TranscriptArchive
}

/** New transcript bytes read from `offset`, and what they tell of the conversation. */
export interface TranscriptSlice {
  offset: number
  data: Uint8Array
  name: string | null
  /** Conversation messages (prompts and replies) in these bytes. */
  messages: number
  /** The agent's own title or summary of the session, when these bytes hold one. */
  summary: string | null
  /** The first prompt in these bytes: the summary until the agent writes one. */
  firstPrompt: string | null
}
