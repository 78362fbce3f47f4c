// /api/v1/projects: thin handlers over ctx.projects.
import type { Static } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { toProjectDto } from './mappers.js'
import { CreateProjectBody, ProjectDto, ProjectListQuery, ProjectParams, QuotaBody, problems } from './schemas.js'

const tags = ['projects']

export const projectRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.get<{ Querystring: Static<typeof ProjectListQuery> }>('/api/v1/projects', {
    schema: { tags, summary: 'List projects', querystring: ProjectListQuery, response: { 200: Type.Object({ projects: Type.Array(Type.Ref(ProjectDto)) }), ...problems(400, 503) } },
  }, async request => ({ projects: (await ctx.projects.list(request.query)).map(toProjectDto) }))

  app.post<{ Body: Static<typeof CreateProjectBody> }>('/api/v1/projects', {
    schema: { tags, summary: 'Create a project', body: CreateProjectBody, response: { 201: Type.Ref(ProjectDto), ...problems(400, 409, 503) } },
  }, async (request, reply) => reply.code(201).send(toProjectDto(await ctx.projects.create(request.body, request.actor))))

  app.get<{ Params: Static<typeof ProjectParams> }>('/api/v1/projects/:name', {
    schema: { tags, summary: 'Get a project', params: ProjectParams, response: { 200: Type.Ref(ProjectDto), ...problems(400, 404, 503) } },
  }, async request => toProjectDto(await ctx.projects.get(request.params.name)))

  app.post<{ Params: Static<typeof ProjectParams> }>('/api/v1/projects/:name/archive', {
    schema: { tags, summary: 'Archive a project (no new launches; history kept)', params: ProjectParams, response: { 200: Type.Ref(ProjectDto), ...problems(400, 404, 503) } },
  }, async request => toProjectDto(await ctx.projects.archive(request.params.name, request.actor)))

  app.delete<{ Params: Static<typeof ProjectParams> }>('/api/v1/projects/:name', {
    schema: {
      tags, summary: 'Delete a project with its runner and session history', params: ProjectParams,
      response: { 204: Type.Null({ description: 'deleted' }), ...problems(400, 404, 409, 503) },
    },
  }, async (request, reply) => {
    await ctx.projects.delete(request.params.name, request.actor)
    return reply.code(204).send()
  })

  app.put<{ Params: Static<typeof ProjectParams>, Body: Static<typeof QuotaBody> }>('/api/v1/projects/:name/quota', {
    schema: { tags, summary: "Set a project's runner quota", params: ProjectParams, body: QuotaBody, response: { 200: Type.Ref(ProjectDto), ...problems(400, 404, 503) } },
  }, async request => toProjectDto(await ctx.projects.setQuota(request.params.name, request.body.maxConcurrentRunners, request.actor, request.body.maxMemoryMb)))
}
