// The CLI's way to the daemon: the API URL (flag, environment, config file, default), one
// Connect client per service over HTTP/1.1 carrying the credential (credentials.ts), and the
// one-line message for every failure, the daemon being down or the token refused included.
// Nothing here prints, and no message holds the token: only where it came from.
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import type { EventService } from '../gen/stratavore/v1/event_service_pb.js'
import type { ProjectService } from '../gen/stratavore/v1/project_pb.js'
import type { RunnerService } from '../gen/stratavore/v1/runner_pb.js'
import type { SessionService } from '../gen/stratavore/v1/session_pb.js'
import type { SystemService } from '../gen/stratavore/v1/system_pb.js'
import type { TokenService } from '../gen/stratavore/v1/token_pb.js'
import type { NodeService } from '../gen/stratavore/v1/node_pb.js'
import type { BudgetService } from '../gen/stratavore/v1/budget_pb.js'
import { credentialMissing, type Credential } from './credentials.js'
import { CliError, UsageError } from './io.js'

export const DEFAULT_API_URL = 'http://127.0.0.1:8080'
// A unary call that takes longer than this is a stuck daemon, not a slow one.
const UNARY_TIMEOUT_MS = 30_000

// A daemon listening on every address is reached on loopback.
const dialHost = (host: string) => {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

export interface TargetFlags { apiUrl?: string, config?: string, token?: string }
type Config = import('../config.js').Config

/**
 * The config as the daemon would load it (--config or the default files, STRATAVORE_* variables),
 * loaded on the first call and only then: the config module and what it checks cost most of the
 * CLI's start-up, and with --api-url and a token given it is never needed.
 */
export const daemonConfig = (flags: TargetFlags, env: Record<string, string | undefined>): (() => Promise<Config>) => {
  let loaded: Promise<Config> | undefined
  return () => {
    loaded ??= import('../config.js').then(({ loadConfig }) => {
      try {
        // The daemon's key files may be unreadable to this user, and nothing here needs them
        // (the admin token's file is read on its own, by credentials.ts).
        return loadConfig({ env, readSecretFiles: false, ...(flags.config !== undefined ? { configPath: flags.config } : {}) })
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
    })
    return loaded
  }
}

/**
 * --api-url, else STRATAVORE_API_URL, else daemon.host and daemon.http_port as the daemon
 * would load them (--config or the default files, STRATAVORE_DAEMON_* variables; https:// when
 * daemon.tls_cert_file is set), else the default. A self-signed daemon certificate is trusted
 * through NODE_EXTRA_CA_CERTS, which every client in this process (Connect, the attach
 * WebSocket) honours.
 */
export const resolveApiUrl = async (flags: TargetFlags, env: Record<string, string | undefined>, config = daemonConfig(flags, env)): Promise<string> => {
  const explicit = flags.apiUrl ?? (env.STRATAVORE_API_URL || undefined)
  let url: string
  if (explicit !== undefined) url = explicit
  else {
    const { configFile, daemon } = await config()
    const scheme = daemon.tls_cert_file ? 'https' : 'http'
    url = configFile || env.STRATAVORE_DAEMON_HTTP_PORT || env.STRATAVORE_DAEMON_HOST || env.STRATAVORE_DAEMON_TLS_CERT_FILE
      ? `${scheme}://${dialHost(daemon.host)}:${daemon.http_port}`
      : DEFAULT_API_URL
  }
  let parsed: URL
  try { parsed = new URL(url) } catch { throw new UsageError(`--api-url: not a URL: ${url}`) }
  if (!/^https?:$/.test(parsed.protocol)) throw new UsageError(`--api-url: must be http:// or https://, got ${url}`)
  return parsed.toString().replace(/\/$/, '')
}

// Every call carries the credential, streams included.
const bearer = (credential: Credential): Interceptor => next => request => {
  if (credential.token !== null) request.header.set('authorization', `Bearer ${credential.token}`)
  return next(request)
}

// A service's generated module builds its descriptors when imported, which is a good part of a
// command's start-up (bench/cli): a command imports only the services it calls (main.ts).
const SERVICES = {
  projects: () => import('../gen/stratavore/v1/project_pb.js').then(m => m.ProjectService),
  runners: () => import('../gen/stratavore/v1/runner_pb.js').then(m => m.RunnerService),
  sessions: () => import('../gen/stratavore/v1/session_pb.js').then(m => m.SessionService),
  system: () => import('../gen/stratavore/v1/system_pb.js').then(m => m.SystemService),
  events: () => import('../gen/stratavore/v1/event_service_pb.js').then(m => m.EventService),
  tokens: () => import('../gen/stratavore/v1/token_pb.js').then(m => m.TokenService),
  nodes: () => import('../gen/stratavore/v1/node_pb.js').then(m => m.NodeService),
  budgets: () => import('../gen/stratavore/v1/budget_pb.js').then(m => m.BudgetService),
}
export type ServiceName = keyof typeof SERVICES
export const ALL_SERVICES = Object.keys(SERVICES) as ServiceName[]

export interface Api {
  baseUrl: string
  credential: Credential
  projects: Client<typeof ProjectService>
  runners: Client<typeof RunnerService>
  /** The runner service on the transport without a deadline: logs --follow. */
  runnerStreams: Client<typeof RunnerService>
  sessions: Client<typeof SessionService>
  /** The session service on the transport without a deadline: sessions export. */
  sessionStreams: Client<typeof SessionService>
  system: Client<typeof SystemService>
  events: Client<typeof EventService>
  tokens: Client<typeof TokenService>
  nodes: Client<typeof NodeService>
  budgets: Client<typeof BudgetService>
}

/** Clients of the services named (all by default); using another one is a bug, said as such. */
export const createApi = async (baseUrl: string, credential: Credential, services: readonly ServiceName[] = ALL_SERVICES): Promise<Api> => {
  const interceptors = [bearer(credential)]
  const unary = createConnectTransport({ baseUrl, httpVersion: '1.1', defaultTimeoutMs: UNARY_TIMEOUT_MS, interceptors })
  // Streams (events, logs --follow) last as long as the user watches.
  const streaming = createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors })
  const loaded = new Map(await Promise.all(services.map(async name => [name, await SERVICES[name]()] as const)))
  const api = { baseUrl, credential } as Api
  const lazy = <K extends keyof Api>(key: K, name: ServiceName, transport: Transport) => {
    let made: Api[K] | undefined
    Object.defineProperty(api, key, {
      enumerable: true,
      get: () => {
        const service = loaded.get(name)
        if (!service) throw new Error(`internal error: this command did not load the ${name} service (src/cli/main.ts)`)
        return (made ??= createClient(service, transport) as unknown as Api[K])
      },
    })
  }
  lazy('projects', 'projects', unary)
  lazy('runners', 'runners', unary)
  lazy('runnerStreams', 'runners', streaming)
  lazy('sessions', 'sessions', unary)
  lazy('system', 'system', unary)
  lazy('events', 'events', streaming)
  lazy('tokens', 'tokens', unary)
  lazy('sessionStreams', 'sessions', streaming)
  lazy('nodes', 'nodes', unary)
  lazy('budgets', 'budgets', unary)
  return api
}

