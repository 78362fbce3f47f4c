// stratavore.v1.NodeService: supervisors report their runners' heartbeats here, authenticated
// with the node's credential (authorization: Bearer). Same use case as POST
// /api/v1/nodes/{id}/heartbeats; where REST answers a fenced runner with 409, RPC lists it in
// fenced_runner_ids beside the recorded ones.
import type { ServiceImpl } from '@connectrpc/connect'
import { bearerToken } from '../../adapters/system/bearer-token.js'
import type { Context } from '../../context.js'
import { NodeService } from '../../gen/stratavore/v1/node_pb.js'

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
    const { accepted, recovered, fenced } = await ctx.heartbeats.report(req.nodeId, bearerToken(context.requestHeader.get('authorization')), beats)
    return { acceptedRunnerIds: accepted, recoveredRunnerIds: recovered, fencedRunnerIds: fenced }
  },
})
