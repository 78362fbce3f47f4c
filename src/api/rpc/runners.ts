// stratavore.v1.RunnerService: thin handlers over ctx.runners, the use cases behind
// /api/v1/runners, checked with the same schemas.
import type { ServiceImpl } from '@connectrpc/connect'
import { readRunnerOutput } from '../../adapters/supervisor/runner-output.js'
import type { Context } from '../../context.js'
import { RunnerService } from '../../gen/stratavore/v1/runner_pb.js'
import { LaunchBody, RunnerListQuery, RunnerParams, StopBody } from '../rest/schemas.js'
import { actorOf } from './actor.js'
import { conversationModes, runnerStatuses, toRunnerProto } from './mappers.js'
import { checkShape, defined } from './validate.js'

export const runnerService = (ctx: Context): ServiceImpl<typeof RunnerService> => {
  const idOf = (id: string) => checkShape(RunnerParams, { id }).id

  return {
    async launchRunner (req, context) {
      const body = checkShape(LaunchBody, defined({
        project: req.project,
        agent: req.agent,
        projectPath: req.projectPath,
        flags: req.flags,
        capabilities: req.capabilities,
        environment: req.environment,
        conversationMode: conversationModes.fromProto('conversation_mode', req.conversationMode),
        sessionId: req.sessionId,
        god: req.god,
        prompt: req.prompt,
        runtimeType: req.runtimeType,
        maxRestartAttempts: req.maxRestartAttempts,
        node: req.node,
        nodeSelector: req.nodeSelector,
        resumeAfterLimit: req.resumeAfterLimit,
      }))
      return { runner: toRunnerProto(await ctx.runners.launch(body, actorOf(context))) }
    },

    async getRunner (req) {
      return { runner: toRunnerProto(await ctx.runners.get(idOf(req.id))) }
    },

    async listRunners (req) {
      const query = checkShape(RunnerListQuery, defined({
        project: req.project,
        status: runnerStatuses.fromProto('status', req.status),
        limit: req.limit,
        cursor: req.cursor,
      }))
      const page = await ctx.runners.list(query)
      return { runners: page.runners.map(toRunnerProto), total: page.total, nextCursor: page.nextCursor ?? undefined }
    },

    async stopRunner (req, context) {
      const id = idOf(req.id)
      const body = checkShape(StopBody, defined({ force: req.force, timeoutSeconds: req.timeoutSeconds }))
      return { runner: toRunnerProto(await ctx.runners.stop(id, body, actorOf(context))) }
    },

    async pauseRunner (req, context) {
      return { runner: toRunnerProto(await ctx.pauses.pause(idOf(req.id), actorOf(context))) }
    },

    async resumeRunner (req, context) {
      return { runner: toRunnerProto(await ctx.pauses.resume(idOf(req.id), actorOf(context))) }
    },

    // Read from the runner's supervisor as a viewer, wherever it runs (docs/api/attach.md), or
    // from what was kept when its process ended.
    async * watchRunnerOutput (req, context) {
      const id = checkShape(RunnerParams, { id: req.runnerId }).id
      for await (const chunk of readRunnerOutput(ctx.attach, id, { follow: req.follow, signal: context.signal, tunnels: ctx.nodeTunnels })) {
        yield chunk.kind === 'output' ? { data: chunk.data } : { data: new Uint8Array(), exit: { code: chunk.code ?? undefined, signal: chunk.signal ?? undefined } }
      }
    },
  }
}
