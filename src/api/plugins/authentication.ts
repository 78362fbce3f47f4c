// Who is calling, and may they: every request under /api/ resolves a Principal from its bearer
// token (or the signed-in browser's session cookie, see browser-guard.ts) and is checked against
// the route's entry in src/api/access-policy.ts before it reaches a handler; WebSocket routes
// are checked before the upgrade. A route under /api/ without an entry stops buildApp.
// Credentials never reach a log: the request line logs the path only.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { bearerToken } from '../../adapters/system/bearer-token.js'
import { permits, type Principal } from '../../core/auth/principal.js'
import { errors } from '../../core/errors.js'
import { ROUTE_ACCESS, type Access } from '../access-policy.js'
import { problems } from '../rest/schemas.js'
import { createSocketRegistry } from '../ws/socket-registry.js'
import { sessionPrincipal } from './browser-session.js'

const ACCESS = 'access'

/** The route's declared access; undefined for a request that matched no route. */
export const accessOf = (request: FastifyRequest): Access | undefined =>
  (request.routeOptions.config as { [ACCESS]?: Access } | undefined)?.[ACCESS]

const isApiRoute = (url: string) => url.startsWith('/api/')

/** The principal of a request's credential; throws 401 when it has none or a bad one. */
export const authenticate = async (app: FastifyInstance, request: FastifyRequest): Promise<Principal> => {
  const header = request.headers.authorization
  if (header !== undefined) {
    const secret = bearerToken(header)
    if (!secret) throw errors.unauthenticated('the Authorization header must be "Bearer <token>"')
    const principal = await app.ctx.tokens.authenticate(secret)
    if (!principal) throw errors.unauthenticated('the token is not valid: unknown, expired or revoked')
    return principal
  }
  const session = await sessionPrincipal(app, request)
  if (session) return session
  throw errors.unauthenticated('this needs a credential: send Authorization: Bearer <token> (stratavore token create), or sign in at /?token=<token>')
}

export const authenticationPlugin = fp(async (app: FastifyInstance) => {
  app.decorateRequest('principal', null)
  const { security } = app.ctx.config
  const sockets = createSocketRegistry({
    maxTotal: security.max_websockets,
    maxPerCredential: security.max_websockets_per_token,
    stillLive: ids => app.ctx.tokens.stillLive(ids),
    onSweepError: err => app.log.warn({ err }, 'websockets: could not check their tokens; trying again'),
  })
  app.decorate('sockets', sockets)
  app.addHook('onClose', async () => sockets.close())

  app.addHook('onRoute', route => {
    if (!isApiRoute(route.url)) return
    // HEAD routes come with their GET.
    const method = route.method === 'HEAD' ? 'GET' : route.method
    const key = `${String(method)} ${route.url}`
    const access = ROUTE_ACCESS[key]
    if (access === undefined) throw new Error(`route ${key} has no entry in src/api/access-policy.ts: declare who may call it`)
    route.config = { ...route.config, [ACCESS]: access } as typeof route.config
    // Every socket is counted and closed when its credential ends.
    const { wsHandler } = route
    if (wsHandler) {
      route.wsHandler = function (socket, request) {
        if (request.principal) sockets.track(request.principal, socket)
        return wsHandler.call(this, socket, request)
      }
    }
    if (access !== 'public' && route.schema) {
      route.schema = { ...route.schema, response: { ...problems(401, 403), ...(route.schema.response as object | undefined) } }
    }
  })

  app.addHook('onRequest', async request => {
    const access = accessOf(request)
    if (access === undefined) return
    if (isApiRoute(request.url) && /[?&]token=/.test(request.url)) {
      throw errors.invalidArgument('a token in the query string is refused here (it would end up in logs and histories): send Authorization: Bearer <token>')
    }
    if (access === 'public') return
    const principal = await authenticate(app, request)
    if (!permits(principal.role, access)) throw errors.permissionDenied(principal.role, access)
    request.principal = principal
    request.actor = principal.subject
    // Refused before the upgrade, as a 429 problem the client can read.
    if ((request.headers.upgrade ?? '').toLowerCase() === 'websocket') {
      const refusal = sockets.refusal(principal)
      if (refusal) throw errors.tooManyConnections(refusal)
    }
  })
}, { name: 'authentication', dependencies: ['browser-session'] })
