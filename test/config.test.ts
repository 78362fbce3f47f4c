import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { SECRET_FILE_TWINS, envNameOf } from '../src/config-spec.js'
import { loadConfig, redactedConfig } from '../src/config.js'
import { checkListenSecurity, isLoopbackHost } from '../src/listen-security.js'
import { tempDir } from './helpers/temp-dir.js'
import { configHome, errorOf } from './helpers/config.js'


t.test('defaults: embedded database, loopback, the seed keys', async t => {
  const home = configHome(t)
  const c = loadConfig({ env: { HOME: home }, home })
  t.equal(c.configFile, null)
  t.equal(c.databaseUrl, null, 'PGlite without DATABASE_URL')
  t.equal(c.amqpUrl, null, 'in-process bus without AMQP_URL')
  t.equal(c.dataDir, join(home, '.local/share/stratavore'))
  t.match(c.daemon, { host: '127.0.0.1', http_port: 8080, heartbeat_interval_seconds: 10, reconcile_interval_seconds: 30 })
  t.match(c.database.postgresql, { host: 'localhost', port: 5432 })
  t.match(c.docker, { rabbitmq: { exchange: 'stratavore.events', publisher_confirms: true }, prometheus: { enabled: true, port: 9091 } })
  t.equal(c.defaults.agent, 'claude')
  t.same(Object.keys(c.agents).sort(), ['aider', 'claude', 'codex', 'gemini', 'opencode'])
  t.same(c.agents.claude, { name: 'claude', kind: 'claude', command: ['claude'], env: {} })
})

t.test('the home file, then env overrides by key path, then the special variables', async t => {
  const home = configHome(t, [
    'daemon:', '  http_port: 9000', '  cors_origins: ["http://localhost:5173"]',
    'docker:', '  rabbitmq:', '    publisher_confirms: false',
    'agents:', '  mine:', '    kind: generic', '    command: ["/usr/bin/env", "my-agent"]', '    env: { FOO: bar }',
    'defaults:', '  agent: mine',
  ].join('\n'))
  const c = loadConfig({ home, env: { HOME: home, STRATAVORE_DAEMON_HTTP_PORT: '9100', STRATAVORE_DOCKER_RABBITMQ_PUBLISHER_CONFIRMS: 'true', STRATAVORE_DATA_DIR: '/srv/stv', DATABASE_URL: 'postgres://u:p@db:5432/x', AMQP_URL: 'amqp://mq' } })
  t.equal(c.configFile, join(home, '.config/stratavore/stratavore.yaml'))
  t.equal(c.daemon.http_port, 9100, 'env wins over the file')
  t.same(c.daemon.cors_origins, ['http://localhost:5173'])
  t.equal(c.docker.rabbitmq.publisher_confirms, true)
  t.equal(c.dataDir, '/srv/stv')
  t.equal(c.databaseUrl, 'postgres://u:p@db:5432/x')
  t.equal(c.amqpUrl, 'amqp://mq')
  t.same(c.agents.mine, { name: 'mine', kind: 'generic', command: ['/usr/bin/env', 'my-agent'], env: { FOO: 'bar' } })
  t.equal(c.defaults.agent, 'mine')
  t.notMatch(JSON.stringify(redactedConfig(c)), /u:p@/, 'the redacted view hides passwords')
})

t.test('--config wins over the home file; password_file twins are read', async t => {
  const home = configHome(t, 'daemon:\n  http_port: 9000\n')
  const dir = tempDir(t)
  writeFileSync(join(dir, 'pw'), 's3cret\n')
  writeFileSync(join(dir, 'c.yaml'), `database:\n  driver: postgres\n  postgresql:\n    host: db.internal\n    password_file: ${join(dir, 'pw')}\n`)
  const c = loadConfig({ configPath: join(dir, 'c.yaml'), home, env: { HOME: home } })
  t.equal(c.daemon.http_port, 8080)
  t.equal(c.database.postgresql.password, 's3cret')
  t.equal(c.databaseUrl, 'postgres://stratavore:s3cret@db.internal:5432/stratavore?sslmode=prefer')
})

