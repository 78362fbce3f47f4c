// The only reader of configuration files and environment variables. Order of precedence:
// defaults < YAML file (--config, else ~/.config/stratavore/stratavore.yaml, else
// /etc/stratavore/stratavore.yaml) < STRATAVORE_* variables < DATABASE_URL, AMQP_URL and
// STRATAVORE_DATA_DIR. Any bad key or value throws one AppError whose message names the key;
// so does a STRATAVORE_<SECTION>_* variable that names no key.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { parseAgents, type AgentConfig } from './config-agents.js'
import { parseWebhooks, redactedWebhooks } from './config-notifications.js'
import type { Webhook } from './core/notifications/webhook.js'
import { amqpUrlOf, databaseUrlOf } from './config-backends.js'
import { configError, describe } from './config-error.js'
import { SEED_KEYS, SEED_VARIABLES } from './config-seed.js'
import {
  CONFIG_SPEC, ENV_KEYS, ENV_SECTION_PREFIXES, SECRET_FILE_TWINS, closestEnvName, envNameOf, isLeaf, leaves, type Leaf, type SpecTree,
} from './config-spec.js'
import { auditKeyProblem, parseAuditKeys, type AuditKey } from './core/audit/audit-keys.js'
import type { ProtectedPath } from './core/projects/project-placement.js'
import { inheritedEnvironment } from './core/supervisor/agent-environment.js'

export type { AgentConfig, RunAs } from './config-agents.js'

type LeafValue<L> = L extends { type: 'int' } ? number : L extends { type: 'bool' } ? boolean : L extends { type: 'list' } ? string[] : string
type Values<T> = { [K in keyof T]: T[K] extends Leaf ? LeafValue<T[K]> : Values<T[K]> }
export type Settings = Values<typeof CONFIG_SPEC>

export interface Config extends Settings {
  /** The file that was read, or null when none exists. */
  configFile: string | null
  /** Keys of the original Go system's config that were accepted and do nothing here, with why (config-seed.ts). */
  ignoredKeys: Array<{ key: string, why: string }>
  dataDir: string
  /** The admin token's file: security.admin_token_file, else `<dataDir>/admin.token` (created on first start). */
  adminTokenFile: string
  databaseUrl: string | null
  amqpUrl: string | null
  agents: Record<string, AgentConfig>
  /** notifications.webhooks (the file only), checked: every request's target, with its patterns and secret. */
  webhooks: Webhook[]
  /**
   * The audit log's keys, the signing key first, from security.audit_key_file or
   * security.audit_key; null when neither is set (the daemon then uses `<dataDir>/audit.key`).
   */
  auditKeys: AuditKey[] | null
  /**
   * What agents inherit from the daemon's environment: everything but the daemon's own settings
   * and credentials (STRATAVORE_*, DATABASE_URL, AMQP_URL, PG*) and any variable whose value
   * holds one of `daemonSecrets` (core/supervisor/agent-environment.ts).
   */
  agentEnvironment: Record<string, string>
  /** Every credential the config holds (passwords, tokens, keys, URLs with them), to keep from agents. */
  daemonSecrets: string[]
  /** security.project_roots, absolute; the daemon user's home when the key is empty. */
  projectRoots: string[]
  /** What no project may be, lie in or contain: the data dir, the config file, every secret file named. */
  protectedPaths: ProtectedPath[]
  /** PEM certificate chain and key for the HTTP port, from daemon.tls_*_file; null for plain HTTP. */
  httpTls: { cert: string, key: string } | null
  /**
   * PEM certificate chain and key for the gRPC port, from daemon.grpc_tls_*_file (null for
   * cleartext h2c), and the CA that must have signed a client's certificate (mTLS) or null.
   */
  grpcTls: { cert: string, key: string, clientCa: string | null } | null
}

export interface LoadOptions {
  configPath?: string
  env?: NodeJS.ProcessEnv
  home?: string
  /**
   * false: leave the files that hold secrets unread (`*_file` twins, the audit key file, TLS
   * files), and auditKeys, httpTls and grpcTls null. The CLI reads the daemon's config only to
   * find it, and may not be allowed to read the daemon's keys.
   */
  readSecretFiles?: boolean
}

export { configError } from './config-error.js'

