// The Lex WebUI routes, exactly as shared/contracts/lex-webui.md says: the app is not ours to
// change. Shape errors are 400 problems like everywhere else; domain errors are a 200 whose
// body has `error` (the app reads r.data.error). Handlers call the same use cases as REST.
import type { Static, TSchema } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isAppError } from '../../core/errors.js'
import { checkHealth } from '../health.js'
import { problems } from '../rest/schemas.js'
import { toWebuiDaemon, toWebuiPullRequest, toWebuiMetrics, toWebuiMetricsSnake, toWebuiProject, toWebuiRunner, toWebuiSession } from './mappers.js'
import {
  CreateProjectRequest, DaemonStatus, FleetPrs, FleetQuery, DeleteProjectRequest, GlobalMetrics, LaunchRunnerRequest, MetricsSnake, OptionalProjectQuery, ProjectNameQuery,
  RequiredProjectQuery, RunnerIdQuery, SessionIdQuery, StatusQuery, StopRunnerRequest, Success, WebuiProject, WebuiRunner, WebuiSession, orError,
} from './schemas.js'

const tags = ['webui']

/** Turns a client-facing AppError into the app's `{ error }` body; anything else propagates. */
const domainError = async <T>(work: () => Promise<T>, onError: (message: string) => object = message => ({ error: message })) => {
  try {
    return await work()
  } catch (err) {
    if (isAppError(err) && err.kind !== 'internal' && err.kind !== 'unavailable') return onError(err.message)
    throw err
  }
}

// Folds `project_name`, `ProjectName` and `projectname` onto `projectName`.
const fold = (key: string) => key.replace(/[_-]/g, '').toLowerCase()
const keyFolder = (schema: TSchema) => {
  const canonical = new Map(Object.keys((schema as { properties?: object }).properties ?? {}).map(k => [fold(k), k]))
  return async (request: FastifyRequest) => {
    const body = request.body
    if (!body || typeof body !== 'object' || Array.isArray(body)) return
    request.body = Object.fromEntries(Object.entries(body).map(([k, v]) => [canonical.get(fold(k)) ?? k, v]))
  }
}