t.test('the _file twins of rabbitmq and github are read like the database one; a missing file names its key', async t => {
  const home = configHome(t)
  const dir = tempDir(t)
  writeFileSync(join(dir, 'mq'), 'mq-s3cret\n')
  writeFileSync(join(dir, 'gh'), 'ghp_fromfile\r\n')
  writeFileSync(join(dir, 'c.yaml'), [
    'docker:', '  rabbitmq:', '    enabled: true', '    password: inline', `    password_file: ${join(dir, 'mq')}`,
    'github:', '  token: inline', `  token_file: ${join(dir, 'gh')}`,
  ].join('\n'))
  const c = loadConfig({ configPath: join(dir, 'c.yaml'), home, env: { HOME: home } })
  t.equal(c.docker.rabbitmq.password, 'mq-s3cret', 'the file wins over the inline password; its trailing newline is trimmed')
  t.equal(c.amqpUrl, 'amqp://guest:mq-s3cret@localhost:5672/%2F')
  t.equal(c.github.token, 'ghp_fromfile', 'the file wins over the inline token; a trailing CRLF is trimmed')
  const fromEnv = loadConfig({ home, env: { HOME: home, STRATAVORE_GITHUB_TOKEN_FILE: join(dir, 'gh'), STRATAVORE_DOCKER_RABBITMQ_PASSWORD_FILE: join(dir, 'mq') } })
  t.same([fromEnv.github.token, fromEnv.docker.rabbitmq.password], ['ghp_fromfile', 'mq-s3cret'], 'the twins work from the environment too')

  t.same(SECRET_FILE_TWINS.map(([, file]) => file), ['database.postgresql.password_file', 'docker.rabbitmq.password_file', 'github.token_file', 'docker.prometheus.token_file'])
  for (const [, file] of SECRET_FILE_TWINS) {
    const message = errorOf(() => loadConfig({ home, env: { HOME: home, [envNameOf(file)]: join(dir, 'missing') } }))
    t.equal(message, `config ${file}: cannot read ${join(dir, 'missing')}: ENOENT (from file)`, `a missing ${file} is one line naming the key`)
  }
})

// Every STRATAVORE_* name the repository uses (daemon keys, the CLI's STRATAVORE_API_URL, test
// and bench knobs, what agents are given) must load; this file is left out, since it spells
// wrong names on purpose.
t.test('no STRATAVORE_ variable the repository uses is refused', async t => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const self = fileURLToPath(import.meta.url)
  const names = new Set<string>()
  const scan = (path: string) => {
    if (path === self || /\/(node_modules|\.git|\.tap|drizzle)$/.test(path)) return
    if (statSync(path).isDirectory()) { for (const entry of readdirSync(path)) scan(join(path, entry)); return }
    for (const [name] of readFileSync(path, 'utf8').matchAll(/STRATAVORE_[A-Z0-9_]*[A-Z0-9]/g)) names.add(name)
  }
  // The README's example of a misspelt variable, refused on purpose.
  const REFUSED_EXAMPLES = ['STRATAVORE_DAEMON_HTTP_PROT', 'STRATAVORE_NOTIFICATIONS_WEBHOOKS']
  for (const entry of ['src', 'test', 'bench', 'scripts', '.ci', 'bin', 'workers', 'deploy', 'docs', 'compose.yaml', 'Dockerfile', 'README.md', 'package.json']) scan(join(root, entry))
  t.ok(['STRATAVORE_DATA_DIR', 'STRATAVORE_TEST_DATABASE_URL', 'STRATAVORE_DAEMON_HTTP_PORT', 'STRATAVORE_RUNNER_ID'].every(n => names.has(n)), `the scan found the usual names (${names.size} in all)`)
  const home = configHome(t)
  const used = [...names].filter(n => !REFUSED_EXAMPLES.includes(n))
  t.doesNotThrow(() => loadConfig({ home, env: { HOME: home, ...Object.fromEntries(used.map(n => [n, ''])) } }), used.sort().join(' '))
})

