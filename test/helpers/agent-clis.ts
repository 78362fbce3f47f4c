// Helpers for tests that run the REAL agent CLIs (installed as devDependencies) against the local
// mock model APIs in test/fixtures. Every directory the CLIs may write to is a temp dir removed in
// teardown, so no test reads or writes the real ~/.claude or ~/.codex.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { adapterFor, processEnv } from '../../src/adapters/agents/index.js'
import type { AgentInvocation, AgentLaunchSpec, AgentObserver } from '../../src/adapters/agents/types.js'
import type { ActivitySignal } from '../../src/core/runners/activity.js'

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
/** The installed Gemini CLI (a node bundle; it needs no install script). */
export const geminiBin = (): string => installed('gemini', '@google/gemini-cli')

/**
 * The installed OpenCode binary. `node_modules/.bin/opencode` is a stub that only says the
 * postinstall did not run (npm runs no install scripts here); the postinstall would copy the
 * binary out of the platform package, which npm installs anyway as an optionalDependency. So
 * this takes it from there, the baseline build on an x64 CPU without AVX2 (as the postinstall does).
 */
export const opencodeBin = (): string => {
  const platform = process.platform === 'win32' ? 'windows' : process.platform
  const avx2 = process.platform !== 'linux' || /(^|\s)avx2(\s|$)/.test(readFileSync('/proc/cpuinfo', 'utf8'))
  const baseline = process.arch === 'x64' && !avx2 ? '-baseline' : ''
  const pkg = `opencode-${platform}-${process.arch}${baseline}`
  const bin = join(repoRoot, 'node_modules', pkg, 'bin', process.platform === 'win32' ? 'opencode.exe' : 'opencode')
  if (!existsSync(bin)) {
    throw new Error(`opencode is not installed at ${bin}: run \`npm ci\` (devDependency opencode-ai, its optionalDependency ${pkg}); adapter tests need the real CLI`)
  }
  return bin
}

/**
 * Whether a real-CLI test may run. Under CI=true a missing CLI is a failure; elsewhere it is a
 * visible skip (counted in tap's skip total, with the reason), never a silent pass.
 */
/** Something a test needs is missing here: a failure in CI, a named skip elsewhere, never a quiet pass. */
export const unavailable = (t: Test, why: string) => {
  if (process.env.CI === 'true') t.fail(why)
  else t.test(why, { skip: why }, () => {})
}

export const cliAvailable = (t: Test, bin: () => string): string | null => {
  try {
    return bin()
  } catch (err) {
    unavailable(t, (err as Error).message)
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

export const MOCK_GEMINI_KEY = 'mock-gemini-api-key'
export const GEMINI_MOCK_MODEL = 'gemini-2.5-flash'

/**
 * The environment for a Gemini CLI run against the mock: a private HOME whose settings pick the
 * API-key auth and one fixed model (the default `auto` routes every turn through classifier
 * calls first), with usage statistics and update checks off, and `trusted` folders trusted
 * (headless runs refuse an untrusted folder). GOOGLE_GEMINI_BASE_URL points the SDK at the mock.
 */
export const geminiEnv = (t: Teardown, { baseUrl, trusted = [] }: { baseUrl: string, trusted?: string[] }): { env: Record<string, string>, home: string } => {
  const home = tempDir(t, 'stv-gemini-home-')
  const dir = join(home, '.gemini')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'settings.json'), JSON.stringify({
    security: { auth: { selectedType: 'gemini-api-key' } },
    model: { name: GEMINI_MOCK_MODEL },
    privacy: { usageStatisticsEnabled: false },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
  }))
  writeFileSync(join(dir, 'trustedFolders.json'), JSON.stringify(Object.fromEntries(trusted.map(path => [path, 'TRUST_FOLDER']))))
  return {
    home,
    env: { PATH: basePath(), HOME: home, TERM: 'xterm-256color', GOOGLE_GEMINI_BASE_URL: baseUrl, GEMINI_API_KEY: MOCK_GEMINI_KEY },
  }
}

/**
 * The environment for an OpenCode run against the Anthropic mock: a private HOME and XDG dirs
 * (its SQLite store lives under XDG_DATA_HOME) and an OPENCODE_CONFIG naming the mock as the
 * anthropic provider's base URL. The title agent is disabled: its call is billed but reported
 * nowhere (not on stdout, not in the session's totals), so no observer could count it. Shell
 * commands and edits ask first, so only god mode (--auto) lets them run unattended.
 */
export const opencodeEnv = (t: Teardown, { baseUrl, apiKey = MOCK_ANTHROPIC_KEY }: { baseUrl: string, apiKey?: string }): { env: Record<string, string>, home: string } => {
  const home = tempDir(t, 'stv-opencode-home-')
  const config = join(home, 'opencode.json')
  writeFileSync(config, JSON.stringify({
    model: 'anthropic/claude-sonnet-4-5',
    autoupdate: false,
    share: 'disabled',
    agent: { title: { disable: true } },
    permission: { bash: 'ask', edit: 'ask' },
    provider: { anthropic: { options: { baseURL: `${baseUrl}/v1`, apiKey } } },
  }))
  return {
    home,
    env: {
      PATH: basePath(),
      HOME: home,
      TERM: 'xterm-256color',
      XDG_DATA_HOME: join(home, '.local', 'share'),
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_CACHE_HOME: join(home, '.cache'),
      XDG_STATE_HOME: join(home, '.local', 'state'),
      OPENCODE_CONFIG: config,
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
      OPENCODE_DISABLE_SHARE: '1',
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
  /** What the observer read from stdout about the agent's activity, in order. */
  signals: ActivitySignal[]
}

/**
 * Spawns a headless run the way the supervisor does (pipes, stdin ignored), feeds stdout lines to
 * the adapter's observer, and polls it once more after exit. Kills the child on teardown.
 */
export const runHeadless = async (t: Teardown, spec: AgentLaunchSpec, timeoutMs = 60_000): Promise<HeadlessRun> => {
  const adapter = adapterFor(spec.kind)
  const invocation = adapter.invocation(spec)
  const signals: ActivitySignal[] = []
  const observer = adapter.observe(spec, invocation, signal => signals.push(signal))
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
  return { code, stdout, stderr, invocation, observer, signals }
}
