// stratavore.v1.NodeService: supervisors report their runners' heartbeats here, authenticated
// with the node's credential (authorization: Bearer); operators list nodes; admins make join
// tokens; a new host joins (public: the join token in the message is the credential). Same use
// cases as /api/v1/nodes/*; where REST answers a fenced runner with 409, RPC lists it in
// fenced_runner_ids beside the recorded ones.
import type { ServiceImpl } from '@connectrpc/connect'
import { Type } from '@sinclair/typebox'
import { bearerToken } from '../../adapters/system/bearer-token.js'
import type { Context } from '../../context.js'
import { joinCommand } from '../../core/nodes/node.js'
import { NodeService } from '../../gen/stratavore/v1/node_pb.js'
import { JoinBody } from '../rest/node-schemas.js'
import { actorOf, principalOf } from './actor.js'
import { toJoinTokenProto, toNodeProto } from './mappers.js'
import { checkShape, defined } from './validate.js'

const JoinTokenId = Type.Object({ id: Type.String({ format: 'uuid' }) })

// What a new host should dial: daemon.public_url, else this daemon's HTTP address.
const serverUrlOf = (ctx: Context) => (ctx.config.daemon.public_url || `http://${ctx.config.daemon.host}:${ctx.config.daemon.http_port}`).replace(/\/$/, '')

export const nodeService = (ctx: Context): ServiceImpl<typeof NodeService> => ({
  async reportHeartbeats (req, context) {
    const beats = req.heartbeats.map(b => ({
      runnerId: b.runnerId,
      generation: Number(b.generation),
      cpuPercent: b.cpuPercent,
      memoryMb: b.memoryMb,
      inputTokens: Number(b.inputTokens),
      outputTokens: Number(b.outputTokens),
      cacheReadTokens: Number(b.cacheReadTokens),
      cacheCreationTokens: Number(b.cacheCreationTokens),
    }))
    const { accepted, recovered, fenced } = await ctx.heartbeats.report(req.nodeId, bearerToken(context.requestHeader.get('authorization')), beats, principalOf(context))
    return { acceptedRunnerIds: accepted, recoveredRunnerIds: recovered, fencedRunnerIds: fenced }
  },

  async listNodes () {
    return { nodes: (await ctx.nodes.list()).map(toNodeProto) }
  },

  async joinNode (req) {
    const body = checkShape(JoinBody, defined({
      token: req.token, name: req.name, hostname: req.hostname, version: req.version, capacity: req.capacity, labels: req.labels, agents: req.agents,
    }))
    const { node, credential } = await ctx.joinTokens.join(body)
    return { nodeId: node.id, name: node.name, credential }
  },

  async createJoinToken (req, context) {
    const { joinToken, secret } = await ctx.joinTokens.create({
      ...(req.ttlSeconds !== undefined ? { ttlSeconds: Number(req.ttlSeconds) } : {}),
      ...(req.maxUses !== undefined ? { maxUses: req.maxUses } : {}),
      labels: req.labels,
    }, actorOf(context))
    return { joinToken: toJoinTokenProto(joinToken), token: secret, command: joinCommand(serverUrlOf(ctx), secret) }
  },

  async listJoinTokens (req) {
    return { joinTokens: (await ctx.joinTokens.list({ includeDead: req.includeDead })).map(toJoinTokenProto) }
  },

  async revokeJoinToken (req, context) {
    return { joinToken: toJoinTokenProto(await ctx.joinTokens.revoke(checkShape(JoinTokenId, { id: req.id }).id, actorOf(context))) }
  },
})