t.test('a bad file or value names the key', async t => {
  const home = configHome(t)
  const env = { HOME: home }
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['non-numeric port from env', () => loadConfig({ home, env: { ...env, STRATAVORE_DAEMON_HTTP_PORT: 'eighty' } }), /daemon\.http_port.*integer.*STRATAVORE_DAEMON_HTTP_PORT/],
    ['port out of range', () => loadConfig({ home, env: { ...env, STRATAVORE_DAEMON_HTTP_PORT: '70000' } }), /daemon\.http_port/],
    ['an unknown budget timezone', () => loadConfig({ home, env: { ...env, STRATAVORE_BUDGETS_TIMEZONE: 'Mars/Olympus' } }), /budgets\.timezone.*not a known time zone/],
    ['a negative default budget', () => loadConfig({ home, env: { ...env, STRATAVORE_BUDGETS_GLOBAL_DAY: '-1' } }), /budgets\.global\.day/],
    ['bad boolean', () => loadConfig({ home, env: { ...env, STRATAVORE_DOCKER_PROMETHEUS_ENABLED: 'maybe' } }), /docker\.prometheus\.enabled.*true or false/],
    ['bad enum', () => loadConfig({ home, env: { ...env, STRATAVORE_OBSERVABILITY_LOG_LEVEL: 'loud' } }), /observability\.log_level.*one of/],
    ['missing --config file', () => loadConfig({ home, env, configPath: '/nonexistent/s.yaml' }), /--config.*not found/],
    ['bad DATABASE_URL', () => loadConfig({ home, env: { ...env, DATABASE_URL: 'mysql://x' } }), /DATABASE_URL.*scheme/],
    ['unreadable password_file', () => loadConfig({ home, env: { ...env, STRATAVORE_DATABASE_POSTGRESQL_PASSWORD_FILE: '/nonexistent/pw' } }), /database\.postgresql\.password_file.*cannot read/],
    // Variables in a section's namespace must name a key; a near miss gets a suggestion.
    ['a misspelt variable', () => loadConfig({ home, env: { ...env, STRATAVORE_DAEMON_HTTP_PROT: '1' } }),
      /^config STRATAVORE_DAEMON_HTTP_PROT: is not a known key; did you mean STRATAVORE_DAEMON_HTTP_PORT \(daemon\.http_port\)\? \(from environment\)$/],
    ['a variable missing a level', () => loadConfig({ home, env: { ...env, STRATAVORE_DATABASE_PASSWORD: 'x' } }),
      /^config STRATAVORE_DATABASE_PASSWORD: .*did you mean STRATAVORE_DATABASE_POSTGRESQL_PASSWORD \(database\.postgresql\.password\)\?/],
    ['an unknown variable with nothing close', () => loadConfig({ home, env: { ...env, STRATAVORE_RELAY_WORKERS: '4' } }),
      /^config STRATAVORE_RELAY_WORKERS: is not a known key \(from environment\)$/],
    ['an unknown variable, even empty', () => loadConfig({ home, env: { ...env, STRATAVORE_GITHUB_TOKENS: '' } }), /^config STRATAVORE_GITHUB_TOKENS: .*did you mean STRATAVORE_GITHUB_TOKEN /],
    ['an agent from the environment', () => loadConfig({ home, env: { ...env, STRATAVORE_AGENTS_CLAUDE_COMMAND: 'claude' } }),
      /^config STRATAVORE_AGENTS_CLAUDE_COMMAND: agents are set in the config file only/],
  ]
  for (const [name, fn, expected] of cases) {
    const message = errorOf(fn)
    t.match(message, expected, name)
    t.notMatch(message, /\n/, `${name}: one line`)
  }
  for (const section of ['daemon', 'database', 'docker', 'supervisor', 'relay', 'debug', 'observability', 'defaults', 'webui', 'security', 'github']) {
    const name = `${envNameOf(section)}_NO_SUCH_KEY`
    t.match(errorOf(() => loadConfig({ home, env: { ...env, [name]: '1' } })), new RegExp(`^config ${name}: is not a known key`), `${name} is refused`)
  }

  const withFile = (yaml: string) => { const h = configHome(t, yaml); return errorOf(() => loadConfig({ home: h, env: { HOME: h } })) }
  t.match(withFile('daemon:\n  http_prot: 1\n'), /daemon\.http_prot: is not a known key/)
  t.match(withFile('daemon: [1, 2]\n'), /daemon: must be a mapping/)
  t.match(withFile('daemon:\n  http_port: "80"\n'), /daemon\.http_port.*integer/)
  t.match(withFile('daemon:\n  http_port: 8080\n   bad: : indent\n'), /cannot parse/)
  t.match(withFile('agents:\n  x:\n    kind: robot\n'), /agents\.x\.kind.*one of/)
  t.match(withFile('agents:\n  x:\n    kind: generic\n'), /agents\.x\.command.*non-empty list/)
  t.match(withFile('agents:\n  x:\n    kind: claude\n    env: { LD_PRELOAD: /x.so }\n'), /agents\.x\.env/)
  t.match(withFile('agents:\n  x:\n    kind: claude\n    shell: true\n'), /agents\.x\.shell: is not a known key/)
  t.match(withFile('defaults:\n  agent: nobody\n'), /defaults\.agent.*no configured agent/)
})

t.test('TLS files: both or neither for each port; the client CA needs gRPC TLS; the CLI can leave them unread', async t => {
  const home = configHome(t)
  const dir = tempDir(t)
  for (const name of ['cert.pem', 'key.pem', 'ca.pem']) writeFileSync(join(dir, name), `${name}\n`)
  const [cert, key, ca] = ['cert.pem', 'key.pem', 'ca.pem'].map(name => join(dir, name)) as [string, string, string]
  const load = (vars: Record<string, string>, options: { readSecretFiles?: boolean } = {}) => loadConfig({ home, env: { HOME: home, ...vars }, ...options })

  const c = load({ STRATAVORE_DAEMON_TLS_CERT_FILE: cert, STRATAVORE_DAEMON_TLS_KEY_FILE: key })
  t.same(c.httpTls, { cert: 'cert.pem', key: 'key.pem' })
  t.equal(c.grpcTls, null, 'each port has its own pair')
  t.same(redactedConfig(c).httpTls, { cert: 'cert.pem', key: '***' })
  t.equal(load({}).httpTls, null, 'neither: plain HTTP')
  t.equal(errorOf(() => load({ STRATAVORE_DAEMON_TLS_CERT_FILE: cert })),
    'config daemon.tls_key_file: must be set with its twin (TLS needs a certificate and a key) (from config)')
  t.equal(errorOf(() => load({ STRATAVORE_DAEMON_TLS_KEY_FILE: key })),
    'config daemon.tls_cert_file: must be set with its twin (TLS needs a certificate and a key) (from config)')
  t.equal(errorOf(() => load({ STRATAVORE_DAEMON_TLS_CERT_FILE: cert, STRATAVORE_DAEMON_TLS_KEY_FILE: join(dir, 'missing') })),
    `config daemon.tls_key_file: cannot read ${join(dir, 'missing')}: ENOENT (from file)`)

  const grpc = { STRATAVORE_DAEMON_GRPC_TLS_CERT_FILE: cert, STRATAVORE_DAEMON_GRPC_TLS_KEY_FILE: key }
  t.same(load(grpc).grpcTls, { cert: 'cert.pem', key: 'key.pem', clientCa: null })
  t.same(load({ ...grpc, STRATAVORE_DAEMON_GRPC_CLIENT_CA_FILE: ca }).grpcTls, { cert: 'cert.pem', key: 'key.pem', clientCa: 'ca.pem' })
  t.match(errorOf(() => load({ STRATAVORE_DAEMON_GRPC_CLIENT_CA_FILE: ca })), /^config daemon\.grpc_client_ca_file: needs daemon\.grpc_tls_cert_file and daemon\.grpc_tls_key_file/)

  const unreadable = { STRATAVORE_DAEMON_TLS_CERT_FILE: cert, STRATAVORE_DAEMON_TLS_KEY_FILE: join(dir, 'missing'), STRATAVORE_SECURITY_AUDIT_KEY_FILE: join(dir, 'missing') }
  const forCli = load(unreadable, { readSecretFiles: false })
  t.same([forCli.httpTls, forCli.auditKeys, forCli.daemon.tls_cert_file], [null, null, cert], 'readSecretFiles: false reads the paths, not the files')
  t.match(errorOf(() => load({ STRATAVORE_DAEMON_TLS_CERT_FILE: cert }, { readSecretFiles: false })), /daemon\.tls_key_file: must be set with its twin/, 'and still checks the pairs')
})

