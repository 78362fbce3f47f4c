import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig, redactedConfig } from '../src/config.js'
import { tempDir } from './helpers/app.js'

const setup = (t: Parameters<typeof tempDir>[0], yaml?: string) => {
  const home = tempDir(t, 'stv-config-')
  if (yaml !== undefined) {
    mkdirSync(join(home, '.config/stratavore'), { recursive: true })
    writeFileSync(join(home, '.config/stratavore/stratavore.yaml'), yaml)
  }
  return home
}

const errorOf = (fn: () => unknown): string => {
  try { fn() } catch (err) { return (err as Error).message }
  return '(no error)'
}

t.test('defaults: embedded database, loopback, the seed keys', async t => {
  const home = setup(t)
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
  const home = setup(t, [
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
  const home = setup(t, 'daemon:\n  http_port: 9000\n')
  const dir = tempDir(t)
  writeFileSync(join(dir, 'pw'), 's3cret\n')
  writeFileSync(join(dir, 'c.yaml'), `database:\n  driver: postgres\n  postgresql:\n    host: db.internal\n    password_file: ${join(dir, 'pw')}\n`)
  const c = loadConfig({ configPath: join(dir, 'c.yaml'), home, env: { HOME: home } })
  t.equal(c.daemon.http_port, 8080)
  t.equal(c.database.postgresql.password, 's3cret')
  t.equal(c.databaseUrl, 'postgres://stratavore:s3cret@db.internal:5432/stratavore?sslmode=prefer')
})

t.test('a bad file or value names the key', async t => {
  const home = setup(t)
  const env = { HOME: home }
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['non-numeric port from env', () => loadConfig({ home, env: { ...env, STRATAVORE_DAEMON_HTTP_PORT: 'eighty' } }), /daemon\.http_port.*integer.*STRATAVORE_DAEMON_HTTP_PORT/],
    ['port out of range', () => loadConfig({ home, env: { ...env, STRATAVORE_DAEMON_HTTP_PORT: '70000' } }), /daemon\.http_port/],
    ['bad boolean', () => loadConfig({ home, env: { ...env, STRATAVORE_DOCKER_PROMETHEUS_ENABLED: 'maybe' } }), /docker\.prometheus\.enabled.*true or false/],
    ['bad enum', () => loadConfig({ home, env: { ...env, STRATAVORE_OBSERVABILITY_LOG_LEVEL: 'loud' } }), /observability\.log_level.*one of/],
    ['missing --config file', () => loadConfig({ home, env, configPath: '/nonexistent/s.yaml' }), /--config.*not found/],
    ['bad DATABASE_URL', () => loadConfig({ home, env: { ...env, DATABASE_URL: 'mysql://x' } }), /DATABASE_URL.*scheme/],
    ['unreadable password_file', () => loadConfig({ home, env: { ...env, STRATAVORE_DATABASE_POSTGRESQL_PASSWORD_FILE: '/nonexistent/pw' } }), /database\.postgresql\.password_file.*cannot read/],
  ]
  for (const [name, fn, expected] of cases) t.match(errorOf(fn), expected, name)

  const withFile = (yaml: string) => { const h = setup(t, yaml); return errorOf(() => loadConfig({ home: h, env: { HOME: h } })) }
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
