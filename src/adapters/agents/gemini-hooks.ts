// Gemini CLI's hooks for one runner, in a settings layer of their own. Gemini has no --settings
// flag; of its layers (system defaults < user < workspace < system, agent-clis.md §3) only the
// two system ones can be pointed elsewhere, by GEMINI_CLI_SYSTEM_DEFAULTS_PATH and
// GEMINI_CLI_SYSTEM_SETTINGS_PATH, and 0.61.0 reads them only when the file and every directory
// above it are owned by root and writable by no one else. So a supervisor running as root writes,
// per runner, a system-defaults file in /run: the lowest layer, whose hook lists Gemini
// concatenates with the user's (mergeStrategy concat), so nothing the user or the project set is
// overridden. The file the CLI would have read there is copied in first, and only when the CLI
// itself would have trusted it. Anywhere else (not root, no secure /run) Gemini gets no hooks
// and its interactive activity stays `unknown`. Never touches ~/.gemini or the project's files.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { GEMINI_HOOK_EVENTS } from './activity-signals.js'
import { postToHookChannel } from './hook-variables.js'
import type { AgentLaunchSpec } from './types.js'

export const GEMINI_DEFAULTS_VARIABLE = 'GEMINI_CLI_SYSTEM_DEFAULTS_PATH'
const GEMINI_SYSTEM_VARIABLE = 'GEMINI_CLI_SYSTEM_SETTINGS_PATH'
const LAYER_ROOT = '/run/stratavore-gemini-hooks'
// Gemini waits for each hook (milliseconds); a supervisor that cannot answer must not hold the agent.
const HOOK_TIMEOUT_MS = 5000

// Reads the payload from stdin and POSTs it to the runner's channel; failures are dropped and
// nothing is printed (Gemini reads a hook's stdout as its decision).
const HOOK_SCRIPT = `let b='';process.stdin.on('data',d=>b+=d).on('end',()=>${postToHookChannel('b')})`

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

/** The hooks entry Stratavore adds: one command hook per event, for every tool (matcher `*`). */
export const geminiHookEntries = (nodePath: string = process.execPath) => {
  const command = `${shellQuote(nodePath)} -e ${shellQuote(HOOK_SCRIPT)}`
  const handler = { name: 'stratavore-activity', type: 'command', command, timeout: HOOK_TIMEOUT_MS }
  return Object.fromEntries(GEMINI_HOOK_EVENTS.map(event => [event, [{ matcher: '*', hooks: [handler] }]]))
}

/** `layer` with Stratavore's hooks after its own for each event; every other key as it was. */
export const withGeminiHooks = (layer: Record<string, unknown>, nodePath?: string): Record<string, unknown> => {
  const hooks = { ...(layer.hooks !== null && typeof layer.hooks === 'object' ? layer.hooks as Record<string, unknown> : {}) }
  for (const [event, entries] of Object.entries(geminiHookEntries(nodePath))) {
    hooks[event] = [...(Array.isArray(hooks[event]) ? hooks[event] as unknown[] : []), ...entries]
  }
  return { ...layer, hooks }
}

/** Gemini's own test for a system settings file (0.61.0): root owns it and every directory above, none writable by others. */
export const secureForGemini = (path: string): boolean => {
  for (let current = path; ; current = dirname(current)) {
    try {
      const st = statSync(current)
      if (st.uid !== 0 || (st.mode & 0o022) !== 0) return false
    } catch { return false }
    if (dirname(current) === current) return true
  }
}

/** Where the CLI would read its system defaults without Stratavore (the variable, or beside the system settings). */
const originalDefaultsPath = (env: Record<string, string>) =>
  env[GEMINI_DEFAULTS_VARIABLE] || join(dirname(env[GEMINI_SYSTEM_VARIABLE] || '/etc/gemini-cli/settings.json'), 'system-defaults.json')

/** Whether this host can give a Gemini runner its hooks (see the top of this file). */
export const geminiHooksPossible = (): boolean => process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/run') && secureForGemini('/run')

/**
 * Writes the runner's layer and returns its path, or null when it cannot be done without
 * changing what the user configured (an original defaults file that is not plain JSON).
 */
export const writeGeminiHookLayer = (spec: AgentLaunchSpec): string | null => {
  const original = originalDefaultsPath(spec.env)
  let layer: Record<string, unknown> = {}
  if (existsSync(original) && secureForGemini(original)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(original, 'utf8'))
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null
      layer = parsed as Record<string, unknown>
    } catch { return null }
  }
  const dir = join(LAYER_ROOT, spec.runnerId)
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  const path = join(dir, 'system-defaults.json')
  writeFileSync(path, JSON.stringify(withGeminiHooks(layer), null, 2), { mode: 0o644 })
  return secureForGemini(path) ? path : null
}

/** Removes a layer written by writeGeminiHookLayer (the CLI read it at its start). */
export const removeGeminiHookLayer = (path: string | undefined) => {
  if (path?.startsWith(`${LAYER_ROOT}/`)) rmSync(dirname(path), { recursive: true, force: true })
}
