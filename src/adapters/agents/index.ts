// The adapter for each agent kind; the supervisor's one entry point into this folder.
import { aiderAdapter } from './aider.js'
import { claudeAdapter } from './claude.js'
import { codexAdapter } from './codex.js'
import { geminiAdapter } from './gemini.js'
import { genericAdapter } from './generic.js'
import { opencodeAdapter } from './opencode.js'
import type { AgentKind } from '../../config-spec.js'
import type { AgentAdapter } from './types.js'

const ADAPTERS: Record<AgentKind, AgentAdapter> = {
  claude: claudeAdapter,
  codex: codexAdapter,
  gemini: geminiAdapter,
  aider: aiderAdapter,
  opencode: opencodeAdapter,
  generic: genericAdapter,
}

export const adapterFor = (kind: AgentKind): AgentAdapter => ADAPTERS[kind]

export { processEnv } from './common.js'
export type { AgentAdapter, AgentInvocation, AgentLaunchSpec, AgentObserver, TokenUsage } from './types.js'
