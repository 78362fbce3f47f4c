// Where the CLI's credential comes from, in-process with the real config loading: --token, then
// STRATAVORE_TOKEN, then the admin token file the daemon would use (its data dir's, or
// security.admin_token_file), and only for a daemon on this host. Also --ttl and the opener.
import { mkdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { daemonConfig } from '../../src/cli/client.js'
import { parseTtl } from '../../src/cli/commands/token.js'
import { opener, signInUrl } from '../../src/cli/commands/ui.js'
import { resolveCredential } from '../../src/cli/credentials.js'
import { UsageError } from '../../src/cli/io.js'
import { tempDir } from '../helpers/temp-dir.js'

const TOKEN = `stv_${'a'.repeat(43)}`

t.test('the order: --token, STRATAVORE_TOKEN, the admin token file', async t => {
  const home = tempDir(t, 'stv-cred-')
  const dataDir = join(home, 'data')
  const env = { HOME: home, STRATAVORE_DATA_DIR: dataDir }
  const resolve = (flags: { token?: string }, extra: Record<string, string> = {}, url = 'http://127.0.0.1:8080') =>
    resolveCredential(flags, { ...env, ...extra }, url, daemonConfig({}, { ...env, ...extra }))

  t.same(await resolve({}), { token: null, missing: `there is no admin token at ${join(dataDir, 'admin.token')} here` })
  mkdirSync(dataDir)
  writeFileSync(join(dataDir, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 })
  t.same(await resolve({}), { token: TOKEN, from: `the admin token file ${join(dataDir, 'admin.token')}` })
  t.same(await resolve({}, { STRATAVORE_TOKEN: 'from-the-environment' }), { token: 'from-the-environment', from: 'STRATAVORE_TOKEN' })
  t.same(await resolve({ token: ' from-the-flag\n' }, { STRATAVORE_TOKEN: 'from-the-environment' }), { token: 'from-the-flag', from: '--token' })
  t.same(await resolve({}, { STRATAVORE_TOKEN: '' }), { token: TOKEN, from: `the admin token file ${join(dataDir, 'admin.token')}` }, 'an empty variable is unset')

  const configured = join(home, 'elsewhere.token')
  writeFileSync(configured, `stv_${'b'.repeat(43)}\n`, { mode: 0o600 })
  t.same(await resolve({}, { STRATAVORE_SECURITY_ADMIN_TOKEN_FILE: configured }), { token: `stv_${'b'.repeat(43)}`, from: `the admin token file ${configured}` })

  writeFileSync(join(dataDir, 'admin.token'), 'short\n')
  const bad = await resolve({})
  t.equal(bad.token, null)
  t.match(bad, { missing: /does not hold a token/ })

  await t.rejects(resolve({ token: 'two words' }), new UsageError('--token: not a token (expected printable characters without spaces)'))
})

t.test('this host\'s admin token goes only to a daemon on this host', async t => {
  const home = tempDir(t, 'stv-cred-')
  const dataDir = join(home, 'data')
  mkdirSync(dataDir)
  writeFileSync(join(dataDir, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 })
  const config = join(home, 'stratavore.yaml')
  writeFileSync(config, 'daemon:\n  public_url: https://stv.example.com\n')
  const env = { HOME: home, STRATAVORE_DATA_DIR: dataDir }
  const at = (url: string) => resolveCredential({}, env, url, daemonConfig({ config }, env)).then(c => c.token)
  for (const local of ['http://127.0.0.1:8080', 'http://localhost:9', 'http://[::1]:8080', `http://${hostname()}:8080`, 'https://stv.example.com']) {
    t.equal(await at(local), TOKEN, local)
  }
  t.same(await resolveCredential({}, env, 'http://10.9.8.7:8080', daemonConfig({ config }, env)),
    { token: null, missing: 'this host\'s admin token goes only to a daemon on this host, not to 10.9.8.7' })
  t.equal(await resolveCredential({}, { ...env, STRATAVORE_TOKEN: 'explicit' }, 'http://10.9.8.7:8080', daemonConfig({ config }, env)).then(c => c.token), 'explicit', 'a token given is sent anywhere')
})

t.test('--ttl durations', async t => {
  t.equal(parseTtl('90'), 90)
  t.equal(parseTtl('30m'), 1800)
  t.equal(parseTtl('12h'), 43_200)
  t.equal(parseTtl('7d'), 604_800)
  t.equal(parseTtl('2w'), 1_209_600)
  t.throws(() => parseTtl('1.5h'), /--ttl must be a duration/)
  t.throws(() => parseTtl('-5m'), /--ttl must be a duration/)
})

t.test('ui: the URL and the opener', async t => {
  t.equal(signInUrl('http://127.0.0.1:8080', 'stv_a+b/c'), 'http://127.0.0.1:8080/?token=stv_a%2Bb%2Fc')
  t.equal(opener('linux', {}), null, 'no display, no browser')
  t.equal(opener('linux', { DISPLAY: ':0' }), 'xdg-open')
  t.equal(opener('freebsd', { WAYLAND_DISPLAY: 'wayland-0' }), 'xdg-open')
  t.equal(opener('darwin', {}), 'open')
  t.equal(opener('win32', { DISPLAY: ':0' }), null)
})
