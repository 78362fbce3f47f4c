// Stratavore's OpenCode plugin, loaded into an interactive runner's OpenCode through
// OPENCODE_CONFIG_CONTENT (src/adapters/agents/opencode.ts), never through the user's own config.
// It forwards the bus events that say what the agent is doing to the runner's hook channel
// (src/adapters/supervisor/hook-server.ts), where opencodePluginSignal maps them. It must never
// hold OpenCode up or break it: posts go out one after another behind the event hook (so they
// arrive in order), each times out after 3 s, and every failure is dropped.
// Runs inside OpenCode's own runtime (Bun), so it is plain JavaScript with no imports.
const url = process.env.STRATAVORE_HOOK_URL
const token = process.env.STRATAVORE_HOOK_TOKEN

const FORWARDED = new Set(['session.status', 'session.error', 'permission.asked', 'permission.replied', 'question.asked', 'question.replied', 'question.rejected'])
// A subagent's own session (the task tool) goes busy and idle inside the main one's turn.
const TURN_EVENTS = new Set(['session.status', 'session.error'])

/** Only the fields the mapping reads: a permission's metadata can hold a whole diff. */
const slim = (type, p) => ({
  type,
  properties: {
    sessionID: p.sessionID,
    status: p.status,
    error: p.error ? { name: p.error.name, data: { message: p.error.data?.message } } : undefined,
    permission: p.permission,
    patterns: Array.isArray(p.patterns) ? p.patterns.slice(0, 5) : undefined,
    questions: Array.isArray(p.questions) ? p.questions.slice(0, 1).map(q => ({ question: q?.question })) : undefined,
    reply: p.reply,
  },
})

export const StratavoreActivity = async () => {
  if (!url || !token) return {}
  const subagents = new Set()
  let queue = Promise.resolve()
  const post = body => {
    queue = queue.then(() => fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(3000),
    })).then(() => {}, () => {})
  }
  return {
    event: async ({ event }) => {
      try {
        const p = event?.properties ?? {}
        if (event?.type === 'session.created' && p.info?.parentID) subagents.add(p.info.id)
        if (!FORWARDED.has(event?.type)) return
        if (TURN_EVENTS.has(event.type) && subagents.has(p.sessionID)) return
        post(slim(event.type, p))
      } catch {
        // An event it cannot read is one it does not report.
      }
    },
  }
}