export const webuiRoutes = async (app: FastifyInstance) => {
  const { ctx } = app
  const failure = (message: string) => ({ success: false, error: message })

  app.get('/api/v1/health', {
    schema: { tags, summary: 'Liveness and database reachability: 503 when the database is unreachable or its connection pool saturated', response: { 200: Type.String({ description: 'OK' }), ...problems(503) } },
  }, async (_request, reply) => {
    await checkHealth(ctx)
    return reply.type('text/plain; charset=utf-8').send('OK')
  })

  app.get('/api/v1/status', {
    schema: { tags, summary: 'Daemon status and global metrics', response: { 200: Type.Object({ daemon: Type.Ref(DaemonStatus), metrics: Type.Ref(GlobalMetrics) }), ...problems(503) } },
  }, async () => ({ daemon: toWebuiDaemon(await ctx.status.daemon()), metrics: toWebuiMetrics(await ctx.status.metrics()) }))

  app.get('/api/v1/metrics', {
    schema: { tags, summary: 'Global metrics (snake_case)', response: { 200: Type.Ref(MetricsSnake), ...problems(503) } },
  }, async () => toWebuiMetricsSnake(await ctx.status.metrics()))

  app.post('/api/v1/reconcile', {
    schema: { tags, summary: 'Run a reconcile pass now', response: { 200: Type.Object({ reconciledCount: Type.Integer(), failedRunnerIds: Type.Array(Type.String()) }), ...problems(503) } },
  }, async request => {
    const result = await ctx.reconciler.reconcile(request.actor)
    return { reconciledCount: result.reconciledCount, failedRunnerIds: result.failedRunnerIds }
  })

  app.get<{ Querystring: Static<typeof FleetQuery> }>('/api/v1/fleet/prs', {
    schema: {
      tags,
      summary: 'Open pull requests across the configured repositories',
      querystring: FleetQuery,
      response: { 200: FleetPrs, 503: Type.Object({ error: Type.String() }), ...problems(400) },
    },
  }, async (request, reply) => {
    if (!ctx.fleet.configured()) return reply.code(503).send({ error: 'no fleet is configured: set github.token and github.fleet_repos' })
    const snapshot = await ctx.fleet.openPullRequests({ refresh: request.query.refresh ?? false })
    return { prs: snapshot.prs.map(toWebuiPullRequest), cached_at: snapshot.cachedAt.toISOString(), total: snapshot.prs.length }
  })

  app.get<{ Querystring: Static<typeof OptionalProjectQuery> }>('/api/v1/runners/list', {
    schema: { tags, summary: 'All runners known, newest first', querystring: OptionalProjectQuery, response: { 200: orError(Type.Object({ runners: Type.Array(Type.Ref(WebuiRunner)), total: Type.Integer() })), ...problems(400, 503) } },
  }, async request => domainError(async () => {
    const { runners, total } = await ctx.runners.listAll(request.query.project ? { project: request.query.project } : {})
    return { runners: runners.map(toWebuiRunner), total }
  }))

  app.get<{ Querystring: Static<typeof RunnerIdQuery> }>('/api/v1/runners/get', {
    schema: { tags, summary: 'One runner', querystring: RunnerIdQuery, response: { 200: orError(Type.Object({ runner: Type.Ref(WebuiRunner) })), ...problems(400, 503) } },
  }, async request => domainError(async () => ({ runner: toWebuiRunner(await ctx.runners.get(request.query.id)) })))

  app.post<{ Body: Static<typeof LaunchRunnerRequest> }>('/api/v1/runners/launch', {
    preValidation: keyFolder(LaunchRunnerRequest),
    schema: { tags, summary: 'Launch a runner', body: LaunchRunnerRequest, response: { 200: orError(Type.Object({ runner: Type.Ref(WebuiRunner) })), ...problems(400, 503) } },
  }, async request => domainError(async () => {
    const { projectName, ...rest } = request.body
    return { runner: toWebuiRunner(await ctx.runners.launch({ ...rest, project: projectName }, request.actor)) }
  }))

  app.post<{ Body: Static<typeof StopRunnerRequest> }>('/api/v1/runners/stop', {
    preValidation: keyFolder(StopRunnerRequest),
    schema: { tags, summary: 'Stop a runner', body: StopRunnerRequest, response: { 200: Success, ...problems(400, 503) } },
  }, async request => domainError(async () => {
    const { runnerId, ...stop } = request.body
    await ctx.runners.stop(runnerId, stop, request.actor)
    return { success: true }
  }, failure))

  app.get<{ Querystring: Static<typeof StatusQuery> }>('/api/v1/projects/list', {
    schema: { tags, summary: 'Projects', querystring: StatusQuery, response: { 200: orError(Type.Object({ projects: Type.Array(Type.Ref(WebuiProject)) })), ...problems(400, 503) } },
  }, async request => domainError(async () => ({ projects: (await ctx.projects.list(request.query.status ? { status: request.query.status } : {})).map(toWebuiProject) })))

  app.post<{ Body: Static<typeof CreateProjectRequest> }>('/api/v1/projects/create', {
    preValidation: keyFolder(CreateProjectRequest),
    schema: { tags, summary: 'Create a project', body: CreateProjectRequest, response: { 200: orError(Type.Object({ project: Type.Ref(WebuiProject) })), ...problems(400, 503) } },
  }, async request => domainError(async () => ({ project: toWebuiProject(await ctx.projects.create(request.body, request.actor)) })))

  app.get<{ Querystring: Static<typeof ProjectNameQuery> }>('/api/v1/projects/get', {
    schema: { tags, summary: 'One project', querystring: ProjectNameQuery, response: { 200: orError(Type.Object({ project: Type.Ref(WebuiProject) })), ...problems(400, 503) } },
  }, async request => domainError(async () => ({ project: toWebuiProject(await ctx.projects.get(request.query.name)) })))

  app.post<{ Body: Static<typeof DeleteProjectRequest> }>('/api/v1/projects/delete', {
    preValidation: keyFolder(DeleteProjectRequest),
    schema: { tags, summary: 'Archive a project', body: DeleteProjectRequest, response: { 200: Success, ...problems(400, 503) } },
  }, async request => domainError(async () => {
    await ctx.projects.archive(request.body.name, request.actor)
    return { success: true }
  }, failure))

  app.get<{ Querystring: Static<typeof RequiredProjectQuery> }>('/api/v1/sessions/list', {
    schema: { tags, summary: "A project's sessions", querystring: RequiredProjectQuery, response: { 200: orError(Type.Object({ sessions: Type.Array(Type.Ref(WebuiSession)) })), ...problems(400, 503) } },
  }, async request => domainError(async () => ({ sessions: (await ctx.sessions.list({ project: request.query.project })).map(toWebuiSession) })))

  app.get<{ Querystring: Static<typeof SessionIdQuery> }>('/api/v1/sessions/get', {
    schema: { tags, summary: 'One session', querystring: SessionIdQuery, response: { 200: orError(Type.Object({ session: Type.Ref(WebuiSession) })), ...problems(400, 503) } },
  }, async request => domainError(async () => ({ session: toWebuiSession(await ctx.sessions.get(request.query.session_id)) })))
}
