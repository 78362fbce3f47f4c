// What a launch request may carry, checked before any transaction starts: its shape here, and
// which flags and variables its agent allows in launch-policy.ts. Flags and environment end up
// in an agent's argv and environment (the spawner never uses a shell).
import { errors } from '../errors.js'
import { checkLabels, NODE_NAME_PATTERN } from '../nodes/node.js'
import type { Labels } from '../nodes/ports.js'
import { checkInteger, checkList, checkPattern, checkText } from '../validation.js'
import { CONVERSATION_MODES, RUNTIME_TYPES, type ConversationMode } from './runner.js'

export interface LaunchInput {
  project: string
  projectPath?: string
  agent?: string
  flags?: string[]
  capabilities?: string[]
  environment?: Record<string, string>
  conversationMode?: string
  sessionId?: string
  god?: boolean
  prompt?: string
  runtimeType?: string
  maxRestartAttempts?: number
  /** Place the runner on this node (name or id). */
  node?: string
  /** Place it on a node whose labels include all of these. */
  nodeSelector?: Record<string, string>
  /** Resume by itself when a usage limit that paused it resets; unset: agents.<name>.resume_after_limit. */
  resumeAfterLimit?: boolean
}

export const ENV_NAME_PATTERN = '^[A-Z_][A-Z0-9_]{0,127}$'
const ENV_NAME = new RegExp(ENV_NAME_PATTERN)
export const SESSION_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'

export const MAX_ENV_VARS = 64
export const MAX_ENV_VALUE_LENGTH = 32_768
export const MAX_FLAGS = 64
export const MAX_FLAG_LENGTH = 4096
export const MAX_PROMPT_LENGTH = 100_000

// The shape only: names, count and values. Which variables a launch may set is its agent's
// policy (launch-policy.ts), checked once the agent is known.
const checkEnvironmentShape = (environment: Record<string, string>): Record<string, string> => {
  const entries = Object.entries(environment)
  if (entries.length > MAX_ENV_VARS) throw errors.invalidArgument(`environment has more than ${MAX_ENV_VARS} variables`)
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) throw errors.invalidEnvironment(name, `is not a valid name (${ENV_NAME_PATTERN})`)
    if (typeof value !== 'string') throw errors.invalidEnvironment(name, 'must have a string value')
    checkText(`environment.${name}`, value, MAX_ENV_VALUE_LENGTH)
  }
  return Object.fromEntries(entries)
}

export interface CheckedLaunch {
  project: string
  projectPath: string | null
  agent: string
  flags: string[]
  capabilities: string[]
  environment: Record<string, string>
  conversationMode: ConversationMode
  sessionId: string | null
  god: boolean
  prompt: string | null
  maxRestartAttempts: number
  node: string | null
  nodeSelector: Labels
  resumeAfterLimit: boolean | null
}

export const checkLaunchInput = (input: LaunchInput, defaultAgent: string): CheckedLaunch => {
  const runtimeType = input.runtimeType || 'process'
  if (!(RUNTIME_TYPES as readonly string[]).includes(runtimeType)) {
    throw errors.invalidArgument(`runtime type ${JSON.stringify(runtimeType)} is not supported; supported: ${RUNTIME_TYPES.join(', ')}`)
  }
  const mode = input.conversationMode || 'new'
  if (!(CONVERSATION_MODES as readonly string[]).includes(mode)) {
    throw errors.invalidArgument(`conversation mode must be one of ${CONVERSATION_MODES.join(', ')}`)
  }
  const sessionId = input.sessionId ? checkPattern('sessionId', input.sessionId, SESSION_ID_PATTERN, 'letters, digits and ._:- only') : null
  if (mode === 'resume' && !sessionId) throw errors.invalidArgument('conversation mode "resume" needs a sessionId')
  if (mode === 'continue' && sessionId) throw errors.invalidArgument('conversation mode "continue" takes no sessionId; use "resume"')
  const prompt = input.prompt === undefined || input.prompt === '' ? null : checkText('prompt', input.prompt, MAX_PROMPT_LENGTH)
  return {
    project: checkText('project', input.project, 63),
    projectPath: input.projectPath ? checkText('projectPath', input.projectPath, 4096) : null,
    agent: checkText('agent', input.agent || defaultAgent, 64),
    flags: checkList('flags', input.flags ?? [], MAX_FLAGS, MAX_FLAG_LENGTH),
    capabilities: checkList('capabilities', input.capabilities ?? [], 32, 64),
    environment: checkEnvironmentShape(input.environment ?? {}),
    conversationMode: mode as ConversationMode,
    sessionId,
    god: input.god ?? false,
    prompt,
    maxRestartAttempts: checkInteger('maxRestartAttempts', input.maxRestartAttempts ?? 3, 0, 100),
    node: input.node ? checkPattern('node', input.node, NODE_NAME_PATTERN, 'a node name or id') : null,
    nodeSelector: checkLabels('nodeSelector', input.nodeSelector ?? {}),
    resumeAfterLimit: input.resumeAfterLimit ?? null,
  }
}
