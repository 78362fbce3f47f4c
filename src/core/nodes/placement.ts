// Where a launch goes: the ready nodes that match its node or selector, have the agent and have
// room; of those the least loaded (runners over capacity), so launches spread across nodes.
// When none fits, every node's reason goes back with a 409 NO_NODE_FITS. A launch that asks for
// no particular node waits unassigned instead (claimed by the first node with room, as a
// Kubernetes pod waits Pending) while nodes that could run it are only full or not ready yet,
// or while no node has registered at all (the embedded default, before its supervisor is up).
import { errors } from '../errors.js'
import type { Labels, PlacementCandidate } from './ports.js'

export interface PlacementRequest {
  agent: string
  /** A node's name or id. */
  node: string | null
  selector: Labels
}

/** The agents a node reported; a node that reported none is taken to run every agent. */
export const hasAgent = (agents: Record<string, string>, agent: string) => Object.keys(agents).length === 0 || Object.hasOwn(agents, agent)

const labelMismatch = (labels: Labels, selector: Labels): string | null => {
  const wrong = Object.entries(selector).filter(([k, v]) => labels[k] !== v)
  if (wrong.length === 0) return null
  return `labels do not match: wants ${wrong.map(([k, v]) => `${k}=${v}`).join(', ')}; has ${wrong.map(([k]) => labels[k] === undefined ? `no ${k}` : `${k}=${labels[k]}`).join(', ')}`
}

const reasonOf = (n: PlacementCandidate, request: PlacementRequest): { reason: string, onlyWaiting: boolean } | null => {
  const mismatch = labelMismatch(n.labels, request.selector)
  if (mismatch) return { reason: mismatch, onlyWaiting: false }
  if (!hasAgent(n.agents, request.agent)) return { reason: `agent ${request.agent} is not installed (has ${Object.keys(n.agents).sort().join(', ')})`, onlyWaiting: false }
  if (n.status !== 'ready') return { reason: `node is ${n.status}`, onlyWaiting: true }
  if (n.activeRunners >= n.capacity) return { reason: `full: ${n.activeRunners}/${n.capacity} runners`, onlyWaiting: true }
  return null
}

const leastLoaded = (fits: PlacementCandidate[]): PlacementCandidate => {
  const load = (n: PlacementCandidate) => n.activeRunners / n.capacity
  return [...fits].sort((a, b) => load(a) - load(b) || (b.capacity - b.activeRunners) - (a.capacity - a.activeRunners) || (a.id < b.id ? -1 : 1))[0]!
}

/**
 * Where a runner handed over goes (failover): a ready node that has its agent and room, the
 * least loaded; null when none. The pick is counted on the candidate, so a pass spreads.
 */
export const takeNodeFor = (candidates: PlacementCandidate[], agent: string): string | null => {
  const fits = candidates.filter(n => n.status === 'ready' && hasAgent(n.agents, agent) && n.activeRunners < n.capacity)
  if (fits.length === 0) return null
  const chosen = leastLoaded(fits)
  chosen.activeRunners++
  return chosen.id
}

/** The node id to assign, null to leave the runner unassigned for now; throws NO_NODE_FITS. */
export const placeRunner = (candidates: PlacementCandidate[], request: PlacementRequest): string | null => {
  const explicit = request.node !== null || Object.keys(request.selector).length > 0
  const named = request.node === null ? candidates : candidates.filter(n => n.name === request.node || n.id === request.node?.toLowerCase())
  if (request.node !== null && named.length === 0) throw errors.noNodeFits(`no node is named ${request.node}`, [])
  if (named.length === 0) {
    if (explicit) throw errors.noNodeFits('no node has registered', [])
    return null
  }
  const judged = named.map(n => ({ n, why: reasonOf(n, request) }))
  const fits = judged.filter(j => j.why === null).map(j => j.n)
  if (fits.length > 0) return leastLoaded(fits).id
  if (!explicit && judged.some(j => j.why!.onlyWaiting)) return null
  const reasons = judged.map(j => ({ node: j.n.name, reason: j.why!.reason }))
  throw errors.noNodeFits(reasons.map(r => `${r.node}: ${r.reason}`).join('; '), reasons)
}
