// Heartbeats reported over the API (REST and RPC) by a supervisor that authenticates with its
// node's credential. The same statement as the in-process supervisor's tick: one batch per
// host, fenced by generation. Lost runners that beat again are recovered (with their event);
// refused ones come back as `fenced`, and the reporter must kill those processes (REST answers
// them with 409 HEARTBEAT_FENCED, RPC lists them).
import type { Principal } from '../auth/principal.js'
import { errors } from '../errors.js'
import type { Clock, IdGenerator, Repositories, RunnerBeat, UnitOfWork } from '../ports.js'
import { createTransitions } from './transitions.js'
import type { Instruments } from '../instruments.js'

export const MAX_BEATS_PER_REPORT = 10_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MAX_TOKENS = Number.MAX_SAFE_INTEGER

export const checkBeat = (b: RunnerBeat, i: number): RunnerBeat => {
  const bad = (field: string) => errors.invalidArgument(`heartbeats[${i}].${field} is invalid`)
  if (!UUID.test(b.runnerId)) throw bad('runnerId')
  if (!Number.isInteger(b.generation) || b.generation < 0 || b.generation > 2 ** 31 - 1) throw bad('generation')
  if (!Number.isFinite(b.cpuPercent) || b.cpuPercent < 0 || b.cpuPercent > 1e6) throw bad('cpuPercent')
  if (!Number.isInteger(b.memoryMb) || b.memoryMb < 0 || b.memoryMb > 2 ** 31 - 1) throw bad('memoryMb')
  for (const field of ['inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheCreationTokens'] as const) {
    if (!Number.isInteger(b[field]) || b[field] < 0 || b[field] > MAX_TOKENS) throw bad(field)
  }
  return { ...b, runnerId: b.runnerId.toLowerCase() }
}

export const createHeartbeatService = ({ repos, uow, clock, ids, hashCredential, instruments }: {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  hashCredential: (credential: string) => string
  instruments?: Instruments
}) => ({
  async report (nodeId: string, credential: string | null, beats: RunnerBeat[], caller: Principal | null = null): Promise<{ accepted: string[], recovered: string[], fenced: string[] }> {
    if (!UUID.test(nodeId)) throw errors.nodeNotFound(nodeId)
    // A node credential speaks for its own node: another node's id is refused before any lookup.
    if (caller?.nodeId && caller.nodeId !== nodeId.toLowerCase()) throw errors.nodeNotYours(nodeId)
    if (beats.length > MAX_BEATS_PER_REPORT) throw errors.invalidArgument(`at most ${MAX_BEATS_PER_REPORT} heartbeats per report`)
    const checked = beats.map(checkBeat)
    const node = await repos.supervision.nodeAttachInfo(nodeId.toLowerCase())
    if (!node) throw errors.nodeNotFound(nodeId)
    if (!credential || !node.credentialHash || hashCredential(credential) !== node.credentialHash) throw errors.nodeUnauthenticated(nodeId)
    const transitions = createTransitions({ uow, clock, ids, node: { id: node.nodeId }, actor: `node:${node.nodeId}`, ...(instruments ? { instruments } : {}) })
    const outcome = await transitions.heartbeat(checked)
    // The reporting supervisor sees its paused runners on its next pass; a pause that fails here
    // is made by the reconciler's next budget pass.
    await transitions.enforceLimits(outcome, checked).catch(() => [])
    const recovered: string[] = []
    for (const runnerId of outcome.lost) {
      if (await transitions.recovered(runnerId, checked.find(b => b.runnerId === runnerId)!.generation)) recovered.push(runnerId)
    }
    return { accepted: outcome.accepted, recovered, fenced: outcome.fenced }
  },
})

export type HeartbeatService = ReturnType<typeof createHeartbeatService>
