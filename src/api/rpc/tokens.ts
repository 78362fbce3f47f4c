// stratavore.v1.TokenService: thin handlers over ctx.tokens, the use cases behind
// /api/v1/tokens (admin only, as the access policy says).
import type { ServiceImpl } from '@connectrpc/connect'
import { Type } from '@sinclair/typebox'
import type { Context } from '../../context.js'
import { TokenService } from '../../gen/stratavore/v1/token_pb.js'
import { actorOf } from './actor.js'
import { toTokenProto } from './mappers.js'
import { checkShape } from './validate.js'

const TokenId = Type.Object({ id: Type.String({ format: 'uuid' }) })

export const tokenService = (ctx: Context): ServiceImpl<typeof TokenService> => ({
  async createToken (req, context) {
    const { token, secret } = await ctx.tokens.create({
      name: req.name,
      role: req.role,
      description: req.description,
      ...(req.ttlSeconds !== undefined ? { ttlSeconds: Number(req.ttlSeconds) } : {}),
    }, actorOf(context))
    return { token: toTokenProto(token), secret }
  },

  async listTokens (req) {
    return { tokens: (await ctx.tokens.list({ includeRevoked: req.includeRevoked })).map(toTokenProto) }
  },

  async revokeToken (req, context) {
    return { token: toTokenProto(await ctx.tokens.revoke(checkShape(TokenId, { id: req.id }).id, actorOf(context))) }
  },
})
