// `agents.<name>` in the config file (never the environment): the program, its fixed
// environment, and what a launch request may add to it (launch_env, allow_flags) and which
// user runs it (run_as). Checked here so that a typo stops the daemon, as for any other key.
import { AGENT_KINDS, AGENT_NAME, DEFAULT_AGENT_COMMANDS, type AgentKind } from './config-spec.js'
import { configError, describe } from './config-error.js'
import { checkEnvironment } from './core/runners/launch-policy.js'

/** `agents.<name>.run_as`: the user (and group; default the user's own) a root supervisor runs the agent as. */
export interface RunAs { user: string, group?: string }

export interface AgentConfig {
  name: string
  kind: AgentKind
  command: string[]
  env: Record<string, string>
  /** Names or globs a launch request may set; unset: DEFAULT_LAUNCH_ENV. */
  launchEnv?: string[]
  /** Globs every flag of a launch request must match; unset: no flags. */
  allowFlags?: string[]
  runAs?: RunAs
  /** What the reconciler does with this agent's runners when their node is lost past the grace; unset: by kind (nodeLostPolicyOf). */
  onNodeLost?: NodeLostPolicy
  /** Resume a runner a usage limit paused once the limit resets (a launch may say otherwise); unset: false. */
  resumeAfterLimit?: boolean
  /** The account whose usage limit this agent's runners share; unset: derived (adapters/agents/limit-account.ts). */
  account?: string
}

export const NODE_LOST_POLICIES = ['reschedule', 'fail'] as const
export type NodeLostPolicy = typeof NODE_LOST_POLICIES[number]
// Agents whose conversation another node can pick up (shared/reference/agent-clis.md): the
// others would start over, so by default their runners fail instead of starting afresh.
const RESUMABLE_KINDS: readonly AgentKind[] = ['claude', 'codex', 'gemini', 'opencode']
export const nodeLostPolicyOf = (agent: AgentConfig): NodeLostPolicy => agent.onNodeLost ?? (RESUMABLE_KINDS.includes(agent.kind) ? 'reschedule' : 'fail')

export const parseAgents = (raw: unknown, source: string): Record<string, AgentConfig> => {
  const agents: Record<string, AgentConfig> = {}
  for (const kind of Object.keys(DEFAULT_AGENT_COMMANDS) as Array<keyof typeof DEFAULT_AGENT_COMMANDS>) {
    agents[kind] = { name: kind, kind, command: [...DEFAULT_AGENT_COMMANDS[kind]], env: {} }
  }
  if (raw === undefined || raw === null) return agents
  if (typeof raw !== 'object' || Array.isArray(raw)) throw configError('agents', 'must be a mapping of name to {kind, command, env}', source)
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    const key = `agents.${name}`
    if (!AGENT_NAME.test(name)) throw configError(key, `name must match ${AGENT_NAME}`, source)
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw configError(key, 'must be a mapping', source)
    const { kind = name, command, env = {}, launch_env: launchEnv, allow_flags: allowFlags, run_as: runAs, on_node_lost: onNodeLost, resume_after_limit: resumeAfterLimit, account, ...rest } = entry as Record<string, unknown>
    const unknown = Object.keys(rest)[0]
    if (unknown) throw configError(`${key}.${unknown}`, 'is not a known key', source)
    if (typeof kind !== 'string' || !(AGENT_KINDS as readonly string[]).includes(kind)) {
      throw configError(`${key}.kind`, `must be one of ${AGENT_KINDS.join(', ')}, got ${describe(kind)}`, source)
    }
    const fallback = kind === 'generic' ? undefined : DEFAULT_AGENT_COMMANDS[kind as Exclude<AgentKind, 'generic'>]
    const argv = command ?? fallback
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every(a => typeof a === 'string' && a !== '' && !a.includes('\u0000'))) {
      throw configError(`${key}.command`, 'must be a non-empty list of strings (argv; no shell)', source)
    }
    if (!env || typeof env !== 'object' || Array.isArray(env) || !Object.values(env).every(v => typeof v === 'string')) {
      throw configError(`${key}.env`, 'must be a mapping of NAME to string', source)
    }
    try { checkEnvironment(env as Record<string, string>) } catch (err) { throw configError(`${key}.env`, (err as Error).message, source) }
    if (onNodeLost !== undefined && !(NODE_LOST_POLICIES as readonly unknown[]).includes(onNodeLost)) {
      throw configError(`${key}.on_node_lost`, `must be one of ${NODE_LOST_POLICIES.join(', ')}, got ${describe(onNodeLost)}`, source)
    }
    if (resumeAfterLimit !== undefined && typeof resumeAfterLimit !== 'boolean') throw configError(`${key}.resume_after_limit`, `must be true or false, got ${describe(resumeAfterLimit)}`, source)
    if (account !== undefined && (typeof account !== 'string' || !ACCOUNT_NAME.test(account))) {
      throw configError(`${key}.account`, `must match ${ACCOUNT_NAME}, got ${describe(account)}`, source)
    }
    agents[name] = {
      name,
      kind: kind as AgentKind,
      command: argv as string[],
      env: env as Record<string, string>,
      ...(onNodeLost !== undefined ? { onNodeLost: onNodeLost as NodeLostPolicy } : {}),
      ...(resumeAfterLimit !== undefined ? { resumeAfterLimit } : {}),
      ...(account !== undefined ? { account: account as string } : {}),
      ...(launchEnv !== undefined ? { launchEnv: patternList(`${key}.launch_env`, launchEnv, LAUNCH_ENV_PATTERN, source) } : {}),
      ...(allowFlags !== undefined ? { allowFlags: patternList(`${key}.allow_flags`, allowFlags, ALLOW_FLAG_PATTERN, source) } : {}),
      ...(runAs !== undefined ? { runAs: runAsOf(`${key}.run_as`, runAs, source) } : {}),
    }
  }
  return agents
}

// An account's name as an operator writes it (it is shown on runners and events).
const ACCOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$/

// A variable name with `*` wildcards; STRATAVORE_* is the supervisor's and cannot be allowed.
const LAUNCH_ENV_PATTERN = /^(?!STRATAVORE_)[A-Z_*][A-Z0-9_*]{0,127}$/
const ALLOW_FLAG_PATTERN = /^.{1,4096}$/s

const patternList = (key: string, raw: unknown, pattern: RegExp, source: string): string[] => {
  if (!Array.isArray(raw) || !raw.every(p => typeof p === 'string')) throw configError(key, `must be a list of strings, got ${describe(raw)}`, source)
  const bad = raw.find(p => !pattern.test(p) || p.includes('\u0000'))
  if (bad !== undefined) throw configError(key, `item ${describe(bad)} must match ${pattern}`, source)
  return raw
}

// A user or group name as useradd accepts it, or a numeric id.
const ACCOUNT = /^([a-z_][a-z0-9_-]{0,31}\$?|\d{1,10})$/i
const runAsOf = (key: string, raw: unknown, source: string): RunAs => {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw configError(key, 'must be a mapping {user, group}', source)
  const { user, group, ...rest } = raw as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown) throw configError(`${key}.${unknown}`, 'is not a known key', source)
  const account = (field: string, value: unknown) => {
    const text = typeof value === 'number' ? String(value) : value
    if (typeof text !== 'string' || !ACCOUNT.test(text)) throw configError(`${key}.${field}`, `must be a name or a numeric id, got ${describe(value)}`, source)
    return text
  }
  return { user: account('user', user), ...(group !== undefined ? { group: account('group', group) } : {}) }
}
