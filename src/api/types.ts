// Fastify declaration merging: the one `ctx` decorator and the acting principal per request.
import type { Context } from '../context.js'
import type { Principal } from '../core/auth/principal.js'
import type { BrowserPolicy } from './plugins/browser-guard.js'
import type { SocketRegistry } from './ws/socket-registry.js'

declare module 'fastify' {
  interface FastifyInstance { ctx: Context, browserPolicy: BrowserPolicy, sockets: SocketRegistry }
  interface FastifyRequest {
    /** The principal's subject: what audit rows and events record as the actor. */
    actor: string
    /** Set by src/api/plugins/authentication.ts on every route that is not public. */
    principal: Principal | null
  }
}
