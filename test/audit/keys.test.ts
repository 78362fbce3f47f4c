// Where the audit keys come from: the key file (first line signs), the inline key, or a key the
// daemon generates once in its data dir. A secret never appears in an error, a log line or the
// redacted config.
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import { dataDirAuditKeys, resolveAuditKeys } from '../../src/adapters/audit/key-store.js'
import { REDACT_PATHS } from '../../src/adapters/logger.js'
import { parseAuditKeys } from '../../src/core/audit/audit-keys.js'
import { loadConfig, redactedConfig } from '../../src/config.js'
import { tempDir } from '../helpers/temp-dir.js'

const SECRET_1 = 'first-secret-AAAAAAAAAAAA'
const SECRET_2 = 'second-secret-BBBBBBBBBBB'

const errorOf = (fn: () => unknown): string => {
  try { fn() } catch (err) { return (err as Error).message }
  return '(no error)'
}

/** A pino logger whose lines the test can read. */
const capturingLogger = () => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  return { logger: pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream), text: () => lines.join('') }
}

t.test('parseAuditKeys: key_id=secret lines, first one signs; comments and blanks skipped', async t => {
  t.same(parseAuditKeys(`# rotated 2026-01\nk2=${SECRET_2}\n\n k1 = ${SECRET_1} \r\n`), [{ id: 'k2', secret: SECRET_2 }, { id: 'k1', secret: SECRET_1 }])
  t.same(parseAuditKeys(`k1=${SECRET_1}=with=equals`), [{ id: 'k1', secret: `${SECRET_1}=with=equals` }], 'only the first = separates')
  const cases: Array<[string, RegExp]> = [
    ['', /no key_id=secret line/],
    [`${SECRET_1}`, /line 1 is not key_id=secret/],
    ['k1=short', /line 1: the secret of key k1 must be at least 16/],
    [`bad id=${SECRET_1}`, /line 1: key id "bad id" must match/],
    [`k1=${SECRET_1}\nk1=${SECRET_2}`, /line 2: key id k1 appears twice/],
  ]
  for (const [text, message] of cases) {
    const error = errorOf(() => parseAuditKeys(text))
    t.match(error, message, JSON.stringify(text.slice(0, 20)))
    t.notMatch(error, /secret-[AB]/, 'the message never quotes a secret')
  }
})

t.test('config: security.audit_key_file wins over the inline key; env works; secrets redacted', async t => {
  const home = tempDir(t, 'stv-keys-')
  const file = join(home, 'audit.keys')
  writeFileSync(file, `k2=${SECRET_2}\nk1=${SECRET_1}\n`, { mode: 0o600 })
  const both = loadConfig({ home, env: { HOME: home, STRATAVORE_SECURITY_AUDIT_KEY_FILE: file, STRATAVORE_SECURITY_AUDIT_KEY: 'inline-secret-CCCCCCCCCC' } })
  t.same(both.auditKeys, [{ id: 'k2', secret: SECRET_2 }, { id: 'k1', secret: SECRET_1 }])
  const inline = loadConfig({ home, env: { HOME: home, STRATAVORE_SECURITY_AUDIT_KEY: SECRET_1 } })
  t.same(inline.auditKeys, [{ id: 'k1', secret: SECRET_1 }], 'the default key id is k1')
  const named = loadConfig({ home, env: { HOME: home, STRATAVORE_SECURITY_AUDIT_KEY: SECRET_1, STRATAVORE_SECURITY_AUDIT_KEY_ID: '2026-q1' } })
  t.same(named.auditKeys, [{ id: '2026-q1', secret: SECRET_1 }])
  t.equal(loadConfig({ home, env: { HOME: home } }).auditKeys, null, 'neither: the daemon will use its data dir')
  for (const c of [both, inline]) {
    const shown = JSON.stringify(redactedConfig(c))
    t.notMatch(shown, /secret-[ABC]|first-secret/, 'no secret in the redacted config')
    const log = capturingLogger()
    log.logger.info({ config: c }, 'config')
    log.logger.info({ security: c.security, auditKeys: c.auditKeys }, 'parts')
    t.notMatch(log.text(), /secret-[ABC]|first-secret/, 'nor in a log line that carries the config')
  }
})

t.test('config: a bad key stops the daemon naming the key, never the secret', async t => {
  const home = tempDir(t, 'stv-keys-')
  const bad = join(home, 'bad.keys')
  writeFileSync(bad, 'k1=too-short\n')
  const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
    [{ STRATAVORE_SECURITY_AUDIT_KEY_FILE: bad }, /^config security\.audit_key_file: line 1: the secret of key k1 must be at least 16 characters/],
    [{ STRATAVORE_SECURITY_AUDIT_KEY_FILE: join(home, 'missing') }, /^config security\.audit_key_file: cannot read .*ENOENT/],
    [{ STRATAVORE_SECURITY_AUDIT_KEY: 'too-short' }, /^config security\.audit_key: the secret of key k1 must be at least 16/],
    [{ STRATAVORE_SECURITY_AUDIT_KEY: SECRET_1, STRATAVORE_SECURITY_AUDIT_KEY_ID: 'no spaces' }, /^config security\.audit_key_id: must match/],
  ]
  for (const [env, message] of cases) {
    const error = errorOf(() => loadConfig({ home, env: { HOME: home, ...env } }))
    t.match(error, message)
    t.notMatch(error, /too-short|secret-A/)
  }
})

t.test('the data dir key: generated once (0600), then reused; a warning when the database is shared', async t => {
  const dataDir = join(tempDir(t, 'stv-keys-'), 'data')
  const first = capturingLogger()
  const [generated] = dataDirAuditKeys(dataDir, first.logger)
  t.match(generated, { id: /^auto-[0-9a-f]{8}$/, secret: /^[0-9a-f]{64}$/ }, '32 random bytes')
  const path = join(dataDir, 'audit.key')
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(readFileSync(path, 'utf8'), `${generated!.id}=${generated!.secret}\n`)
  t.match(first.text(), /generated a signing key/)

  const again = capturingLogger()
  t.same(resolveAuditKeys({ configured: null, dataDir, sharedDatabase: true }, again.logger), [generated], 'the same key on the next start')
  t.match(again.text(), /every daemon sharing this database must use the same key/)
  t.notMatch(first.text() + again.text(), new RegExp(generated!.secret), 'the secret is never logged')

  const configured = [{ id: 'k1', secret: SECRET_1 }]
  const quiet = capturingLogger()
  t.same(resolveAuditKeys({ configured, dataDir: join(dataDir, 'unused'), sharedDatabase: true }, quiet.logger), configured, 'configured keys win')
  t.equal(quiet.text(), '', 'and need no warning')
})