t.test('a non-loopback daemon.host needs TLS on both ports, or daemon.allow_insecure_bind', async t => {
  for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) t.ok(isLoopbackHost(host), `${host} is loopback`)
  for (const host of ['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', '::2', 'example.com', 'localhost.example.com', '::ffff:10.0.0.1', '']) t.notOk(isLoopbackHost(host), `${JSON.stringify(host)} is not`)

  const home = configHome(t)
  const dir = tempDir(t)
  for (const name of ['cert.pem', 'key.pem']) writeFileSync(join(dir, name), name)
  const http = { STRATAVORE_DAEMON_TLS_CERT_FILE: join(dir, 'cert.pem'), STRATAVORE_DAEMON_TLS_KEY_FILE: join(dir, 'key.pem') }
  const grpc = { STRATAVORE_DAEMON_GRPC_TLS_CERT_FILE: join(dir, 'cert.pem'), STRATAVORE_DAEMON_GRPC_TLS_KEY_FILE: join(dir, 'key.pem') }
  const check = (vars: Record<string, string>) => errorOf(() => checkListenSecurity(loadConfig({ home, env: { HOME: home, ...vars } })))

  t.equal(check({}), '(no error)', 'the default (127.0.0.1) needs nothing')
  t.equal(check({ STRATAVORE_DAEMON_HOST: '0.0.0.0' }), 'config daemon.host: 0.0.0.0 is not a loopback address and the HTTP and gRPC ports have no TLS; ' +
    'set daemon.tls_cert_file and daemon.tls_key_file, and daemon.grpc_tls_cert_file and daemon.grpc_tls_key_file, or daemon.allow_insecure_bind: true (from config)')
  t.equal(check({ STRATAVORE_DAEMON_HOST: '::', ...http }), 'config daemon.host: :: is not a loopback address and the gRPC port has no TLS; ' +
    'set daemon.grpc_tls_cert_file and daemon.grpc_tls_key_file, or daemon.allow_insecure_bind: true (from config)')
  t.match(check({ STRATAVORE_DAEMON_HOST: '10.0.0.5', ...grpc }), /the HTTP port has no TLS; set daemon\.tls_cert_file and daemon\.tls_key_file, or/)
  t.equal(check({ STRATAVORE_DAEMON_HOST: '0.0.0.0', ...http, ...grpc }), '(no error)', 'TLS on both ports')
  t.equal(check({ STRATAVORE_DAEMON_HOST: '0.0.0.0', STRATAVORE_DAEMON_ALLOW_INSECURE_BIND: 'true' }), '(no error)', 'or the explicit opt-out')
})
