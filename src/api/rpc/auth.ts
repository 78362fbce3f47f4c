// RPC's side of authentication, on both ports: every call presents `authorization: Bearer
// <token>`, checked against RPC_ACCESS (src/api/access-policy.ts) before its handler runs. A
// method without an entry is refused, and the access-policy test fails. The principal rides on
// the call's context values (actor.ts).
import type { Interceptor } from '@connectrpc/connect'
import { bearerToken } from '../../adapters/system/bearer-token.js'
import type { TokenService } from '../../core/auth/token-service.js'
import { permits } from '../../core/auth/principal.js'
import { errors } from '../../core/errors.js'
import { PUBLIC_RATE_LIMITED, RPC_ACCESS } from '../access-policy.js'
import { rateKeyOf, type RateLimiter } from '../rate-limit.js'
import { clientAddressKey, principalKey } from './actor.js'

export const authInterceptor = (tokens: TokenService, limiter: RateLimiter): Interceptor => next => async request => {
  const method = `${request.service.typeName}/${request.method.name}`
  const access = RPC_ACCESS[method]
  if (access === undefined) throw errors.permissionDenied('any', `(undeclared: ${method} has no entry in the access policy)`)
  if (access === 'public') {
    if (PUBLIC_RATE_LIMITED.has(method)) limiter.take(`ip:${request.contextValues.get(clientAddressKey)}`)
    return next(request)
  }
  const header = request.header.get('authorization')
  if (header === null) throw errors.unauthenticated('this needs a credential: send authorization: Bearer <token> (stratavore token create)')
  const secret = bearerToken(header)
  if (!secret) throw errors.unauthenticated('the authorization header must be "Bearer <token>"')
  const principal = await tokens.authenticate(secret)
  if (!principal) throw errors.unauthenticated('the token is not valid: unknown, expired or revoked')
  if (!permits(principal.role, access)) throw errors.permissionDenied(principal.role, access)
  // Counted as REST counts it (src/api/rate-limit.ts): per credential, once it may call.
  limiter.take(rateKeyOf(principal))
  request.contextValues.set(principalKey, principal)
  return next(request)
}
