// Helpers for tests that run the REAL agent CLIs (installed as devDependencies) against the local
// mock model APIs in test/fixtures. Every directory the CLIs may write to is a temp dir removed in
// teardown, so no test reads or writes the real ~/.claude or ~/.codex.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { adapterFor, processEnv } from '../../src/adapters/agents/index.js'
import type { AgentInvocation, AgentLaunchSpec, AgentObserver } from '../../src/adapters/agents/types.js'

interface Teardown { teardown(fn: () => unknown): void }

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

const installed = (name: string, pkg: string): string => {
  const bin = join(repoRoot, 'node_modules', '.bin', name)
  if (!existsSync(bin)) {
    throw new Error(`${name} is not installed at ${bin}: run \`npm ci\` (devDependency ${pkg}); adapter tests need the real CLI`)
  }
  return bin
}

/** The installed Claude Code binary; throws with the reason when it is missing. */
export const claudeBin = (): string => installed('claude', '@anthropic-ai/claude-code')
/** The installed Codex CLI (a node launcher for the native binary). */
export const codexBin = (): string => installed('codex', '@openai/codex')

/**
 * Whether a real-CLI test may run. Under CI=true a missing CLI is a failure; elsewhere it is a
 * visible skip (counted in tap's skip total, with the reason), never a silent pass.
 */
export const cliAvailable = (t: Test, bin: () => string): string | null => {
  try {
    return bin()
  } catch (err) {
    const msg = (err as Error).message
    if (process.env.CI === 'true') t.fail(msg)
    else t.test(msg, { skip: msg }, () => {})
    return null
  }
}

export const tempDir = (t: Teardown, prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export const MOCK_ANTHROPIC_KEY = 'sk-ant-api03-stratavore-test-key-0123456789'

/** A PATH without the user's other tools mattering; the CLIs need sh and coreutils for their own tools. */
const basePath = () => process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'

/**
 * The environment for a Claude Code run against the mock: a private HOME and CLAUDE_CONFIG_DIR
 * seeded so an interactive run skips onboarding, the trust dialog and the API-key question.
 * Returns the env plus the config dir (the transcripts go under `<configDir>/projects`).
 */
export const claudeEnv = (t: Teardown, { baseUrl, cwd, apiKey = MOCK_ANTHROPIC_KEY }: { baseUrl: string, cwd: string, apiKey?: string }): { env: Record<string, string>, configDir: string, home: string } => {
  const home = tempDir(t, 'stv-claude-home-')
  const configDir = join(home, '.claude')
  mkdirSync(configDir, { recursive: true })
  writeFileSync(join(configDir, '.claude.json'), JSON.stringify({
    hasCompletedOnboarding: true,
    projects: { [cwd]: { hasTrustDialogAccepted: true } },
    customApiKeyResponses: { approved: [apiKey.slice(-20)], rejected: [] },
  }))
  return {
    home,
    configDir,
    env: {
      PATH: basePath(),
      HOME: home,
      TERM: 'xterm-256color',
      ANTHROPIC_BASE_URL: baseUrl,
      ANTHROPIC_API_KEY: apiKey,
      CLAUDE_CONFIG_DIR: configDir,
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
  }
}

/**
 * A token Claude Code takes for a Claude gateway's (a JWT whose audience is `claude-gateway`;
 * the CLI reads it without checking a signature): with it and a base URL that is not Anthropic's,
 * the CLI reports a 429's usage-limit headers as a limit, as it does for a subscription (2.1.332).
 */
export const claudeGatewayToken = (): string => {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ aud: 'claude-gateway', sub: 'stratavore-test' })}.c2ln`
}

export const MOCK_OPENAI_KEY = 'sk-mock-openai-test'

/**
 * The environment for a Codex run against the mock: CODEX_HOME (which must exist) holds a
 * config.toml naming the mock as the model provider, so the adapter's argv stays its own.
 */
export const codexEnv = (t: Teardown, { baseUrl, model = 'gpt-5-mock' }: { baseUrl: string, model?: string }): { env: Record<string, string>, codexHome: string, home: string } => {
  const home = tempDir(t, 'stv-codex-home-')
  const codexHome = join(home, '.codex')
  mkdirSync(codexHome, { recursive: true })
  writeFileSync(join(codexHome, 'config.toml'), [
    `model = "${model}"`,
    'model_provider = "mock"',
    '',
    '[model_providers.mock]',
    'name = "mock"',
    `base_url = "${baseUrl}/v1"`,
    'env_key = "MOCK_OPENAI_KEY"',
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '',
  ].join('\n'))
  return {
    home,
    codexHome,
    env: {
      PATH: basePath(),
      HOME: home,
      TERM: 'xterm-256color',
      CODEX_HOME: codexHome,
      MOCK_OPENAI_KEY,
    },
  }
}

/** A launch spec with test defaults; override what the test is about. */
export const agentSpec = (overrides: Partial<AgentLaunchSpec> & Pick<AgentLaunchSpec, 'kind'>): AgentLaunchSpec => ({
  runnerId: 'runner-1',
  agentName: overrides.kind,
  command: [overrides.kind],
  cwd: '/work/project',
  flags: [],
  god: false,
  conversationMode: 'new',
  sessionId: null,
  prompt: null,
  env: {},
  runningAsRoot: false,
  ...overrides,
})

export interface HeadlessRun {
  code: number | null
  stdout: string[]
  stderr: string
  invocation: AgentInvocation
  observer: AgentObserver
}

/**
 * Spawns a headless run the way the supervisor does (pipes, stdin ignored), feeds stdout lines to
 * the adapter's observer, and polls it once more after exit. Kills the child on teardown.
 */
export const runHeadless = async (t: Teardown, spec: AgentLaunchSpec, timeoutMs = 60_000): Promise<HeadlessRun> => {
  const adapter = adapterFor(spec.kind)
  const invocation = adapter.invocation(spec)
  const observer = adapter.observe(spec, invocation)
  const [program, ...args] = invocation.argv
  const child = spawn(program!, args, { cwd: spec.cwd, env: processEnv(spec, invocation), stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const stdout: string[] = []
  let stderr = ''
  createInterface({ input: child.stdout }).on('line', line => { stdout.push(line); observer.onStdoutLine(line) })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${program} did not exit within ${timeoutMs} ms; stderr: ${stderr}`)) }, timeoutMs)
    child.on('error', err => { clearTimeout(timer); reject(err) })
    child.on('close', c => { clearTimeout(timer); resolve(c) })
  })
  await observer.poll()
  observer.close()
  return { code, stdout, stderr, invocation, observer }
}
