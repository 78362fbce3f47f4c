// Any other program: its configured command, the runner's flags, and the prompt as the last
// argument for headless runs. Nothing structured is read from it.
import { createNullObserver } from './common.js'
import type { AgentAdapter, AgentLaunchSpec } from './types.js'

export const genericAdapter: AgentAdapter = {
  kind: 'generic',
  invocation: (spec: AgentLaunchSpec) => ({
    argv: [...spec.command, ...spec.flags, ...(spec.prompt !== null ? [spec.prompt] : [])],
    env: {},
    terminal: spec.prompt === null,
    sessionId: spec.sessionId,
  }),
  observe: createNullObserver,
}
