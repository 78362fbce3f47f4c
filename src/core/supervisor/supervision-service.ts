// The API's side of a remote supervisor (SupervisionService): the database supervision port,
// behind the checks that make a node credential speak for its own node alone. A report names a
// runner and the generation the node holds for it:
//
//   runner unknown                           → not found
//   reported generation older than the row's → RUNNER_FENCED (409): the runner moved on; the
//                                              node stops that process
//   assigned to another node (or to none)    → RUNNER_NOT_YOURS (403)
//   otherwise                                → the same conditional transition the in-process
//                                              supervisor makes, fenced by generation again
//
// Batches (first starts, started processes) drop their fenced runners and go on with the rest.
import type { Principal } from '../auth/principal.js'
import { errors } from '../errors.js'
import type { Instruments } from '../instruments.js'
import { checkAgentVersions, checkCapacity, checkLabels, checkNodeName } from '../nodes/node.js'
import type { Clock, IdGenerator, Log, RunnerBeat, Repositories, UnitOfWork } from '../ports.js'
import type { Runner } from '../runners/runner.js'
import { checkPattern, checkText } from '../validation.js'
import { createDatabaseSupervision } from './database-supervision.js'
import { checkBeat, MAX_BEATS_PER_REPORT } from './heartbeat-service.js'
import { checkActivityReport, checkLimitReport, type ActivityReport, type LimitReport } from './remote-reports.js'
import type { SupervisionPort } from './supervision-port.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MAX_BATCH = 1000

export interface RemoteRegistration {
  name: string
  hostname: string
  version: string
  capacity: number
  attachUrl: string
  labels: Record<string, string>
  agents: Record<string, string>
}

export interface SupervisionServiceDeps {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  /** The node credential's stored hash, and the key attach tickets are MACed with (node-identity.ts). */
  hashCredential: (credential: string) => string
  attachKeyOf: (credential: string) => string
  /** sessions.archive_max_bytes of the control plane: how much of a transcript is archived. */
  archiveMaxBytes: number
  instruments?: Instruments
  log?: Log
}

/** The caller, as the RPC layer authenticated it: a node principal and the credential it presented. */
export interface NodeCaller { principal: Principal | null, credential: string | null }