const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
}

export const daemonDown = (baseUrl: string, reason: string) =>
  `cannot reach the daemon at ${baseUrl} (${reason}); start it with \`npm start\` or \`stratavored\`, or point --api-url at it`

/** The cause's errno code, when the failure is the network's. */
export const networkReason = (err: unknown): string | undefined => {
  const code = ((err as { cause?: { code?: unknown } })?.cause?.code ?? (err as { code?: unknown })?.code)
  return typeof code === 'string' ? UNREACHABLE[code] : undefined
}

// Node's codes for a server certificate it cannot trust.
const UNTRUSTED_CERTIFICATE = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|ERR_TLS_CERT_ALTNAME_INVALID|CERT_HAS_EXPIRED)$/
// AppError permissionDenied's message (src/core/errors.ts).
const ROLE_DENIED = /this needs the (\w+) role; the credential has (\w+)/

/** Any failure as the one line the user sees (without the `stratavore: ` prefix). */
export const describeError = (err: unknown, target: { baseUrl: string, credential: Credential }): string => {
  const { baseUrl, credential } = target
  if (err instanceof CliError || err instanceof UsageError) return err.message
  const tlsCode = ((err as { cause?: { code?: unknown } })?.cause?.code ?? (err as { code?: unknown })?.code)
  if (typeof tlsCode === 'string' && UNTRUSTED_CERTIFICATE.test(tlsCode)) {
    return `cannot trust the certificate of the daemon at ${baseUrl} (${tlsCode}); for a private CA or a self-signed certificate, set NODE_EXTRA_CA_CERTS to its PEM file`
  }
  const reason = networkReason(err)
  if (reason) return daemonDown(baseUrl, reason)
  if (err instanceof ConnectError) {
    if (err.code === Code.DeadlineExceeded) return `the daemon at ${baseUrl} did not answer in time`
    if (err.code === Code.Unimplemented && /HTTP 404/.test(err.rawMessage)) return `${baseUrl} does not serve the Stratavore API (is --api-url right?)`
    if (err.code === Code.Unauthenticated) {
      return credential.token === null
        ? `the daemon at ${baseUrl} needs a token and ${credentialMissing(credential)}`
        : `the daemon at ${baseUrl} refused the token from ${credential.from} (${err.rawMessage}); pass a valid one with --token or STRATAVORE_TOKEN (an admin makes one with \`stratavore token create\`)`
    }
    if (err.code === Code.PermissionDenied) {
      const denied = ROLE_DENIED.exec(err.rawMessage)
      if (!denied || credential.token === null) return `permission denied: ${err.rawMessage}`
      const [matched, needed, held] = denied
      return `permission denied: this needs the ${needed} role and the token from ${credential.from} has ${held}${err.rawMessage.slice(denied.index + matched.length)}; use a token with the ${needed} role (an admin makes one with \`stratavore token create <name> --role ${needed}\`)`
    }
    return err.rawMessage
  }
  return err instanceof Error ? err.message : String(err)
}

export const isNotFound = (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound
