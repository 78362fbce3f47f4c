// What a launch request may add to an agent: the rules alone, without a database.
import t from 'tap'
import { AppError } from '../../../src/core/errors.js'
import { DEFAULT_LAUNCH_ENV, checkEnvironment, checkLaunchEnvironment, checkLaunchFlags, globMatches, type LaunchPolicy } from '../../../src/core/runners/launch-policy.js'

const refusal = (fn: () => unknown): { code: string, message: string, details?: Record<string, unknown> } | null => {
  try { fn() } catch (err) {
    if (err instanceof AppError) return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) }
    throw err
  }
  return null
}
const policy = (launchEnv: string[] = [...DEFAULT_LAUNCH_ENV], allowFlags: string[] = []): LaunchPolicy => ({ launchEnv, allowFlags })

t.test('globs: * is any run of characters, everything else literal', async t => {
  t.ok(globMatches('LC_*', 'LC_ALL'))
  t.ok(globMatches('LC_*', 'LC_'))
  t.notOk(globMatches('LC_*', 'XLC_ALL'))
  t.ok(globMatches('--model=*', '--model=claude sonnet'))
  t.notOk(globMatches('--model=*', '--model'))
  t.ok(globMatches('*', ''))
  t.notOk(globMatches('--a.b', '--aXb'), 'a dot is a dot')
  t.notOk(globMatches('--x', '--x\n--y'), 'anchored over newlines')
  t.ok(globMatches('--x=*', '--x=a\nb'), '* crosses newlines')
})

t.test('environment: the default allows terminal and locale only', async t => {
  t.equal(refusal(() => checkLaunchEnvironment('claude', { TERM: 'xterm', LANG: 'C.UTF-8', LC_ALL: 'C', TZ: 'UTC', NO_COLOR: '1' }, policy())), null)
  t.match(refusal(() => checkLaunchEnvironment('claude', { LANG: 'C', FOO: 'bar' }, policy())), {
    code: 'ENVIRONMENT_NOT_ALLOWED', message: /"FOO".*"claude".*agents\.claude\.launch_env allows TERM, COLORTERM, LANG/, details: { name: 'FOO', agent: 'claude' },
  })
  t.match(refusal(() => checkLaunchEnvironment('x', { FOO: 'bar' }, policy([]))), { code: 'ENVIRONMENT_NOT_ALLOWED', message: /allows none/ })
})

t.test('environment: loader and redirect variables pass only when named exactly; STRATAVORE_* never', async t => {
  const anything = policy(['*'])
  for (const name of ['LD_PRELOAD', 'NODE_OPTIONS', 'PATH', 'PYTHONPATH', 'BASH_ENV', 'HOME', 'ANTHROPIC_BASE_URL', 'HTTPS_PROXY', 'NODE_EXTRA_CA_CERTS', 'XDG_CONFIG_HOME', 'CLAUDE_CONFIG_DIR']) {
    t.match(refusal(() => checkLaunchEnvironment('gen', { [name]: 'x' }, anything)), { code: 'INVALID_ENVIRONMENT', message: new RegExp(`"${name}" may not be set`) }, `${name} not through *`)
    t.match(refusal(() => checkLaunchEnvironment('gen', { [name]: 'x' }, policy(['LD_*', 'NODE_*', 'P*', 'B*', 'H*', 'A*', 'X*', 'C*']))), { code: 'INVALID_ENVIRONMENT' }, `${name} not through a narrower glob`)
    t.equal(refusal(() => checkLaunchEnvironment('gen', { [name]: 'x' }, policy([name]))), null, `${name} when named`)
  }
  t.equal(refusal(() => checkLaunchEnvironment('gen', { GREETING: 'hi', MY_MODE: 'a' }, anything)), null)
  t.match(refusal(() => checkLaunchEnvironment('gen', { STRATAVORE_RUNNER_ID: 'x' }, policy(['STRATAVORE_RUNNER_ID']))), { code: 'INVALID_ENVIRONMENT', message: /supervisor's own/ })
  t.match(refusal(() => checkLaunchEnvironment('gen', { 'bad-name': 'x' }, anything)), { code: 'INVALID_ENVIRONMENT', message: /not a valid name/ })
})

t.test("the operator's agents.<name>.env: no loader variables, but redirects are the operator's to set", async t => {
  t.match(refusal(() => checkEnvironment({ LD_PRELOAD: 'x' })), { code: 'INVALID_ENVIRONMENT' })
  t.match(refusal(() => checkEnvironment({ STRATAVORE_X: 'x' })), { code: 'INVALID_ENVIRONMENT' })
  t.equal(refusal(() => checkEnvironment({ HOME: '/srv/agent', ANTHROPIC_BASE_URL: 'http://127.0.0.1:1' })), null)
})

t.test('flags: none by default; otherwise each must match a pattern; a refused one is quoted redacted', async t => {
  t.equal(refusal(() => checkLaunchFlags('claude', [], policy())), null, 'no flags is always fine')
  t.match(refusal(() => checkLaunchFlags('claude', ['--verbose'], policy())), {
    code: 'FLAG_NOT_ALLOWED', message: /flag "--verbose" \(flags\[0\]\) is not allowed for agent "claude"; agents\.claude\.allow_flags allows no flags/, details: { flag: '--verbose', index: 0, agent: 'claude' },
  })
  const picky = policy([], ['--verbose', '--model=*'])
  t.equal(refusal(() => checkLaunchFlags('claude', ['--verbose', '--model=sonnet'], picky)), null)
  t.match(refusal(() => checkLaunchFlags('claude', ['--model=sonnet', '--model', 'opus'], picky)), { code: 'FLAG_NOT_ALLOWED', details: { flag: '--model', index: 1 } })
  t.match(refusal(() => checkLaunchFlags('sh', ['-c', 'id > /tmp/x'], picky)), { code: 'FLAG_NOT_ALLOWED', details: { flag: '-c', index: 0 } }, 'the finding: sh -c is refused')
  const secret = refusal(() => checkLaunchFlags('claude', ['--api-key=sk-ant-api03-abcdefghijklmnopqrstuvwxyz'], picky))
  t.match(secret, { code: 'FLAG_NOT_ALLOWED', details: { flag: '--api-key=********' } })
  t.notMatch(secret!.message, /abcdefghij/, 'the refusal does not echo the secret')
  const following = refusal(() => checkLaunchFlags('claude', ['--verbose', '--token', 'hunter2hunter2'], policy([], ['--verbose', '--token'])))
  t.match(following, { details: { flag: '********', index: 2 } }, 'nor the argument after a secret flag')
})
