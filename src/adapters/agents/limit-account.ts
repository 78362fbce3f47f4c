// Which account an agent's runner spends: runners of one agent and one account share a usage
// limit, so they wait for its reset together (README, Usage limits). `agents.<name>.account`
// names it; without it, the fingerprint of the credential the CLI will use (its API key or
// token, from the agent's env and the launch's), else the config dir it logs in from, else
// `default`: every runner of the agent on the login of the supervisor's user.
import { createHash } from 'node:crypto'
import type { AgentConfig } from '../../config-agents.js'

const CREDENTIALS: Record<string, string[]> = {
  claude: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'],
  codex: ['CODEX_API_KEY', 'OPENAI_API_KEY'],
  gemini: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
  opencode: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY'],
  aider: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY'],
}
const CONFIG_DIRS: Record<string, string[]> = {
  claude: ['CLAUDE_CONFIG_DIR', 'HOME'],
  codex: ['CODEX_HOME', 'HOME'],
  gemini: ['GEMINI_CLI_HOME', 'HOME'],
}

export const limitAccountOf = (agent: AgentConfig, launchEnvironment: Record<string, string>): string => {
  if (agent.account !== undefined) return agent.account
  const env = { ...agent.env, ...launchEnvironment }
  const key = (CREDENTIALS[agent.kind] ?? []).map(name => env[name]).find(v => v)
  // Never the key itself: a fingerprint that tells two keys apart and nothing more.
  if (key) return `key:${createHash('sha256').update(key).digest('hex').slice(0, 12)}`
  const dir = (CONFIG_DIRS[agent.kind] ?? []).map(name => env[name]).find(v => v)
  return dir ? `home:${dir}` : 'default'
}
