// Who an RPC acts as. The HTTP surfaces have no authentication yet and act as "anonymous"
// (the default of request.actor in src/api/app.ts); RPC does the same, in this one place, so
// that authentication, when it comes, changes one function.
import type { HandlerContext } from '@connectrpc/connect'

export const actorOf = (_context: HandlerContext): string => 'anonymous'
