// The browser's way in (shared/contracts/lex-webui.md, "Signing in"): opening `/?token=<token>`
// swaps a valid token for a session cookie (a JWT signed with a key derived from the audit key,
// so every daemon sharing that key accepts it) and redirects to `/` without the token. The
// cookie is HttpOnly and SameSite=Strict, and counts only together with an Origin that is the
// daemon's own or listed in daemon.cors_origins (for a GET without Origin: Sec-Fetch-Site:
// same-origin), so another site cannot ride on it. A session ends with its token: revoked or
// expired tokens, or a replaced admin token, sign the browser out.
import cookie from '@fastify/cookie'
import jwt from '@fastify/jwt'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { isRole, type Principal } from '../../core/auth/principal.js'
import { errors } from '../../core/errors.js'
import { sameSiteRequest } from './browser-guard.js'
import { problemOf, sendProblem } from './problem.js'

export const SESSION_COOKIE = 'stv_session'

interface SessionClaims { sub: string, role: string, tid?: string, adm?: string }

/** The principal of a valid session cookie sent from an allowed origin; null without a cookie. */
export const sessionPrincipal = async (app: FastifyInstance, request: FastifyRequest): Promise<Principal | null> => {
  const raw = request.cookies[SESSION_COOKIE]
  if (!raw) return null
  if (!sameSiteRequest(app, request)) throw errors.forbiddenOrigin(request.headers.origin ?? '(none)')
  let claims: SessionClaims
  try { claims = app.jwt.verify<SessionClaims>(raw) } catch {
    throw errors.unauthenticated('the session has expired or is not valid: sign in again at /?token=<token>')
  }
  if (!isRole(claims.role) || claims.role === 'node') throw errors.unauthenticated('the session is not valid: sign in again')
  // The admin token's session holds a fingerprint of it: replacing the token ends the session.
  if (claims.adm !== undefined && claims.adm !== app.ctx.tokens.adminTokenHash.slice(0, 16)) {
    throw errors.unauthenticated('the admin token has changed: sign in again')
  }
  if (claims.tid !== undefined && !(await app.ctx.tokens.stillLive([claims.tid])).has(claims.tid)) {
    throw errors.unauthenticated('the token this session came from was revoked or has expired')
  }
  return { subject: claims.sub, role: claims.role, ...(claims.tid ? { tokenId: claims.tid } : {}) }
}

const signIn = async (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, secret: string) => {
  const principal = await app.ctx.tokens.authenticate(secret)
  // A node's credential is for its supervisor, not for a browser.
  if (!principal || principal.role === 'node') {
    return sendProblem(reply.header('cache-control', 'no-store'), problemOf(401, 'UNAUTHENTICATED', 'the token is not valid: unknown, expired or revoked', { instance: '/' }))
  }
  const ttl = app.ctx.config.security.session_ttl_seconds
  const claims: SessionClaims = {
    sub: principal.subject,
    role: principal.role,
    ...(principal.tokenId ? { tid: principal.tokenId } : { adm: app.ctx.tokens.adminTokenHash.slice(0, 16) }),
  }
  const session = app.jwt.sign(claims, { expiresIn: ttl })
  return reply
    .setCookie(SESSION_COOKIE, session, { httpOnly: true, sameSite: 'strict', secure: request.protocol === 'https', path: '/', maxAge: ttl })
    // The token must not linger: not in the address bar, a Referer or a cache.
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .redirect('/', 303)
}

export const browserSessionPlugin = fp(async (app: FastifyInstance) => {
  await app.register(cookie)
  await app.register(jwt, { secret: app.ctx.sessionSecret })
  // Before any route (the WebUI's index.html is served at `/` too).
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' || !request.url.startsWith('/?')) return
    const token = new URLSearchParams(request.url.slice(2)).get('token')
    if (token !== null) return signIn(app, request, reply, token)
  })
}, { name: 'browser-session', dependencies: ['browser-guard'] })
