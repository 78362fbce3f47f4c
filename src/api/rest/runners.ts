// /api/v1/runners: thin handlers over ctx.runners.
import type { Static } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { readRunnerOutput } from '../../adapters/supervisor/runner-output.js'
import { toInboxItemDto, toRunnerDto } from './mappers.js'
import { InboxDto, InboxQuery, LaunchBody, RunnerDto, RunnerListQuery, RunnerPageDto, RunnerParams, StopBody, problems } from './schemas.js'

const tags = ['runners']

export const runnerRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.get<{ Querystring: Static<typeof RunnerListQuery> }>('/api/v1/runners', {
    schema: { tags, summary: 'List runners, newest first', querystring: RunnerListQuery, response: { 200: RunnerPageDto, ...problems(400, 503) } },
  }, async request => {
    const page = await ctx.runners.list(request.query)
    return { runners: page.runners.map(toRunnerDto), total: page.total, nextCursor: page.nextCursor }
  })

  app.post<{ Body: Static<typeof LaunchBody> }>('/api/v1/runners', {
    schema: {
      tags,
      summary: 'Launch a runner',
      description: 'Admits the runner against the project quota and token budgets and records it as pending; a supervisor starts it.',
      body: LaunchBody,
      response: { 201: Type.Ref(RunnerDto), ...problems(400, 404, 409, 429, 503) },
    },
  }, async (request, reply) => reply.code(201).send(toRunnerDto(await ctx.runners.launch(request.body, request.actor))))

  app.get<{ Params: Static<typeof RunnerParams> }>('/api/v1/runners/:id', {
    schema: { tags, summary: 'Get a runner', params: RunnerParams, response: { 200: Type.Ref(RunnerDto), ...problems(400, 404, 503) } },
  }, async request => toRunnerDto(await ctx.runners.get(request.params.id)))

  app.get<{ Params: Static<typeof RunnerParams> }>('/api/v1/runners/:id/output', {
    schema: {
      tags,
      summary: 'A runner\'s recent terminal output',
      description: 'While its process runs, the scrollback (the last `supervisor.scrollback_bytes` of output); once it has ended, or while ' +
        'it waits to restart, the last 64 KiB of output of its last life, kept in the database (empty for a runner stopped before it started). ' +
        'Raw bytes including terminal escapes. For live output use the attach WebSocket or the RPC `WatchRunnerOutput` with `follow`. ' +
        '409 for a runner that has not started yet.',
      params: RunnerParams,
      response: { 200: { description: 'the output', content: { 'text/plain': { schema: { type: 'string' } } } }, ...problems(400, 404, 409, 503) },
    },
  }, async (request, reply) => {
    const chunks: Buffer[] = []
    for await (const chunk of readRunnerOutput(ctx.attach, request.params.id, { follow: false, tunnels: ctx.nodeTunnels })) {
      if (chunk.kind === 'output') chunks.push(chunk.data)
    }
    return reply.type('text/plain; charset=utf-8').send(Buffer.concat(chunks))
  })

  app.post<{ Params: Static<typeof RunnerParams>, Body: Static<typeof StopBody> }>('/api/v1/runners/:id/stop', {
    // A body-less stop means the defaults.
    preValidation: async request => { request.body ??= {} },
    schema: {
      tags,
      summary: 'Stop a runner',
      description: 'Sets the desired state to stopped: SIGTERM to the process group, SIGKILL after timeoutSeconds, or at once with force.',
      params: RunnerParams,
      body: StopBody,
      response: { 202: Type.Ref(RunnerDto), ...problems(400, 404, 409, 503) },
    },
  }, async (request, reply) => reply.code(202).send(toRunnerDto(await ctx.runners.stop(request.params.id, request.body, request.actor))))
}

export const inboxRoutes = async (app: FastifyInstance) => {
  const { ctx } = app
  app.get<{ Querystring: Static<typeof InboxQuery> }>('/api/v1/inbox', {
    schema: {
      tags,
      summary: 'Runners waiting for a person',
      description: 'Running runners whose agent waits for a permission (`waiting_permission`) or an answer (`waiting_input`), the oldest wait first, ' +
        'with what each asks. The live changes are `runner.activity` events on the feed.',
      querystring: InboxQuery,
      response: { 200: InboxDto, ...problems(400, 503) },
    },
  }, async request => {
    const waiting = await ctx.runners.inbox(request.query)
    const now = ctx.clock.now()
    return { items: waiting.map(r => toInboxItemDto(r, now)) }
  })
}

export const runnerPauseRoutes = async (app: FastifyInstance) => {
  const { ctx } = app
  app.post<{ Params: Static<typeof RunnerParams> }>('/api/v1/runners/:id/pause', {
    schema: {
      tags,
      summary: 'Pause a runner',
      description: 'Its supervisor ends the agent gracefully and keeps its conversation; a paused runner holds no process and no quota slot. ' +
        'Pausing a paused runner changes nothing; a finished one is 409 `RUNNER_NOT_PAUSABLE`.',
      params: RunnerParams,
      response: { 200: Type.Ref(RunnerDto), ...problems(400, 404, 409, 503) },
    },
  }, async request => toRunnerDto(await ctx.pauses.pause(request.params.id, request.actor)))

  app.post<{ Params: Static<typeof RunnerParams> }>('/api/v1/runners/:id/resume', {
    schema: {
      tags,
      summary: 'Resume a paused runner',
      description: 'Admitted like a launch (429 `QUOTA_EXCEEDED` or `BUDGET_EXHAUSTED` leave it paused), then started again resuming its conversation. ' +
        '409 `RUNNER_NOT_PAUSED` for a runner that is not paused, `RUNNER_STILL_STOPPING` while its process is still ending.',
      params: RunnerParams,
      response: { 200: Type.Ref(RunnerDto), ...problems(400, 404, 409, 429, 503) },
    },
  }, async request => toRunnerDto(await ctx.pauses.resume(request.params.id, request.actor)))
}
