// The supervision port over the API (SupervisionService, Connect-RPC), for a supervisor that
// holds its node's credential and no database or broker settings. A report the API refuses as
// fenced (FAILED_PRECONDITION: the runner moved on) answers as the database adapter answers a
// transition that found the row moved: null, or left out of a batch, so the core stops that
// process. Everything else (API down, a timeout) throws, and the core keeps the report and
// retries it.
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt'
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { fromSupervisedActivityProto, fromSupervisedRunnerProto, fromTranscriptPositionProto } from '../../api/rpc/supervision-mappers.js'
import type { NodeRegistration } from '../../core/ports.js'
import type { Runner } from '../../core/runners/runner.js'
import { boundedReset, type ResetAdjustment } from '../../core/runners/usage-limits.js'
import type { ExitStatus } from '../../core/supervisor/agent-runtime.js'
import type { SupervisionPort } from '../../core/supervisor/supervision-port.js'
import { SupervisionService } from '../../gen/stratavore/v1/supervision_pb.js'

const UNARY_TIMEOUT_MS = 30_000

const ref = (runner: Runner | string, generation: number) => ({ runnerId: typeof runner === 'string' ? runner : runner.id, generation: BigInt(generation) })
const exitOf = (exit: ExitStatus | null | undefined) => exit ? { ...(exit.code !== null ? { code: exit.code } : {}), ...(exit.signal !== null ? { signal: exit.signal } : {}) } : undefined

/** A time as the wire carries it; unset when absent or not a time at all. */
const wireTime = (d: Date | null | undefined) => d && Number.isFinite(d.getTime()) ? timestampFromDate(d) : undefined

const isFenced = (err: unknown) => err instanceof ConnectError && err.code === Code.FailedPrecondition

/** The answer for a runner that moved on: null. Any other failure goes up, to be retried. */
const orNullWhenFenced = async <T>(call: Promise<T>): Promise<T | null> => {
  try {
    return await call
  } catch (err) {
    if (isFenced(err)) return null
    throw err
  }
}

