// stratavore.v1.NodeService: supervisors report their runners' heartbeats here. The contract is
// defined now; the handler waits for the heartbeat use case the supervisor work adds to ctx.
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect'
import { NodeService } from '../../gen/stratavore/v1/node_pb.js'

export const nodeService = (): ServiceImpl<typeof NodeService> => ({
  async reportHeartbeats () {
    throw new ConnectError('heartbeat reporting arrives with the supervisor', Code.Unimplemented)
  },
})
