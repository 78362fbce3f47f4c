// The nodes as an operator sees them: name, state, labels, capacity, agents and runner count.
import type { Repositories } from '../ports.js'

export const createNodeService = ({ repos }: { repos: Repositories }) => ({
  list: () => repos.nodes.list(),
})

export type NodeService = ReturnType<typeof createNodeService>
