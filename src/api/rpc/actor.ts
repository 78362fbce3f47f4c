// Who an RPC acts as: the principal the authentication interceptor (src/api/rpc/auth.ts) put
// on the call's context values. Handlers read it here, never from a request message.
import { createContextKey, type HandlerContext } from '@connectrpc/connect'
import type { Principal } from '../../core/auth/principal.js'

export const principalKey = createContextKey<Principal | null>(null, { description: 'the authenticated caller' })

/** The caller's network address, for counting calls that come without a credential. */
export const clientAddressKey = createContextKey<string>('', { description: 'the client address' })

export const principalOf = (context: HandlerContext): Principal | null => context.values.get(principalKey)

export const actorOf = (context: HandlerContext): string => {
  const principal = principalOf(context)
  // The interceptor admits no call without one, public methods aside (and those act on nothing).
  if (!principal) throw new Error('actorOf: the call has no principal')
  return principal.subject
}
