// The one rule for secrets in a launch: what every read surface masks.
import t from 'tap'
import { REDACTED, isSecretName, looksLikeSecretValue, redactEnvironment, redactFlags } from '../../src/core/secrets.js'

const R = REDACTED

t.test('secret names, in variables and in flags', async t => {
  for (const name of ['API_TOKEN', 'GITHUB_TOKEN', 'OPENAI_API_KEY', 'APIKEY', 'DB_PASSWORD', 'MY_SECRET', 'PRIVATE_KEY', 'AWS_ACCESS_KEY_ID', 'api_key', 'Credentials']) {
    t.ok(isSecretName(name), name)
  }
  for (const name of ['LANG', 'TERM', 'GREETING', 'MODEL', 'LOG_LEVEL']) t.notOk(isSecretName(name), name)
})

t.test('secret-looking values, whatever their name', async t => {
  const keys = [
    'sk-ant-api03-abcdefghijklmnopqrstuvwxyz', 'sk-proj-0123456789abcdefABCDEF', 'ghp_0123456789abcdefghijABCDEFGHIJ012345',
    'github_pat_11ABCDEFG0123456789_abcdefghijklmnop', 'glpat-0123456789abcdefghij', 'xoxb-1234567890-abcdefghij', 'AKIAIOSFODNN7EXAMPLE',
    'AIzaSyA0123456789abcdefghijklmnopqrstuv', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl',
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n', 'postgres://stratavore:hunter2@db:5432/x', 'https://user:pa55@example.com/',
  ]
  for (const value of keys) t.ok(looksLikeSecretValue(value), value.slice(0, 20))
  for (const value of ['hello', 'en_US.UTF-8', 'https://example.com/path', 'sonnet', '--verbose', 'postgres://db:5432/x', 'sk-short']) {
    t.notOk(looksLikeSecretValue(value), value)
  }
})

t.test('redactEnvironment masks by name and by value', async t => {
  t.same(redactEnvironment({ FOO: 'bar', API_TOKEN: 'x', NOTE: 'ghp_0123456789abcdefghijABCDEFGHIJ012345', LANG: 'C' }),
    { FOO: 'bar', API_TOKEN: R, NOTE: R, LANG: 'C' })
})

t.test('redactFlags: --name=value, --name value, key-shaped arguments', async t => {
  const cases: Array<[string[], string[]]> = [
    [['--verbose', '--model=sonnet'], ['--verbose', '--model=sonnet']],
    [['--api-key=abc123'], [`--api-key=${R}`]],
    [['--token', 'abc123', '--verbose'], ['--token', R, '--verbose']],
    [['-p', 'hi', '--password', 'pw'], ['-p', 'hi', '--password', R]],
    [['--token', '--verbose'], ['--token', '--verbose']],
    [['--auth-token', '-x-starts-with-dash'], ['--auth-token', R]],
    [['--header=Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2ln'], [`--header=${R}`]],
    [['sk-ant-api03-abcdefghijklmnopqrstuvwxyz'], [R]],
    [['--url=https://u:p4ss@host/x'], [`--url=${R}`]],
    [['--token'], ['--token']],
  ]
  for (const [flags, shown] of cases) t.same(redactFlags(flags), shown, flags.join(' '))
})