const coerce = (path: string, leaf: Leaf, raw: unknown, source: string, fromEnv: boolean): unknown => {
  const fail = (problem: string) => configError(path, `${problem}, got ${describe(raw)}`, source)
  switch (leaf.type) {
    case 'string': {
      if (typeof raw !== 'string' && !(typeof raw === 'number' && !leaf.secret)) throw fail('must be a string')
      const value = String(raw)
      if (value.includes('\u0000')) throw fail('must not contain NUL')
      if (leaf.pattern && value !== '' && !leaf.pattern.test(value)) throw fail(`must match ${leaf.pattern}`)
      return value
    }
    case 'int': {
      const n = typeof raw === 'string' && fromEnv && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw
      if (typeof n !== 'number' || !Number.isInteger(n) || n < leaf.min || n > leaf.max) throw fail(`must be an integer from ${leaf.min} to ${leaf.max}`)
      return n
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw
      if (fromEnv && typeof raw === 'string') {
        if (/^(true|1|yes|on)$/i.test(raw)) return true
        if (/^(false|0|no|off)$/i.test(raw)) return false
      }
      throw fail('must be true or false')
    }
    case 'enum':
      if (typeof raw !== 'string' || !leaf.values.includes(raw)) throw fail(`must be one of ${leaf.values.join(', ')}`)
      return raw
    case 'list': {
      const items = fromEnv && typeof raw === 'string' ? raw.split(',').map(s => s.trim()).filter(Boolean) : raw
      if (!Array.isArray(items) || !items.every(i => typeof i === 'string')) throw fail('must be a list of strings')
      const bad = leaf.pattern ? items.find(i => !leaf.pattern!.test(i)) : undefined
      if (bad !== undefined) throw configError(path, `item ${describe(bad)} must match ${leaf.pattern}`, source)
      return items
    }
  }
}

const setPath = (target: Record<string, unknown>, path: string, value: unknown) => {
  const keys = path.split('.')
  let node = target
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>
  node[keys.at(-1)!] = value
}

interface FileState {
  settings: Record<string, unknown>
  /** Every key and section the file set, by dotted path. */
  explicit: Set<string>
  ignored: Array<{ key: string, why: string }>
  /** New key → the old key that set it. */
  renamed: Map<string, string>
  source: string
}

const leafAt = (path: string): Leaf | undefined => leaves().find(([p]) => p === path)?.[1]

/** A key of the original Go system's config (config-seed.ts): honoured under its new name, or ignored, or refused. */
const applySeedKey = (state: FileState, path: string, value: unknown, source = state.source): boolean => {
  const rule = SEED_KEYS[path]
  if (!rule) return false
  for (const outcome of rule(value, path, source)) {
    if (outcome.kind === 'ignored') {
      state.ignored.push({ key: outcome.path ?? path, why: outcome.why })
      continue
    }
    if (state.explicit.has(outcome.to)) throw configError(path, `is the old name of ${outcome.to}, which is set too; keep one`, source)
    setPath(state.settings, outcome.to, coerce(outcome.to, leafAt(outcome.to)!, outcome.value, source, false))
    state.explicit.add(outcome.to)
    state.renamed.set(outcome.to, path)
  }
  return true
}

/** Walks the YAML document against the spec; unknown keys are errors, `agents` is checked apart. */
const applyFile = (state: FileState, doc: unknown, spec: SpecTree, prefix: string) => {
  if (doc === null || doc === undefined) return
  if (typeof doc !== 'object' || Array.isArray(doc)) throw configError(prefix.slice(0, -1) || '(root)', 'must be a mapping', state.source)
  for (const [key, value] of Object.entries(doc)) {
    const path = `${prefix}${key}`
    if (path === 'agents' || path === 'notifications.webhooks') continue
    const node = spec[key]
    if (!node) {
      if (applySeedKey(state, path, value)) continue
      throw configError(path, 'is not a known key', state.source)
    }
    const old = state.renamed.get(path)
    if (old) throw configError(old, `is the old name of ${path}, which is set too; keep one`, state.source)
    state.explicit.add(path)
    if (isLeaf(node)) setPath(state.settings, path, coerce(path, node, value, state.source, false))
    else applyFile(state, value, node, `${path}.`)
  }
}

const expandHome = (path: string, home: string) => path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path

const readSecretFile = (key: string, path: string, home: string): string => {
  try {
    return readFileSync(expandHome(path, home), 'utf8').replace(/\r?\n$/, '')
  } catch (err) {
    throw configError(key, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 'file')
  }
}

// Environment variables are matched against the keys, so a misspelt one would do nothing at
// all: in a section's namespace it stops the daemon instead, as an unknown YAML key does.
const checkVariableNames = (env: NodeJS.ProcessEnv) => {
  for (const name of Object.keys(env)) {
    if (ENV_KEYS.has(name) || SEED_VARIABLES.has(name) || !ENV_SECTION_PREFIXES.some(prefix => name.startsWith(prefix))) continue
    if (name.startsWith(envNameOf('agents'))) throw configError(name, 'agents are set in the config file only', 'environment')
    if (name.startsWith(envNameOf('notifications.webhooks'))) throw configError(name, 'notifications.webhooks are set in the config file only', 'environment')
    const close = closestEnvName(name)
    throw configError(name, `is not a known key${close ? `; did you mean ${close} (${ENV_KEYS.get(close)})?` : ''}`, 'environment')
  }
}

