// `stratavore <project> --prompt` with the real Claude Code CLI under a real daemon, against the
// mock Anthropic API: the agent's words (not its stream-json) and its exit code, the raw stream
// with --output stream-json, and a Claude that is not logged in: exit 1, "Not logged in" shown
// once, the reason on the runner, its output kept.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startMockAnthropic } from '../fixtures/mock-anthropic.js'
import { claudeBin, claudeEnv, cliAvailable } from '../helpers/agent-clis.js'
import { tempDir } from '../helpers/temp-dir.js'
import { startCliDaemon } from './helpers.js'

t.test('--prompt with Claude Code', async t => {
  const bin = cliAvailable(t, claudeBin)
  if (!bin) return
  const mock = await startMockAnthropic(t, { blocks: 'Hello from the mock server.' })
  const project = tempDir(t, 'stv-prompt-')
  const { env } = claudeEnv(t, { baseUrl: mock.url, cwd: project })
  // A Claude with no key and no login: what a first run on a new machine meets.
  const bare = tempDir(t, 'stv-nologin-')
  mkdirSync(join(bare, '.claude'))
  // The daemon's PATH reaches the agent; an agent's env may not set it.
  const { ANTHROPIC_API_KEY: _key, PATH: _path, ...noKey } = env
  const { PATH: _p, ...withKey } = env
  const d = await startCliDaemon(t, {
    agents: {
      claude: { kind: 'claude', command: [bin], env: withKey },
      'claude-nologin': { kind: 'claude', command: [bin], env: { ...noKey, HOME: bare, CLAUDE_CONFIG_DIR: join(bare, '.claude') } },
    },
  })
  t.equal((await d.run(['new', 'talk', '--path', project])).code, 0)

  await t.test('the agent\'s text and exit code; --output stream-json for its stream', async t => {
    const run = await d.run(['talk', '--agent', 'claude', '--prompt', 'Say hello'])
    t.equal(run.code, 0, run.stderr)
    t.equal(run.stdout, 'Hello from the mock server.\n', 'the words, not the protocol')
    const raw = await d.run(['talk', '--agent', 'claude', '--prompt', 'Say hello', '--output', 'stream-json'])
    t.equal(raw.code, 0, raw.stderr)
    const events = raw.stdout.trim().split('\n').map(line => JSON.parse(line) as { type: string, subtype?: string })
    // With session state events on (for activity), Claude ends its stream with the idle state after the result.
    const turn = events.filter(e => e.subtype !== 'session_state_changed').map(e => e.type)
    t.same([turn[0], turn.at(-1)], ['system', 'result'], 'the stream-json as Claude wrote it')
  })

  await t.test('not logged in: exit 1, said once, the reason kept', async t => {
    const run = await d.run(['talk', '--agent', 'claude-nologin', '--prompt', 'Say hello'])
    t.equal(run.code, 1, 'Claude\'s exit code')
    t.equal(run.stdout.split('Not logged in').length - 1, 1, `"Not logged in" once: ${JSON.stringify(run.stdout)}`)
    t.match(run.stderr, /runner \S+ failed: exited with code 1 at start: Not logged in · Please run \/login/)
    const id = /runner (\S+) failed/.exec(run.stderr)![1]!
    const logs = await d.run(['logs', id])
    t.match(logs.stdout, /"result":"Not logged in · Please run \/login"/, 'its last output is kept, as Claude wrote it')
  })
})
