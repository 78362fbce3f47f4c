// Fastify declaration merging: the one `ctx` decorator and the acting principal per request.
import type { Context } from '../context.js'

declare module 'fastify' {
  interface FastifyInstance { ctx: Context }
  interface FastifyRequest { actor: string }
}