export const createRpcSupervision = ({ serverUrl, credential }: { serverUrl: string, credential: string }): SupervisionPort => {
  const bearer: Interceptor = next => request => {
    request.header.set('authorization', `Bearer ${credential}`)
    return next(request)
  }
  const client = createClient(SupervisionService, createConnectTransport({ baseUrl: serverUrl, httpVersion: '1.1', defaultTimeoutMs: UNARY_TIMEOUT_MS, interceptors: [bearer] }))
  // A transcript read for a resume may take longer than one unary call.
  const streams = createClient(SupervisionService, createConnectTransport({ baseUrl: serverUrl, httpVersion: '1.1', interceptors: [bearer] }))

  return {
    async register (node: NodeRegistration) {
      try {
        await client.registerSupervisor({
          name: node.name, hostname: node.hostname, version: node.version, capacity: node.capacity, attachUrl: node.attachUrl, labels: node.labels ?? {}, agents: node.agents ?? {},
        })
        return 'ok'
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.AlreadyExists) return 'name_taken'
        if (err instanceof ConnectError && err.code === Code.Unauthenticated) return 'credential_mismatch'
        throw err
      }
    },

    claim: async limit => limit <= 0 ? [] : (await client.claimRunners({ limit })).runners.map(fromSupervisedRunnerProto),

    assigned: async () => (await client.listAssignedRunners({})).runners.map(fromSupervisedRunnerProto),

    beginMany: async runners => runners.length === 0
      ? []
      : (await client.beginStarts({ starts: runners.map(r => ({ runnerId: r.id, generation: BigInt(r.generation), restartAttempts: r.restartAttempts })) })).runners.map(fromSupervisedRunnerProto),

    async restart (runner, restart) {
      const exit = exitOf(restart.exit)
      const answer = await orNullWhenFenced(client.restartRunner({
        runner: ref(runner, runner.generation), attempt: restart.attempt, delayMs: BigInt(restart.delayMs), reason: restart.reason,
        ...(restart.output ? { output: restart.output } : {}), ...(exit ? { exit } : {}),
      }))
      return answer?.runner ? fromSupervisedRunnerProto(answer.runner) : null
    },

    async running (started) {
      if (started.length === 0) return new Map()
      const answer = await client.reportStarted({
        started: started.map(s => ({
          runner: ref(s.runner, s.runner.generation), pid: s.pid, resumable: s.resumable,
          ...(s.sessionId ? { sessionId: s.sessionId } : {}), ...(s.transcriptPath ? { transcriptPath: s.transcriptPath } : {}),
        })),
      })
      return new Map(answer.runners.map(p => [p.id, fromSupervisedRunnerProto(p)]))
    },

    async exited (runner, generation, status, exit, reason, output) {
      const wireExit = exitOf(exit)
      const answer = await orNullWhenFenced(client.reportExited({
        runner: ref(runner, generation), status, reason, ...(wireExit ? { exit: wireExit } : {}), ...(output ? { output } : {}),
      }))
      return answer?.runner ? fromSupervisedRunnerProto(answer.runner) : null
    },

    async sessionSeen (runner, generation, seen) {
      await orNullWhenFenced(client.reportSession({
        runner: ref(runner, generation), sessionId: seen.sessionId, resumable: seen.resumable, ...(seen.transcriptPath ? { transcriptPath: seen.transcriptPath } : {}),
      }))
    },

    async pausedStopped (runnerId, generation) {
      await orNullWhenFenced(client.reportPausedStopped({ runner: ref(runnerId, generation) }))
    },

    async resetRestartAttempts (runnerId, generation) {
      await orNullWhenFenced(client.resetRestartAttempts({ runner: ref(runnerId, generation) }))
    },

    async heartbeat (beats) {
      const answer = await client.reportUsage({
        usage: beats.map(b => ({
          runnerId: b.runnerId, generation: BigInt(b.generation), cpuPercent: b.cpuPercent, memoryMb: Math.round(b.memoryMb),
          inputTokens: BigInt(b.inputTokens), outputTokens: BigInt(b.outputTokens), cacheReadTokens: BigInt(b.cacheReadTokens), cacheCreationTokens: BigInt(b.cacheCreationTokens),
        })),
      })
      return { accepted: answer.acceptedRunnerIds, fenced: answer.fencedRunnerIds, paused: answer.paused.map(fromSupervisedRunnerProto) }
    },

    async activity (runner, generation, signal, since) {
      const resetsAt = wireTime(signal.resetsAt)
      const answer = await orNullWhenFenced(client.reportActivity({
        runner: ref(runner, generation), state: signal.state, source: signal.source, since: timestampFromDate(since), keepsDetail: signal.keepsDetail ?? false,
        ...(signal.detail !== null ? { detail: signal.detail } : {}), ...(resetsAt ? { resetsAt } : {}),
      }))
      return answer?.changed && answer.runner ? { runner: fromSupervisedRunnerProto(answer.runner), previous: fromSupervisedActivityProto(answer.previous) } : null
    },

    // A fenced report pauses nothing (the API refuses it before the account's runners are
    // touched); the reset is then only this node's own reading of it, for the log.
    async pauseForUsageLimit (runner, generation, limit) {
      const resetsAt = wireTime(limit.resetsAt)
      const answer = await orNullWhenFenced(client.reportUsageLimit({
        runner: ref(runner, generation), ...(resetsAt ? { resetsAt } : {}), ...(limit.message !== null ? { message: limit.message } : {}), source: limit.source,
      }))
      if (!answer?.resetsAt) return { paused: [], ...boundedReset(limit.resetsAt, new Date(), runner.limitResumedAt) }
      return { paused: answer.paused.map(fromSupervisedRunnerProto), resetsAt: timestampDate(answer.resetsAt), adjusted: answer.adjusted as ResetAdjustment }
    },

    async release (mode) {
      const answer = await client.releaseNode({ mode })
      return { stopped: answer.stopped, handedOver: answer.handedOver }
    },

    transcripts: {
      async position (sessionId) {
        const answer = await client.getTranscriptPosition({ sessionId })
        return answer.position ? fromTranscriptPositionProto(answer.position) : null
      },
      // The control plane's sessions.archive_max_bytes applies, not this host's.
      async append (sessionId, slice) {
        const answer = await client.appendTranscript({
          sessionId, offset: BigInt(slice.offset), data: slice.data, messages: slice.messages,
          ...(slice.name !== null ? { name: slice.name } : {}), ...(slice.summary !== null ? { summary: slice.summary } : {}), ...(slice.firstPrompt !== null ? { firstPrompt: slice.firstPrompt } : {}),
        })
        return answer.position ? fromTranscriptPositionProto(answer.position) : null
      },
      async reset (sessionId) {
        await client.resetTranscript({ sessionId })
      },
      async * read (sessionId, endBytes) {
        for await (const chunk of streams.readTranscript({ sessionId, endBytes: BigInt(endBytes) })) yield chunk.data
      },
    },
  }
}