export const createSupervisionService = (deps: SupervisionServiceDeps) => {
  const { repos } = deps

  /** The database port for the calling node; anything but a node credential is refused. */
  const nodeOf = ({ principal }: NodeCaller) => {
    if (!principal?.nodeId) throw errors.permissionDenied(principal?.role ?? 'none', 'node')
    return { nodeId: principal.nodeId, actor: principal.subject }
  }
  const portOf = (caller: NodeCaller): { nodeId: string, port: SupervisionPort } => {
    const { nodeId, actor } = nodeOf(caller)
    return { nodeId, port: createDatabaseSupervision({ ...deps, node: { id: nodeId }, actor }) }
  }

  /** The runner as stored, at the generation the node holds, once it is shown to be this node's. */
  const held = async (nodeId: string, runnerId: string, generation: number): Promise<Runner> => {
    if (!UUID.test(runnerId)) throw errors.invalidArgument('runner_id must be a UUID')
    if (!Number.isSafeInteger(generation) || generation < 0) throw errors.invalidArgument('generation is invalid')
    const row = await repos.runners.find(runnerId.toLowerCase())
    if (!row) throw errors.runnerNotFound(runnerId)
    if (generation < row.generation) throw errors.runnerFenced(row.id, generation, row.generation)
    if (row.nodeId !== nodeId) throw errors.runnerNotYours(row.id)
    return { ...row, generation }
  }

  /** Each runner of a batch held by the node; the fenced ones are left out. */
  const heldMany = async (nodeId: string, refs: Array<{ runnerId: string, generation: number }>): Promise<Runner[]> => {
    if (refs.length > MAX_BATCH) throw errors.invalidArgument(`at most ${MAX_BATCH} runners per call`)
    const rows: Runner[] = []
    for (const ref of refs) {
      try {
        rows.push(await held(nodeId, ref.runnerId, ref.generation))
      } catch (err) {
        if ((err as { code?: string }).code !== 'RUNNER_FENCED') throw err
      }
    }
    return rows
  }

  /** A session the node may archive or read: one of its active runners holds it. */
  const ownSession = async (nodeId: string, sessionId: string) => {
    if (checkText('session_id', sessionId, 200) === '') throw errors.invalidArgument('session_id is required')
    const runners = await repos.supervision.assigned(nodeId)
    if (!runners.some(r => r.sessionId === sessionId)) throw errors.sessionNotYours(sessionId)
  }

  const status = (value: string): 'terminated' | 'failed' => {
    if (value !== 'terminated' && value !== 'failed') throw errors.invalidArgument('status must be terminated or failed')
    return value
  }

  return {
    async register (caller: NodeCaller, input: RemoteRegistration) {
      const { nodeId, port } = portOf(caller)
      const registration = {
        id: nodeId,
        name: checkNodeName(input.name),
        hostname: checkText('hostname', input.hostname, 253),
        version: checkText('version', input.version, 64),
        capacity: checkCapacity(input.capacity),
        attachUrl: checkPattern('attach_url', input.attachUrl, '^wss?://\\S{1,500}$', 'a ws:// or wss:// URL'),
        labels: checkLabels('labels', input.labels),
        agents: checkAgentVersions('agents', input.agents),
        // Derived from the credential presented, never taken from the request.
        credentialHash: deps.hashCredential(caller.credential ?? ''),
        attachKey: deps.attachKeyOf(caller.credential ?? ''),
      }
      const outcome = await port.register(registration)
      if (outcome === 'name_taken') throw errors.nodeNameTaken(registration.name)
      if (outcome === 'credential_mismatch') throw errors.nodeUnauthenticated(nodeId)
      return { nodeId }
    },

    claim: (caller: NodeCaller, limit: number) => {
      if (!Number.isInteger(limit) || limit < 0 || limit > MAX_BATCH) throw errors.invalidArgument(`limit must be 0-${MAX_BATCH}`)
      return portOf(caller).port.claim(limit)
    },

    assigned: (caller: NodeCaller) => portOf(caller).port.assigned(),

    async beginMany (caller: NodeCaller, starts: Array<{ runnerId: string, generation: number, restartAttempts: number }>) {
      const { nodeId, port } = portOf(caller)
      const rows = await heldMany(nodeId, starts)
      const attempts = new Map(starts.map(s => [s.runnerId.toLowerCase(), s.restartAttempts]))
      return port.beginMany(rows.map(row => ({ ...row, restartAttempts: attempts.get(row.id) ?? row.restartAttempts })))
    },

    async restart (caller: NodeCaller, runnerId: string, generation: number, restart: Parameters<SupervisionPort['restart']>[1]) {
      const { nodeId, port } = portOf(caller)
      if (!Number.isInteger(restart.attempt) || restart.attempt < 0) throw errors.invalidArgument('attempt is invalid')
      checkText('reason', restart.reason, 2000)
      return port.restart(await held(nodeId, runnerId, generation), restart)
    },

    async running (caller: NodeCaller, started: Array<{ runnerId: string, generation: number, pid: number, sessionId: string | null, transcriptPath: string | null, resumable: boolean }>) {
      const { nodeId, port } = portOf(caller)
      const rows = new Map((await heldMany(nodeId, started)).map(row => [row.id, row]))
      const processes = started.flatMap(s => {
        const runner = rows.get(s.runnerId.toLowerCase())
        if (!runner) return []
        if (!Number.isInteger(s.pid) || s.pid <= 0) throw errors.invalidArgument('pid is invalid')
        return [{ runner, pid: s.pid, sessionId: s.sessionId, transcriptPath: s.transcriptPath, resumable: s.resumable }]
      })
      return [...(await port.running(processes)).values()]
    },

    async exited (caller: NodeCaller, runnerId: string, generation: number, report: { status: string, exit: { code: number | null, signal: string | null } | null, reason: string, output?: Buffer }) {
      const { nodeId, port } = portOf(caller)
      const runner = await held(nodeId, runnerId, generation)
      checkText('reason', report.reason, 2000)
      return port.exited(runner, generation, status(report.status), report.exit, report.reason, report.output)
    },

    async sessionSeen (caller: NodeCaller, runnerId: string, generation: number, seen: { sessionId: string, transcriptPath: string | null, resumable: boolean }) {
      const { nodeId, port } = portOf(caller)
      const runner = await held(nodeId, runnerId, generation)
      checkText('session_id', seen.sessionId, 200)
      await port.sessionSeen(runner, generation, seen)
    },

    async pausedStopped (caller: NodeCaller, runnerId: string, generation: number) {
      const { nodeId, port } = portOf(caller)
      await held(nodeId, runnerId, generation)
      await port.pausedStopped(runnerId.toLowerCase(), generation)
    },

    async resetRestartAttempts (caller: NodeCaller, runnerId: string, generation: number) {
      const { nodeId, port } = portOf(caller)
      await held(nodeId, runnerId, generation)
      await port.resetRestartAttempts(runnerId.toLowerCase(), generation)
    },

    /**
     * Heartbeats need no per-runner check: the statement refuses (fences) any runner not on this
     * node. A budget they exhaust pauses runners on every node; only this node's are answered.
     */
    async heartbeat (caller: NodeCaller, beats: RunnerBeat[]) {
      if (beats.length > MAX_BEATS_PER_REPORT) throw errors.invalidArgument(`at most ${MAX_BEATS_PER_REPORT} heartbeats per report`)
      const { nodeId, port } = portOf(caller)
      const outcome = await port.heartbeat(beats.map(checkBeat))
      return { ...outcome, paused: outcome.paused.filter(r => r.nodeId === nodeId) }
    },

    /** What the runner's agent is doing; null when nothing changed or the runner no longer runs in this generation. */
    async activity (caller: NodeCaller, runnerId: string, generation: number, report: ActivityReport) {
      const { nodeId, port } = portOf(caller)
      const { signal, since } = checkActivityReport(report, deps.clock.now())
      return port.activity(await held(nodeId, runnerId, generation), generation, signal, since)
    },

    /**
     * The runner's agent hit its usage limit: it and its account's runners are paused, on every
     * node. Answers only this node's paused runners: another node's (flags, environment) are not
     * this credential's to read, and their own supervisors end them.
     */
    async usageLimit (caller: NodeCaller, runnerId: string, generation: number, report: LimitReport) {
      const { nodeId, port } = portOf(caller)
      const limit = checkLimitReport(report)
      const outcome = await port.pauseForUsageLimit(await held(nodeId, runnerId, generation), generation, limit)
      return { ...outcome, paused: outcome.paused.filter(r => r.nodeId === nodeId) }
    },

    release (caller: NodeCaller, mode: string) {
      if (mode !== 'stop' && mode !== 'handover') throw errors.invalidArgument('mode must be stop or handover')
      return portOf(caller).port.release(mode)
    },

    transcripts: {
      async position (caller: NodeCaller, sessionId: string) {
        const { nodeId, port } = portOf(caller)
        await ownSession(nodeId, sessionId)
        return port.transcripts.position(sessionId)
      },
      async append (caller: NodeCaller, sessionId: string, slice: Parameters<SupervisionPort['transcripts']['append']>[1]) {
        const { nodeId, port } = portOf(caller)
        await ownSession(nodeId, sessionId)
        return port.transcripts.append(sessionId, slice, deps.archiveMaxBytes)
      },
      async reset (caller: NodeCaller, sessionId: string) {
        const { nodeId, port } = portOf(caller)
        await ownSession(nodeId, sessionId)
        await port.transcripts.reset(sessionId)
      },
      async read (caller: NodeCaller, sessionId: string, endBytes: number) {
        const { nodeId, port } = portOf(caller)
        await ownSession(nodeId, sessionId)
        return port.transcripts.read(sessionId, endBytes)
      },
    },
  }
}

export type SupervisionService = ReturnType<typeof createSupervisionService>
