// stratavore.v1.SupervisionService: a supervisor that holds only its node's credential claims,
// starts and reports its runners here (src/core/supervisor/supervision-service.ts decides what
// a node may touch). Thin: decode, call, encode.
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect'
import { timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt'
import { bearerToken } from '../../adapters/system/bearer-token.js'
import type { Context } from '../../context.js'
import type { NodeCaller } from '../../core/supervisor/supervision-service.js'
import type { RunnerGeneration, ProcessExit } from '../../gen/stratavore/v1/supervision_pb.js'
import { SupervisionService } from '../../gen/stratavore/v1/supervision_pb.js'
import { errors } from '../../core/errors.js'
import { principalOf } from './actor.js'
import { toSupervisedActivityProto, toSupervisedRunnerProto, toTranscriptPositionProto } from './supervision-mappers.js'

const callerOf = (context: HandlerContext): NodeCaller => ({
  principal: principalOf(context),
  credential: bearerToken(context.requestHeader.get('authorization')),
})

const ref = (runner: RunnerGeneration | undefined) => {
  if (!runner) throw errors.invalidArgument('runner is required')
  return { runnerId: runner.runnerId, generation: Number(runner.generation) }
}

const exitOf = (exit: ProcessExit | undefined) => exit ? { code: exit.code ?? null, signal: exit.signal ?? null } : null

const bufferOf = (bytes: Uint8Array | undefined) => bytes ? Buffer.from(bytes) : undefined

/** An unset time is null; a time out of range reaches the service as an invalid Date, which refuses it. */
const dateOf = (t: Timestamp | undefined) => t ? timestampDate(t) : null

export const supervisionService = (ctx: Context): ServiceImpl<typeof SupervisionService> => {
  const service = ctx.supervision
  return {
    async registerSupervisor (req, context) {
      return service.register(callerOf(context), {
        name: req.name, hostname: req.hostname, version: req.version, capacity: req.capacity, attachUrl: req.attachUrl, labels: req.labels, agents: req.agents,
      })
    },

    async claimRunners (req, context) {
      return { runners: (await service.claim(callerOf(context), req.limit)).map(toSupervisedRunnerProto) }
    },

    async listAssignedRunners (_req, context) {
      return { runners: (await service.assigned(callerOf(context))).map(toSupervisedRunnerProto) }
    },

    async beginStarts (req, context) {
      const starts = req.starts.map(s => ({ runnerId: s.runnerId, generation: Number(s.generation), restartAttempts: s.restartAttempts }))
      return { runners: (await service.beginMany(callerOf(context), starts)).map(toSupervisedRunnerProto) }
    },

    async restartRunner (req, context) {
      const { runnerId, generation } = ref(req.runner)
      const exit = exitOf(req.exit)
      const output = bufferOf(req.output)
      const row = await service.restart(callerOf(context), runnerId, generation, {
        attempt: req.attempt, delayMs: Number(req.delayMs), reason: req.reason, ...(output ? { output } : {}), ...(exit ? { exit } : {}),
      })
      return row ? { runner: toSupervisedRunnerProto(row) } : {}
    },

    async reportStarted (req, context) {
      const started = req.started.map(s => ({
        ...ref(s.runner), pid: s.pid, sessionId: s.sessionId ?? null, transcriptPath: s.transcriptPath ?? null, resumable: s.resumable,
      }))
      return { runners: (await service.running(callerOf(context), started)).map(toSupervisedRunnerProto) }
    },

    async reportExited (req, context) {
      const { runnerId, generation } = ref(req.runner)
      const output = bufferOf(req.output)
      const row = await service.exited(callerOf(context), runnerId, generation, { status: req.status, exit: exitOf(req.exit), reason: req.reason, ...(output ? { output } : {}) })
      return row ? { runner: toSupervisedRunnerProto(row) } : {}
    },

    async reportSession (req, context) {
      const { runnerId, generation } = ref(req.runner)
      await service.sessionSeen(callerOf(context), runnerId, generation, { sessionId: req.sessionId, transcriptPath: req.transcriptPath ?? null, resumable: req.resumable })
      return {}
    },

    async reportPausedStopped (req, context) {
      const { runnerId, generation } = ref(req.runner)
      await service.pausedStopped(callerOf(context), runnerId, generation)
      return {}
    },

    async resetRestartAttempts (req, context) {
      const { runnerId, generation } = ref(req.runner)
      await service.resetRestartAttempts(callerOf(context), runnerId, generation)
      return {}
    },

    async reportUsage (req, context) {
      const beats = req.usage.map(u => ({
        runnerId: u.runnerId, generation: Number(u.generation), cpuPercent: u.cpuPercent, memoryMb: u.memoryMb,
        inputTokens: Number(u.inputTokens), outputTokens: Number(u.outputTokens), cacheReadTokens: Number(u.cacheReadTokens), cacheCreationTokens: Number(u.cacheCreationTokens),
      }))
      const outcome = await service.heartbeat(callerOf(context), beats)
      return { acceptedRunnerIds: outcome.accepted, fencedRunnerIds: outcome.fenced, paused: outcome.paused.map(toSupervisedRunnerProto) }
    },

    async reportActivity (req, context) {
      const { runnerId, generation } = ref(req.runner)
      const changed = await service.activity(callerOf(context), runnerId, generation, {
        state: req.state, source: req.source, detail: req.detail ?? null, since: dateOf(req.since), resetsAt: dateOf(req.resetsAt), keepsDetail: req.keepsDetail,
      })
      return changed ? { changed: true, runner: toSupervisedRunnerProto(changed.runner), previous: toSupervisedActivityProto(changed.previous) } : { changed: false }
    },

    async reportUsageLimit (req, context) {
      const { runnerId, generation } = ref(req.runner)
      const outcome = await service.usageLimit(callerOf(context), runnerId, generation, { resetsAt: dateOf(req.resetsAt), message: req.message ?? null, source: req.source ?? null })
      return { paused: outcome.paused.map(toSupervisedRunnerProto), resetsAt: timestampFromDate(outcome.resetsAt), adjusted: outcome.adjusted }
    },

    async releaseNode (req, context) {
      return service.release(callerOf(context), req.mode)
    },

    async getTranscriptPosition (req, context) {
      const position = await service.transcripts.position(callerOf(context), req.sessionId)
      return position ? { position: toTranscriptPositionProto(position) } : {}
    },

    async appendTranscript (req, context) {
      const position = await service.transcripts.append(callerOf(context), req.sessionId, {
        offset: Number(req.offset), data: req.data, name: req.name ?? null, messages: req.messages, summary: req.summary ?? null, firstPrompt: req.firstPrompt ?? null,
      })
      return position ? { position: toTranscriptPositionProto(position) } : {}
    },

    async resetTranscript (req, context) {
      await service.transcripts.reset(callerOf(context), req.sessionId)
      return {}
    },

    async * readTranscript (req, context) {
      for await (const data of await service.transcripts.read(callerOf(context), req.sessionId, Number(req.endBytes))) yield { data }
    },
  }
}