const getPath = (obj: Record<string, unknown>, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], obj)

export const loadConfig = ({ configPath, env = process.env, home = env.HOME || homedir(), readSecretFiles = true }: LoadOptions = {}): Config => {
  const settings: Record<string, unknown> = {}
  for (const [path, leaf] of leaves()) setPath(settings, path, structuredClone(leaf.default))

  const candidates = configPath
    ? [resolve(configPath)]
    : [join(home, '.config/stratavore/stratavore.yaml'), '/etc/stratavore/stratavore.yaml']
  const configFile = candidates.find(p => existsSync(p)) ?? null
  if (configPath && !configFile) throw configError('--config', `file not found: ${configPath}`, 'command line')

  let agentsRaw: unknown
  let webhooksRaw: unknown
  const state: FileState = { settings, explicit: new Set(), ignored: [], renamed: new Map(), source: configFile ?? 'defaults' }
  if (configFile) {
    let doc: unknown
    try {
      doc = parseYaml(readFileSync(configFile, 'utf8'))
    } catch (err) {
      throw configError('(file)', `cannot parse ${configFile}: ${(err as Error).message.split('\n')[0]}`, configFile)
    }
    applyFile(state, doc, CONFIG_SPEC, '')
    agentsRaw = (doc as Record<string, unknown> | null)?.agents
    webhooksRaw = ((doc as Record<string, unknown> | null)?.notifications as Record<string, unknown> | undefined)?.webhooks
  }

  checkVariableNames(env)
  for (const [path, leaf] of leaves()) {
    const name = envNameOf(path)
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    setPath(settings, path, coerce(path, leaf, raw, name, true))
    // The key and the sections above it count as set, as they would in the file.
    path.split('.').forEach((_, i, keys) => state.explicit.add(keys.slice(0, i + 1).join('.')))
  }
  for (const [name, [path, field]] of SEED_VARIABLES) {
    const raw = env[name]
    if (raw) applySeedKey(state, path, field ? { [field]: raw } : raw, name)
  }
  for (const [secretPath, filePath] of SECRET_FILE_TWINS) {
    const file = getPath(settings, filePath) as string
    if (file && readSecretFiles) setPath(settings, secretPath, readSecretFile(filePath, file, home))
  }

  const s = settings as unknown as Settings
  const dataDirRaw = env.STRATAVORE_DATA_DIR || s.daemon.data_dir
  const dataDir = resolve(expandHome(dataDirRaw, home))
  if (!isAbsolute(dataDir)) throw configError('daemon.data_dir', 'must be an absolute path', 'STRATAVORE_DATA_DIR')

  if (!isTimeZone(s.budgets.timezone)) throw configError('budgets.timezone', `is not a known time zone: ${s.budgets.timezone}`, configFile ?? 'defaults')
  if (s.supervisor.on_shutdown === 'keep' && !s.supervisor.shim) {
    throw configError('supervisor.on_shutdown', 'keep needs supervisor.shim: true (without shims the agents end with the supervisor)', configFile ?? 'defaults')
  }
  const agents = parseAgents(agentsRaw, configFile ?? 'defaults')
  const webhooks = parseWebhooks(webhooksRaw, configFile ?? 'defaults')
  if (s.notifications.retry_cap_ms < s.notifications.retry_base_ms) {
    throw configError('notifications.retry_cap_ms', `must be at least notifications.retry_base_ms (${s.notifications.retry_base_ms})`, configFile ?? 'defaults')
  }
  if (!agents[s.defaults.agent]) throw configError('defaults.agent', `names no configured agent: ${s.defaults.agent}`, configFile ?? 'defaults')

  const databaseUrl = databaseUrlOf(s, state.explicit, env, state.source)
  const amqpUrl = amqpUrlOf(s, state.explicit, env, state.source)
  const auditKeys = readSecretFiles ? auditKeysOf(s, home) : null
  const httpTls = tlsPairOf(s, 'tls', home, readSecretFiles)
  const grpcTls = grpcTlsOf(s, home, readSecretFiles)
  const daemonSecrets = [
    ...leaves().filter(([, leaf]) => leaf.type === 'string' && leaf.secret).map(([path]) => getPath(settings, path) as string),
    databaseUrl ?? '', amqpUrl ?? '', httpTls?.key ?? '', grpcTls?.key ?? '', ...(auditKeys ?? []).map(k => k.secret),
    ...webhooks.map(w => w.secret ?? ''),
  ].filter(Boolean)

  return {
    ...s,
    configFile,
    ignoredKeys: state.ignored,
    dataDir,
    adminTokenFile: s.security.admin_token_file ? resolve(expandHome(s.security.admin_token_file, home)) : join(dataDir, 'admin.token'),
    databaseUrl,
    amqpUrl,
    agents,
    webhooks,
    auditKeys,
    httpTls,
    grpcTls,
    agentEnvironment: inheritedEnvironment(env, daemonSecrets),
    daemonSecrets,
    projectRoots: projectRootsOf(s, home),
    protectedPaths: protectedPathsOf(s, dataDir, configFile, home),
  }
}

