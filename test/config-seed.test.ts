// The original Go system's example config loads as written, and the choice of database and bus
// is never a guess. test/fixtures/seed-stratavore.yaml is configs/stratavore.yaml of
// LunarLaurus/Stratavore (the v1.4 line), byte for byte.
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { configHome, errorOf } from './helpers/config.js'

const SEED = fileURLToPath(new URL('./fixtures/seed-stratavore.yaml', import.meta.url))

const load = (t: Parameters<typeof configHome>[0], yaml: string, env: Record<string, string> = {}) => {
  const home = configHome(t, yaml)
  return loadConfig({ home, env: { HOME: home, ...env } })
}
const failure = (t: Parameters<typeof configHome>[0], yaml: string, env: Record<string, string> = {}) => errorOf(() => load(t, yaml, env))

t.test("the seed's example config, verbatim: Postgres and RabbitMQ, its moved keys honoured, the rest listed as ignored", async t => {
  const home = configHome(t)
  copyFileSync(SEED, join(home, 'seed.yaml'))
  const c = loadConfig({ configPath: join(home, 'seed.yaml'), home, env: { HOME: home } })
  t.equal(c.databaseUrl, 'postgres://stratavore:stratavore_password@localhost:5432/stratavore_state?sslmode=prefer', 'a postgresql section with a host is Postgres')
  t.equal(c.amqpUrl, 'amqp://guest:guest@localhost:5672/%2F', 'a rabbitmq section with a host is RabbitMQ')
  t.equal(c.database.postgresql.max_conns, 25)
  t.equal(c.relay.poll_interval_ms, 2000, 'daemon.outbox_poll_interval_seconds: 2 is relay.poll_interval_ms 2000')
  t.equal(c.security.rate_limit_per_minute, 300, 'security.rate_limit.requests_per_minute is security.rate_limit_per_minute')
  t.match(c.daemon, { http_port: 8080, grpc_port: 50051, heartbeat_interval_seconds: 10, reconcile_interval_seconds: 30, shutdown_timeout_seconds: 30 })
  t.equal(c.dataDir, join(home, '.local/share/stratavore'))
  t.same(c.ignoredKeys.map(k => k.key).sort(), [
    'database.postgresql.min_conns', 'database.sqlite', 'docker.api_gateway', 'docker.ntfy', 'docker.prometheus.path',
    'docker.qdrant', 'docker.telegram', 'observability.tracing_enabled', 'security.auth_secret', 'security.ca_file', 'security.cert_file',
    'security.enable_mtls', 'security.join_token_ttl_seconds', 'security.key_file', 'security.rate_limit.burst', 'security.token_secret_path',
  ], 'every key that does nothing is listed, with why')
  t.ok(c.ignoredKeys.every(k => k.why.length > 0))
})

t.test('a seed key that asks for something this daemon does not do stops it, naming the key', async t => {
  const cases: Array<[string, RegExp]> = [
    ['docker:\n  telegram:\n    token: "bot1:abc"\n    chat_id: "42"\n', /^config docker\.telegram\.token: .*Alertmanager/],
    ['security:\n  enable_mtls: true\n', /^config security\.enable_mtls: use daemon\.grpc_client_ca_file/],
    ['security:\n  auth_secret: s3cret\n', /^config security\.auth_secret: every caller already needs a token/],
    ['docker:\n  prometheus:\n    path: /stats\n', /^config docker\.prometheus\.path: metrics are served at \/metrics only/],
    ['docker:\n  qdrant:\n    enabled: true\n', /^config docker\.qdrant\.enabled: /],
    ['security:\n  rate_limit:\n    per_hour: 5\n', /^config security\.rate_limit\.per_hour: is not a known key/],
    ['daemon:\n  outbox_poll_interval_seconds: 2\nrelay:\n  poll_interval_ms: 500\n', /^config daemon\.outbox_poll_interval_seconds: is the old name of relay\.poll_interval_ms, which is set too/],
  ]
  t.match(failure(t, '', { STRATAVORE_SECURITY_AUTH_SECRET: 's3cret' }), /^config security\.auth_secret: every caller already needs a token .*\(from STRATAVORE_SECURITY_AUTH_SECRET\)$/,
    "the variables the Go system's upstream bound follow the same rules")
  t.same(load(t, '', { STRATAVORE_DOCKER_TELEGRAM_TOKEN: '', STRATAVORE_DOCKER_TELEGRAM_CHAT_ID: '' }).ignoredKeys, [], 'empty, they ask for nothing')
  for (const [yaml, expected] of cases) {
    const message = failure(t, yaml)
    t.match(message, expected, yaml)
    t.notMatch(message, /\n/, 'one line')
  }
})

t.test('which database: a host means Postgres; no host, or both kinds of settings, is one line saying what to change', async t => {
  t.equal(load(t, 'database:\n  postgresql:\n    host: db.internal\n').databaseUrl, 'postgres://stratavore@db.internal:5432/stratavore?sslmode=prefer')
  t.equal(load(t, '', { STRATAVORE_DATABASE_POSTGRESQL_HOST: 'db.env' }).databaseUrl, 'postgres://stratavore@db.env:5432/stratavore?sslmode=prefer',
    'a host from the environment counts like one in the file')
  t.equal(load(t, 'database:\n  query_timeout_ms: 1000\n').databaseUrl, null, 'a database section without postgresql keeps PGlite')
  t.equal(load(t, 'database:\n  driver: pglite\n').databaseUrl, null)

  t.match(failure(t, 'database:\n  postgresql:\n    port: 5433\n'),
    /^config database\.postgresql: has no host; add database\.postgresql\.host to use that Postgres, or database\.driver: pglite to keep the embedded database/)
  t.match(failure(t, 'database:\n  driver: pglite\n  postgresql:\n    host: db\n'),
    /^config database\.postgresql\.host: is a Postgres setting, but database\.driver is pglite .*; remove one of them/)
  t.match(failure(t, 'database:\n  driver: pglite\n', { DATABASE_URL: 'postgres://db/x' }),
    /^config database\.driver: is pglite .*but DATABASE_URL names a Postgres; remove one of them/)
})

t.test('which bus: a host means RabbitMQ; no host, or both, is one line; publisher_confirms: false is refused with the reason', async t => {
  t.equal(load(t, 'docker:\n  rabbitmq:\n    host: mq\n').amqpUrl, 'amqp://guest:guest@mq:5672/%2F')
  t.equal(load(t, 'docker:\n  rabbitmq:\n    exchange: x\n', { AMQP_URL: 'amqp://mq' }).amqpUrl, 'amqp://mq', 'AMQP_URL decides')
  t.equal(load(t, 'docker:\n  rabbitmq:\n    enabled: false\n').amqpUrl, null)
  t.match(failure(t, 'docker:\n  rabbitmq:\n    exchange: x\n'),
    /^config docker\.rabbitmq: has no host; add docker\.rabbitmq\.host to use that RabbitMQ, or docker\.rabbitmq\.enabled: false to keep the in-process bus/)
  t.match(failure(t, 'docker:\n  rabbitmq:\n    enabled: false\n    host: mq\n'), /^config docker\.rabbitmq\.host: is a RabbitMQ setting, but docker\.rabbitmq\.enabled is false/)
  t.match(failure(t, 'docker:\n  rabbitmq:\n    enabled: false\n', { AMQP_URL: 'amqp://mq' }), /^config docker\.rabbitmq\.enabled: is false .*but AMQP_URL names a RabbitMQ/)
  const refused = failure(t, 'docker:\n  rabbitmq:\n    host: mq\n    publisher_confirms: false\n')
  t.match(refused, /^config docker\.rabbitmq\.publisher_confirms: false is not supported: the relay marks an event delivered only when the broker confirms it/)
  t.match(failure(t, 'docker:\n  rabbitmq:\n    publisher_confirms: false\n    enabled: false\n'), /publisher_confirms: false is not supported/, 'refused whatever the bus')
})
