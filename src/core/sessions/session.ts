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
  createdAt: Date
}
