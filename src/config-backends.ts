// Which database and which bus a config asks for. The original Go system's config has no
// `database.driver` and no `docker.rabbitmq.enabled`: a `database.postgresql` section with a
// host meant Postgres, a `docker.rabbitmq` section meant RabbitMQ. Both readings hold here, so
// its example config runs as written; where a config could mean either, or says both, the
// daemon stops with one line that says what to add or remove, rather than guess.
import { configError } from './config-error.js'
import type { Settings } from './config.js'

/** Which keys (and sections) the file or the environment set; defaults are not in it. */
export type ExplicitKeys = ReadonlySet<string>

// The rabbitmq keys that say where a broker is (exchange and publisher_confirms do not).
const BROKER_KEYS = ['host', 'port', 'user', 'password', 'password_file', 'vhost'].map(k => `docker.rabbitmq.${k}`)

const setUnder = (explicit: ExplicitKeys, section: string) => [...explicit].filter(k => k.startsWith(`${section}.`))

const checkUrl = (name: string, value: string, protocol: RegExp): string => {
  let url: URL
  try { url = new URL(value) } catch { throw configError(name, 'is not a URL', name) }
  if (!protocol.test(url.protocol)) throw configError(name, `has the wrong scheme ${url.protocol}`, name)
  return value
}

// Credentials alone name no server (they often come apart from the rest, from a secrets file or
// the environment): they neither choose a backend nor make a section ambiguous.
const CREDENTIALS = /\.(password|password_file)$/
const choosing = (explicit: ExplicitKeys, section: string) => setUnder(explicit, section).filter(k => !CREDENTIALS.test(k))

const wantsPostgres = (s: Settings, explicit: ExplicitKeys, env: NodeJS.ProcessEnv, source: string): boolean => {
  const postgresKeys = setUnder(explicit, 'database.postgresql')
  if (explicit.has('database.driver') && s.database.driver === 'pglite') {
    if (env.DATABASE_URL) throw configError('database.driver', 'is pglite (the embedded database), but DATABASE_URL names a Postgres; remove one of them', source)
    if (postgresKeys.length > 0) {
      throw configError(postgresKeys.sort()[0]!, 'is a Postgres setting, but database.driver is pglite (the embedded database); remove one of them', source)
    }
    return false
  }
  if (env.DATABASE_URL || s.database.driver === 'postgres') return true
  if (explicit.has('database.postgresql.host')) return true
  if (choosing(explicit, 'database.postgresql').length === 0) return false
  throw configError('database.postgresql', 'has no host; add database.postgresql.host to use that Postgres, ' +
    'or database.driver: pglite to keep the embedded database', source)
}

export const databaseUrlOf = (s: Settings, explicit: ExplicitKeys, env: NodeJS.ProcessEnv, source: string): string | null => {
  if (!wantsPostgres(s, explicit, env, source)) return null
  if (env.DATABASE_URL) return checkUrl('DATABASE_URL', env.DATABASE_URL, /^postgres(ql)?:$/)
  const pg = s.database.postgresql
  const auth = `${encodeURIComponent(pg.user)}${pg.password ? `:${encodeURIComponent(pg.password)}` : ''}`
  return `postgres://${auth}@${pg.host}:${pg.port}/${encodeURIComponent(pg.database)}?sslmode=${pg.sslmode}`
}

const wantsRabbitmq = (s: Settings, explicit: ExplicitKeys, env: NodeJS.ProcessEnv, source: string): boolean => {
  const mq = s.docker.rabbitmq
  if (explicit.has('docker.rabbitmq.enabled') && !mq.enabled) {
    if (env.AMQP_URL) throw configError('docker.rabbitmq.enabled', 'is false (the in-process bus), but AMQP_URL names a RabbitMQ; remove one of them', source)
    const broker = BROKER_KEYS.filter(k => explicit.has(k))
    if (broker.length > 0) throw configError(broker[0]!, 'is a RabbitMQ setting, but docker.rabbitmq.enabled is false (the in-process bus); remove one of them', source)
    return false
  }
  if (env.AMQP_URL || mq.enabled) return true
  if (explicit.has('docker.rabbitmq.host')) return true
  if (choosing(explicit, 'docker.rabbitmq').length === 0) return false
  throw configError('docker.rabbitmq', 'has no host; add docker.rabbitmq.host to use that RabbitMQ, ' +
    'or docker.rabbitmq.enabled: false to keep the in-process bus', source)
}

export const amqpUrlOf = (s: Settings, explicit: ExplicitKeys, env: NodeJS.ProcessEnv, source: string): string | null => {
  // Every outbox row is marked delivered on the broker's confirm, and only then: without
  // confirms nothing could ever be marked, so the value that asks for it is refused.
  if (!s.docker.rabbitmq.publisher_confirms) {
    throw configError('docker.rabbitmq.publisher_confirms', 'false is not supported: the relay marks an event delivered only when ' +
      'the broker confirms it, so without confirms no event would ever leave the outbox; remove the key or set it to true', source)
  }
  if (!wantsRabbitmq(s, explicit, env, source)) return null
  if (env.AMQP_URL) return checkUrl('AMQP_URL', env.AMQP_URL, /^amqps?:$/)
  const mq = s.docker.rabbitmq
  return `amqp://${encodeURIComponent(mq.user)}:${encodeURIComponent(mq.password)}@${mq.host}:${mq.port}/${encodeURIComponent(mq.vhost)}`
}
