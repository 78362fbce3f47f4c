// What keeps a browser from being turned against the daemon: the Host header must name this
// daemon (daemon.allowed_hosts, plus loopback names, daemon.host and daemon.public_url), so a
// DNS-rebound name gets 421; every state-changing request and every WebSocket upgrade that
// carries an Origin must come from the daemon's own origin or one in daemon.cors_origins; and
// CORS never answers `*` together with credentials. Applied to WebSocket upgrades as to
// requests, in this one plugin.
import cors from '@fastify/cors'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from '../../core/errors.js'
import { problemOf, sendProblem } from './problem.js'

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]']
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

const hostnameOf = (host: string) => host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!
const bracketed = (address: string) => address.includes(':') && !address.startsWith('[') ? `[${address}]` : address

export interface BrowserPolicy {
  hostAllowed(host: string | undefined): boolean
  /** Origins listed in daemon.cors_origins (not `*`). */
  listedOrigins: ReadonlySet<string>
  anyOrigin: boolean
  publicOrigin: string | null
}

export const browserPolicyOf = (daemon: { host: string, allowed_hosts: string[], cors_origins: string[], public_url: string }): BrowserPolicy => {
  const publicUrl = daemon.public_url ? new URL(daemon.public_url) : null
  const names = new Set([...LOOPBACK_NAMES, bracketed(daemon.host).toLowerCase(), ...(publicUrl ? [publicUrl.hostname.toLowerCase()] : [])])
  const withPorts = new Set<string>()
  for (const entry of daemon.allowed_hosts) (/:\d+$/.test(entry) && !entry.endsWith(']') ? withPorts : names).add(entry.toLowerCase())
  const anyHost = names.has('*')
  return {
    hostAllowed: host => {
      if (anyHost) return true
      if (!host) return false
      const lower = host.toLowerCase()
      return names.has(hostnameOf(lower)) || withPorts.has(lower)
    },
    listedOrigins: new Set(daemon.cors_origins.filter(o => o !== '*')),
    anyOrigin: daemon.cors_origins.includes('*'),
    publicOrigin: publicUrl?.origin ?? null,
  }
}

const ownOrigins = (policy: BrowserPolicy, request: FastifyRequest) => [`${request.protocol}://${request.host}`, ...(policy.publicOrigin ? [policy.publicOrigin] : [])]

/** Whether a request comes from the daemon's own pages or an origin the config lists. */
export const sameSiteRequest = (app: FastifyInstance, request: FastifyRequest): boolean => {
  const origin = request.headers.origin
  if (origin === undefined) {
    // Browsers omit Origin on same-origin GETs but always send Sec-Fetch-Site; `none` is the
    // user typing the address, which no other site can cause.
    const site = request.headers['sec-fetch-site']
    return SAFE_METHODS.has(request.method) && (site === 'same-origin' || site === 'none')
  }
  return ownOrigins(app.browserPolicy, request).includes(origin) || app.browserPolicy.listedOrigins.has(origin)
}

const isUpgrade = (request: FastifyRequest) => (request.headers.upgrade ?? '').toLowerCase() === 'websocket'

export const browserGuardPlugin = fp(async (app: FastifyInstance) => {
  const policy = browserPolicyOf(app.ctx.config.daemon)
  app.decorate('browserPolicy', policy)

  app.addHook('onRequest', async (request, reply) => {
    if (!policy.hostAllowed(request.headers.host)) {
      return sendProblem(reply, problemOf(421, 'MISDIRECTED_HOST', 'this daemon does not serve that Host (set daemon.allowed_hosts or daemon.public_url)', { instance: request.url.split('?')[0]! }))
    }
    const origin = request.headers.origin
    if (origin === undefined || (SAFE_METHODS.has(request.method) && !isUpgrade(request))) return
    if (ownOrigins(policy, request).includes(origin) || policy.listedOrigins.has(origin)) return
    // `*` opens the API to pages elsewhere that hold a token, never to the session cookie.
    if (policy.anyOrigin && request.headers.authorization !== undefined) return
    throw errors.forbiddenOrigin(origin)
  })

  // Node hands an upgrade request's socket to its 'upgrade' listener and forgets it; the
  // websocket plugin closes it after a refusal only when its own hooks have run, and every
  // refusal here and in authentication comes before them. Left open, each refused upgrade would
  // hold a descriptor, and app.close() would wait for the client to hang up.
  app.addHook('onResponse', async (request, reply) => {
    // `upgrade` is Node's own flag (untyped): the request came by the 'upgrade' event.
    if ((request.raw as { upgrade?: boolean }).upgrade === true && reply.statusCode !== 101) request.raw.socket.destroy()
  })

  if (policy.listedOrigins.size > 0 || policy.anyOrigin) {
    await app.register(cors, {
      delegator: (request, callback) => {
        const origin = request.headers.origin
        if (origin !== undefined && policy.listedOrigins.has(origin)) return callback(null, { origin, credentials: true })
        callback(null, policy.anyOrigin ? { origin: '*', credentials: false } : { origin: false })
      },
    })
  }
}, { name: 'browser-guard' })
