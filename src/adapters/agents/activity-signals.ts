// What each agent CLI's structured signals say about its activity (src/core/runners/activity.ts):
// Claude Code's hooks (agent-clis.md §1.8) and stream-json events (§1.6), Codex's exec --json
// events and notify payload (§2), Gemini CLI's stream-json events and hooks (§3), OpenCode's
// run --format json events and the bus events its plugin forwards (§5). Pure functions of one
// payload: anything unknown or malformed
// maps to null (no change), never to a guess.
import { detailLine, type ActivitySignal } from '../../core/runners/activity.js'

type Json = Record<string, unknown>

const record = (value: unknown): Json | null => value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Json : null
const text = (value: unknown): string | null => typeof value === 'string' && value !== '' ? value : null

/** "Bash: rm -rf build", "Edit: src/app.ts": the tool and what it would act on. */
export const toolDetail = (toolName: unknown, toolInput: unknown): string | null => {
  const tool = text(toolName)
  if (!tool) return null
  const input = record(toolInput) ?? {}
  const target = text(input.command) ?? text(input.file_path) ?? text(input.filePath) ?? text(input.path) ?? text(input.url) ?? text(input.pattern) ?? text(input.description)
  return detailLine(target ? `${tool}: ${target}` : tool)
}

/** The first question of an AskUserQuestion call (`questions[].question`), or its plain `question`. */
const questionOf = (toolInput: unknown): string | null => {
  const input = record(toolInput) ?? {}
  const first = Array.isArray(input.questions) ? record(input.questions[0]) : null
  return detailLine(first?.question ?? input.question)
}

// The tool Claude uses to ask the person a question: waiting for input, not working.
const ASK_TOOL = 'AskUserQuestion'

const hook = (state: ActivitySignal['state'], detail: string | null = null, extra: Partial<ActivitySignal> = {}): ActivitySignal =>
  ({ state, source: 'hook', detail, ...extra })

/**
 * The hooks Stratavore subscribes to (injected with --settings) and what each means. A
 * Notification about a permission prompt follows the PermissionRequest that named the tool: it
 * keeps that detail rather than replacing it with the generic message.
 */
export const CLAUDE_HOOK_EVENTS = ['UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'PostToolUseFailure', 'PermissionRequest', 'Notification', 'Elicitation', 'ElicitationResult', 'Stop', 'StopFailure'] as const

export const claudeHookSignal = (payload: Json): ActivitySignal | null => {
  switch (payload.hook_event_name) {
    case 'UserPromptSubmit':
    case 'PostToolUse':
    case 'PostToolUseFailure':
    case 'ElicitationResult':
      return hook('working')
    case 'PreToolUse':
      return payload.tool_name === ASK_TOOL ? hook('waiting_input', questionOf(payload.tool_input)) : hook('working')
    case 'PermissionRequest':
      return payload.tool_name === ASK_TOOL ? hook('waiting_input', questionOf(payload.tool_input)) : hook('waiting_permission', toolDetail(payload.tool_name, payload.tool_input))
    case 'Notification': {
      const message = detailLine(payload.message)
      switch (payload.notification_type) {
        case 'permission_prompt': return hook('waiting_permission', message, { keepsDetail: true })
        case 'idle_prompt':
        case 'elicitation_dialog': return hook('waiting_input', message)
        default: return null
      }
    }
    case 'Elicitation':
      return hook('waiting_input', detailLine(payload.message) ?? detailLine(payload.mcp_server_name))
    case 'Stop':
      return hook('idle')
    case 'StopFailure': {
      const error = text(payload.error)
      const details = detailLine(typeof payload.error_details === 'string' ? payload.error_details : null)
      return hook('error', detailLine([error, details].filter(Boolean).join(': ')))
    }
    default:
      return null
  }
}

/**
 * Headless Claude (`-p --output-format stream-json --verbose`, with
 * CLAUDE_CODE_EMIT_SESSION_STATE_EVENTS=1): `session_state_changed` is the authoritative turn
 * signal; init and result stand in on CLIs that do not emit it.
 */
export const claudeStreamSignal = (event: Json): ActivitySignal | null => {
  const stream = (state: ActivitySignal['state'], detail: string | null = null): ActivitySignal => ({ state, source: 'stream', detail })
  if (event.type === 'system' && event.subtype === 'session_state_changed') {
    switch (event.state) {
      case 'running': return stream('working')
      case 'idle': return stream('idle')
      case 'requires_action': return stream('waiting_permission')
      default: return null
    }
  }
  if (event.type === 'system' && event.subtype === 'init') return stream('working')
  if (event.type === 'result') {
    return event.is_error === true ? stream('error', detailLine(text(event.result) ?? text(event.subtype))) : stream('idle')
  }
  return null
}

/** `codex exec --json` events (§2): a turn starts, completes, or fails. */
export const codexStreamSignal = (event: Json): ActivitySignal | null => {
  const stream = (state: ActivitySignal['state'], detail: string | null = null): ActivitySignal => ({ state, source: 'stream', detail })
  switch (event.type) {
    case 'turn.started': return stream('working')
    case 'turn.completed': return stream('idle')
    case 'turn.failed': return stream('error', detailLine(record(event.error)?.message))
    case 'error': return stream('error', detailLine(event.message))
    default: return null
  }
}

/** Codex's `notify` program payload (its last argv, forwarded by the hook script): a turn is over. */
export const codexNotifySignal = (payload: Json): ActivitySignal | null =>
  payload.type === 'agent-turn-complete' ? hook('idle') : null

/**
 * `gemini -p … -o stream-json` events (§3; recorded from 0.61.0 in the tests): init, the prompt
 * and the replies (`message`), tool calls and results work; `result` ends the run, with
 * `status: "error"` and `error.message` when it failed; a fatal `error` event is a failure too
 * (a `warning` one is not).
 */
export const geminiStreamSignal = (event: Json): ActivitySignal | null => {
  const stream = (state: ActivitySignal['state'], detail: string | null = null): ActivitySignal => ({ state, source: 'stream', detail })
  switch (event.type) {
    case 'init':
    case 'message':
    case 'tool_use':
    case 'tool_result':
      return stream('working')
    case 'result':
      return event.status === 'success' ? stream('idle') : stream('error', detailLine(record(event.error)?.message) ?? detailLine(event.status))
    case 'error':
      return event.severity === 'error' ? stream('error', detailLine(event.message)) : null
    default:
      return null
  }
}

/** The Gemini hooks Stratavore subscribes to (gemini-hooks.ts); SessionStart and SessionEnd say nothing of a turn. */
export const GEMINI_HOOK_EVENTS = ['BeforeAgent', 'BeforeTool', 'AfterTool', 'Notification', 'AfterAgent'] as const

/**
 * Gemini CLI hook payloads (§3; as 0.61.0 sends them, recorded in the tests). A ToolPermission
 * notification carries no tool_name: `details` holds the confirmation (its type, its title, and a
 * command, a file or an MCP tool by type).
 */
export const geminiHookSignal = (payload: Json): ActivitySignal | null => {
  switch (payload.hook_event_name) {
    case 'BeforeAgent':
    case 'BeforeTool':
    case 'AfterTool':
      return hook('working')
    case 'Notification': {
      if (payload.notification_type !== 'ToolPermission') return null
      const details = record(payload.details) ?? {}
      const mcp = [text(details.serverName), text(details.toolName)].filter(Boolean).join('/')
      const target = { command: details.command, file_path: details.filePath, url: Array.isArray(details.urls) ? details.urls[0] : null, description: mcp || details.prompt }
      // The title is the dialog's ("Confirm Shell Command" in 0.61.0): the type names the kind of tool better.
      const tool = ({ exec: 'Shell', edit: 'Edit', mcp: 'MCP' } as Record<string, string>)[String(details.type)] ?? details.title
      return hook('waiting_permission', toolDetail(tool, target) ?? detailLine(payload.message))
    }
    case 'AfterAgent':
      return hook('idle')
    default:
      return null
  }
}

// A step that ends for one of these goes on (OpenCode 1.18's session loop continues after them);
// any other reason ends the turn, content-filter as an error event of its own.
const OPENCODE_STEP_CONTINUES = ['tool-calls', 'unknown', 'content-filter']

/**
 * `opencode run --format json` events (verified on 1.18.33): step_start, tool_use (printed when a
 * tool call has completed or failed, `part.tool` and `part.state.input`), text, reasoning,
 * step_finish (`part.reason`), and error (`error.name`, `error.data.message`).
 */
export const opencodeStreamSignal = (event: Json): ActivitySignal | null => {
  const stream = (state: ActivitySignal['state'], detail: string | null = null): ActivitySignal => ({ state, source: 'stream', detail })
  const part = record(event.part)
  switch (event.type) {
    // The next step of a turn keeps the tool the last one ran (tool_use comes once it is done).
    case 'step_start': return { ...stream('working'), keepsDetail: true }
    case 'tool_use': return stream('working', toolDetail(part?.tool, record(part?.state)?.input))
    case 'step_finish': {
      const reason = text(part?.reason)
      return reason && !OPENCODE_STEP_CONTINUES.includes(reason) ? stream('idle') : null
    }
    case 'error': {
      const error = record(event.error)
      return stream('error', detailLine(record(error?.data)?.message) ?? detailLine(error?.name))
    }
    default: return null
  }
}

/**
 * The bus events Stratavore's OpenCode plugin (opencode-activity-plugin.mjs) forwards from an
 * interactive session, as `{type, properties}` (verified on 1.18.33): session.status
 * {status.type busy|idle|retry}, permission.asked {permission, patterns}, question.asked
 * {questions[].question}, their replies, and session.error {error.name, error.data.message}.
 */
export const opencodePluginSignal = (payload: Json): ActivitySignal | null => {
  const p = record(payload.properties) ?? {}
  switch (payload.type) {
    case 'session.status': {
      const status = record(p.status)
      switch (status?.type) {
        case 'busy': return hook('working')
        case 'idle': return hook('idle')
        // OpenCode waits and tries the request again on its own (an overloaded or limited API).
        case 'retry': return hook('working', detailLine(text(status.message) ? `retrying: ${String(status.message)}` : null))
        default: return null
      }
    }
    case 'permission.asked': {
      const patterns = Array.isArray(p.patterns) ? p.patterns.filter((x): x is string => typeof x === 'string') : []
      const permission = text(p.permission)
      return permission ? hook('waiting_permission', detailLine(patterns.length ? `${permission}: ${patterns.join(', ')}` : permission)) : null
    }
    case 'question.asked': return hook('waiting_input', questionOf(p))
    case 'permission.replied':
    case 'question.replied':
    case 'question.rejected':
      return hook('working')
    case 'session.error': {
      const error = record(p.error)
      // Esc in the TUI aborts the turn: the person did it, the idle status follows.
      if (error?.name === 'MessageAbortedError') return null
      return error ? hook('error', detailLine(record(error.data)?.message) ?? detailLine(error.name)) : null
    }
    default: return null
  }
}
