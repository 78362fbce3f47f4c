// stratavore.v1.ProjectService: thin handlers over ctx.projects, the use cases behind
// /api/v1/projects, checked with the same schemas.
import type { ServiceImpl } from '@connectrpc/connect'
import type { Context } from '../../context.js'
import { ProjectService } from '../../gen/stratavore/v1/project_pb.js'
import { CreateProjectBody, ProjectListQuery, ProjectParams, QuotaBody } from '../rest/schemas.js'
import { actorOf } from './actor.js'
import { projectStatuses, toProjectProto } from './mappers.js'
import { checkShape, defined } from './validate.js'

export const projectService = (ctx: Context): ServiceImpl<typeof ProjectService> => {
  const nameOf = (name: string) => checkShape(ProjectParams, { name }).name

  return {
    async createProject (req, context) {
      const body = checkShape(CreateProjectBody, { name: req.name, path: req.path, description: req.description, tags: req.tags })
      return { project: toProjectProto(await ctx.projects.create(body, actorOf(context))) }
    },

    async getProject (req) {
      return { project: toProjectProto(await ctx.projects.get(nameOf(req.name))) }
    },

    async listProjects (req) {
      const query = checkShape(ProjectListQuery, defined({ status: projectStatuses.fromProto('status', req.status) }))
      return { projects: (await ctx.projects.list(query)).map(toProjectProto) }
    },

    async archiveProject (req, context) {
      return { project: toProjectProto(await ctx.projects.archive(nameOf(req.name), actorOf(context))) }
    },

    async deleteProject (req, context) {
      await ctx.projects.delete(nameOf(req.name), actorOf(context))
      return {}
    },

    async setQuota (req, context) {
      const name = nameOf(req.name)
      const memory = req.maxMemoryMb === undefined ? undefined : req.maxMemoryMb === 0n ? null : Number(req.maxMemoryMb)
      const { maxConcurrentRunners, maxMemoryMb } = checkShape(QuotaBody, defined({ maxConcurrentRunners: req.maxConcurrentRunners, maxMemoryMb: memory }))
      return { project: toProjectProto(await ctx.projects.setQuota(name, maxConcurrentRunners, actorOf(context), maxMemoryMb)) }
    },
  }
}