const isTimeZone = (zone: string) => {
  try { new Intl.DateTimeFormat('en', { timeZone: zone }); return true } catch { return false }
}

const projectRootsOf = (s: Settings, home: string): string[] => {
  const roots = s.security.project_roots.length > 0 ? s.security.project_roots : [home]
  return roots.map(root => resolve(expandHome(root, home)))
}

// The data dir holds the node credential, the generated audit key and PGlite's files; the
// config file may hold inline secrets; every `*_file` key names a credential (or a TLS cert).
const protectedPathsOf = (s: Settings, dataDir: string, configFile: string | null, home: string) => [
  { path: dataDir, what: "the daemon's data directory" },
  ...(configFile ? [{ path: configFile, what: "the daemon's config file" }] : []),
  ...leaves().filter(([path]) => path.endsWith('_file'))
    .map(([path]) => [path, getPath(s as unknown as Record<string, unknown>, path) as string] as const)
    .filter(([, file]) => file !== '')
    .map(([path, file]) => ({ path: resolve(expandHome(file, home)), what: `the file named by ${path}` })),
]

/** daemon.<prefix>_cert_file and _key_file, both or neither. */
const tlsPairOf = (s: Settings, prefix: 'tls' | 'grpc_tls', home: string, read: boolean): { cert: string, key: string } | null => {
  const [certKey, keyKey] = [`${prefix}_cert_file`, `${prefix}_key_file`] as const
  const [certFile, keyFile] = [s.daemon[certKey], s.daemon[keyKey]]
  if (!certFile && !keyFile) return null
  if (!certFile || !keyFile) throw configError(`daemon.${certFile ? keyKey : certKey}`, 'must be set with its twin (TLS needs a certificate and a key)', 'config')
  if (!read) return null
  return { cert: readSecretFile(`daemon.${certKey}`, certFile, home), key: readSecretFile(`daemon.${keyKey}`, keyFile, home) }
}

const grpcTlsOf = (s: Settings, home: string, read: boolean): Config['grpcTls'] => {
  const caFile = s.daemon.grpc_client_ca_file
  if (caFile && !s.daemon.grpc_tls_cert_file) {
    throw configError('daemon.grpc_client_ca_file', 'needs daemon.grpc_tls_cert_file and daemon.grpc_tls_key_file (client certificates ride on TLS)', 'config')
  }
  const pair = tlsPairOf(s, 'grpc_tls', home, read)
  return pair && { ...pair, clientCa: caFile ? readSecretFile('daemon.grpc_client_ca_file', caFile, home) : null }
}

// The file wins over the inline key, as every `_file` twin does.
const auditKeysOf = (s: Settings, home: string): AuditKey[] | null => {
  const { audit_key_file: file, audit_key: secret, audit_key_id: id } = s.security
  if (file) {
    const text = readSecretFile('security.audit_key_file', file, home)
    try { return parseAuditKeys(text) } catch (err) { throw configError('security.audit_key_file', (err as Error).message, file) }
  }
  if (!secret) return null
  const problem = auditKeyProblem({ id, secret })
  if (problem) throw configError('security.audit_key', problem, 'config')
  return [{ id, secret }]
}

/** The config with secrets replaced, for logs and diagnostics. */
export const redactedConfig = (config: Config) => ({
  ...config,
  databaseUrl: config.databaseUrl?.replace(/:[^:@/]*@/, ':***@') ?? null,
  amqpUrl: config.amqpUrl?.replace(/:[^:@/]*@/, ':***@') ?? null,
  database: { ...config.database, postgresql: { ...config.database.postgresql, password: '***' } },
  docker: { ...config.docker, rabbitmq: { ...config.docker.rabbitmq, password: '***' } },
  github: { ...config.github, token: config.github.token ? '***' : '' },
  security: { ...config.security, audit_key: config.security.audit_key ? '***' : '' },
  daemonSecrets: config.daemonSecrets.map(() => '***'),
  webhooks: redactedWebhooks(config.webhooks),
  auditKeys: config.auditKeys?.map(k => ({ id: k.id, secret: '***' })) ?? null,
  httpTls: config.httpTls ? { cert: config.httpTls.cert, key: '***' } : null,
  grpcTls: config.grpcTls ? { ...config.grpcTls, key: '***' } : null,
})

export type { SpecTree }
