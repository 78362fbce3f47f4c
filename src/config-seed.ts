// The original Go system's example config (test/fixtures/seed-stratavore.yaml) must load as
// written. Its keys this daemon has no use for are accepted while they ask for nothing (an
// empty token, `enabled: false`) and listed in Config.ignoredKeys, which the daemon logs at
// start; asking for something this daemon does not do stops it with the key named, as an
// unknown key does. Keys that moved are honoured under their new name.
import { configError, describe } from './config-error.js'

export type SeedOutcome =
  | { kind: 'ignored', why: string, path?: string }
  | { kind: 'renamed', to: string, value: unknown }

type SeedRule = (value: unknown, path: string, source: string) => SeedOutcome[]

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
// From the environment every value is a string: "false" asks for nothing either.
const isOff = (v: unknown) => v === undefined || v === null || v === false || v === 0 || (typeof v === 'string' && /^(|false|0|no|off)$/i.test(v.trim()))

const ignored = (why: string): SeedRule => () => [{ kind: 'ignored', why }]

/** Accepted while every named field is off; a field that asks for something is refused. */
const whileOff = (fields: string[] | null, refusal: string, why: string): SeedRule => (value, path, source) => {
  if (fields === null) {
    if (!isOff(value)) throw configError(path, `${refusal}, got ${describe(value)}`, source)
    return [{ kind: 'ignored', why }]
  }
  if (!isMapping(value) && !isOff(value)) throw configError(path, 'must be a mapping', source)
  for (const field of fields) {
    const v = isMapping(value) ? value[field] : undefined
    if (!isOff(v)) throw configError(`${path}.${field}`, `${refusal}, got ${describe(v)}`, source)
  }
  return [{ kind: 'ignored', why }]
}

const renamed = (to: string, convert: (v: unknown) => unknown = v => v): SeedRule => value =>
  [{ kind: 'renamed', to, value: typeof value === 'number' ? convert(value) : value }]

const NOT_BUILT_IN = 'is a key of the original Go system that this daemon does not implement'

export const SEED_KEYS: Record<string, SeedRule> = {
  'database.postgresql.min_conns': ignored('connections open on demand; database.postgresql.max_conns caps the pool'),
  'database.sqlite': ignored('the Go system never used it; the embedded database is PGlite in daemon.data_dir'),
  'docker.api_gateway': whileOff(['enabled'], `${NOT_BUILT_IN} (no API gateway)`, 'no API gateway integration'),
  'docker.telegram': whileOff(['token', 'chat_id'], `${NOT_BUILT_IN}: alerts go through Prometheus rules and Alertmanager`, 'no Telegram notifier'),
  'docker.ntfy': ignored('deprecated in the Go system and unused there'),
  'docker.qdrant': whileOff(['enabled'], `${NOT_BUILT_IN} (no knowledge index)`, 'no vector store'),
  'docker.prometheus.path': (value, path, source) => {
    if (value !== '/metrics') throw configError(path, `metrics are served at /metrics only, got ${describe(value)}`, source)
    return [{ kind: 'ignored', why: 'always /metrics' }]
  },
  'daemon.outbox_poll_interval_seconds': renamed('relay.poll_interval_ms', v => (v as number) * 1000),
  'observability.tracing_enabled': whileOff(null, `${NOT_BUILT_IN} (no tracing)`, 'no tracing'),
  'security.enable_mtls': whileOff(null, 'use daemon.grpc_client_ca_file with daemon.grpc_tls_cert_file and daemon.grpc_tls_key_file for mTLS', 'mTLS is set by daemon.grpc_client_ca_file'),
  'security.cert_file': whileOff(null, 'use daemon.grpc_tls_cert_file (gRPC port) or daemon.tls_cert_file (HTTP port)', 'TLS is set under daemon'),
  'security.key_file': whileOff(null, 'use daemon.grpc_tls_key_file (gRPC port) or daemon.tls_key_file (HTTP port)', 'TLS is set under daemon'),
  'security.ca_file': whileOff(null, 'use daemon.grpc_client_ca_file', 'TLS is set under daemon'),
  'security.token_secret_path': whileOff(null, 'API tokens are made with `stratavore token create`; nodes join with a join token', 'unused'),
  'security.join_token_ttl_seconds': ignored('a join token\'s lifetime is given when it is made'),
  'security.auth_secret': whileOff(null, 'every caller already needs a token (README, Security); make them with `stratavore token create`', 'authentication is always on'),
  'security.rate_limit': (value, path, source) => {
    if (!isMapping(value)) throw configError(path, 'must be a mapping', source)
    const outcomes: SeedOutcome[] = []
    for (const [key, v] of Object.entries(value)) {
      if (key === 'requests_per_minute') outcomes.push({ kind: 'renamed', to: 'security.rate_limit_per_minute', value: v })
      else if (key === 'burst') outcomes.push({ kind: 'ignored', path: `${path}.burst`, why: 'the limit is per minute, with no separate burst' })
      else throw configError(`${path}.${key}`, 'is not a known key', source)
    }
    return outcomes
  },
}

/** The variables the Go system's upstream bound for these keys: the rule's path, and the field of a section. */
export const SEED_VARIABLES: ReadonlyMap<string, [path: string, field: string | null]> = new Map([
  ['STRATAVORE_DOCKER_TELEGRAM_TOKEN', ['docker.telegram', 'token']],
  ['STRATAVORE_DOCKER_TELEGRAM_CHAT_ID', ['docker.telegram', 'chat_id']],
  ['STRATAVORE_SECURITY_AUTH_SECRET', ['security.auth_secret', null]],
])
