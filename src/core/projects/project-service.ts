// Project use cases. A project's path must be written plainly (project-path.ts), is checked
// against the file system through the PathResolver port and stored as its realpath, so two
// names can never hide the same directory behind a symlink and runners always start where the
// project really is; that realpath must lie where projects may (project-placement.ts).
import { budgetDeletedEvent } from '../budgets/budget-events.js'
import { errors } from '../errors.js'
import type { DomainEvent, EventType } from '../events/event.js'
import type { Clock, IdGenerator, PathResolver, Repositories, TransactionRepositories, UnitOfWork } from '../ports.js'
import { checkInteger, checkList, checkPattern, checkText } from '../validation.js'
import { PROJECT_NAME_PATTERN, type Project, type ProjectStatus } from './project.js'
import { checkProjectPathForm } from './project-path.js'
import { checkProjectPlacement, type ProjectPlacement } from './project-placement.js'

export interface CreateProjectInput {
  name: string
  path: string
  description?: string
  tags?: string[]
}

export interface ProjectServiceDeps {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  paths: PathResolver
  placement: ProjectPlacement
}

// These would be shadowed by the Lex WebUI's fixed routes (/api/v1/projects/list, ...).
const RESERVED_NAMES = new Set(['list', 'get', 'create', 'delete'])

export const checkProjectName = (name: string): string => {
  checkPattern('name', name, PROJECT_NAME_PATTERN, 'use 1-63 letters, digits, "-" or "_", starting with a letter or digit')
  if (RESERVED_NAMES.has(name.toLowerCase())) throw errors.invalidArgument(`project name ${JSON.stringify(name)} is reserved`, { field: 'name' })
  return name
}

export const createProjectService = ({ repos, uow, clock, ids, paths, placement }: ProjectServiceDeps) => {
  const projectEvent = async (tx: TransactionRepositories, type: EventType, name: string, actor: string, data: Record<string, unknown>) => {
    const event: DomainEvent = {
      eventId: ids.next(),
      type,
      occurredAt: clock.now(),
      project: name,
      aggregateType: 'project',
      aggregateId: name,
      seq: await tx.projects.nextSeq(name),
      actor,
      data,
    }
    await tx.events.append(event)
  }

  const get = async (name: string): Promise<Project> => {
    const project = await repos.projects.find(name)
    if (!project) throw errors.projectNotFound(name)
    return project
  }

  return {
    get,

    async list (filter: { status?: ProjectStatus } = {}): Promise<Project[]> {
      return repos.projects.list(filter)
    },

    async create (input: CreateProjectInput, actor: string): Promise<Project> {
      const name = checkProjectName(input.name)
      const rawPath = checkText('path', input.path, 4096)
      const description = checkText('description', input.description ?? '', 2000)
      const tags = checkList('tags', input.tags ?? [], 32, 64)
      checkProjectPathForm(rawPath)
      const resolved = await paths.resolveDirectory(rawPath)
      if (!resolved.ok) throw errors.invalidProjectPath(rawPath, resolved.reason)
      await checkProjectPlacement(resolved.realPath, placement, paths)

      await uow.run(async tx => {
        if (await tx.projects.find(name)) throw errors.projectExists(name)
        const owner = await tx.projects.findByPath(resolved.realPath)
        if (owner) throw errors.projectPathTaken(resolved.realPath, owner.name)
        await tx.projects.insert({ name, path: resolved.realPath, description, tags, createdAt: clock.now() })
        await projectEvent(tx, 'project.created', name, actor, { path: resolved.realPath, description, tags })
      })
      return get(name)
    },

    /** Archiving keeps history and refuses new launches; runners already active keep going. */
    async archive (name: string, actor: string): Promise<Project> {
      await uow.run(async tx => {
        // The lock first, as a launch takes it: the archive locks the project row and then the
        // project's audit chain, while a launch holds the chain lock and then touches the row.
        await tx.lockProject(name)
        const project = await tx.projects.find(name)
        if (!project) throw errors.projectNotFound(name)
        if (project.status === 'archived') return
        await tx.projects.archive(name, clock.now())
        await projectEvent(tx, 'project.archived', name, actor, {})
      })
      return get(name)
    },

    /** Deleting removes the project with its runners and sessions; refused while any runner is active. */
    async delete (name: string, actor: string): Promise<void> {
      await uow.run(async tx => {
        await tx.lockProject(name)
        const project = await tx.projects.find(name)
        if (!project) throw errors.projectNotFound(name)
        const active = await tx.runners.countActive(name)
        if (active > 0) throw errors.projectHasActiveRunners(name, active)
        // The event is written before the row goes: its seq comes from the project row.
        await projectEvent(tx, 'project.deleted', name, actor, { path: project.path })
        // Its budgets go with it, each with its budget.deleted event.
        const budgets = await tx.budgets.deleteForProject(name)
        await tx.events.appendMany(budgets.map(b => budgetDeletedEvent(b, actor, { ids, clock })))
        await tx.projects.delete(name)
      })
    },

    /** `maxMemoryMb`: undefined leaves the memory cap as it is, null removes it. */
    async setQuota (name: string, maxConcurrentRunners: number, actor: string, maxMemoryMb?: number | null): Promise<Project> {
      checkInteger('maxConcurrentRunners', maxConcurrentRunners, 0, 10_000)
      if (maxMemoryMb !== undefined && maxMemoryMb !== null) checkInteger('maxMemoryMb', maxMemoryMb, 1, 10_000_000)
      await uow.run(async tx => {
        await tx.lockProject(name)
        if (!await tx.projects.find(name)) throw errors.projectNotFound(name)
        await tx.quotas.setMaxConcurrentRunners(name, maxConcurrentRunners, clock.now())
        if (maxMemoryMb !== undefined) await tx.quotas.setMaxMemoryMb(name, maxMemoryMb, clock.now())
        await projectEvent(tx, 'project.quota_changed', name, actor, { maxConcurrentRunners, ...(maxMemoryMb !== undefined ? { maxMemoryMb } : {}) })
      })
      return get(name)
    },
  }
}

export type ProjectService = ReturnType<typeof createProjectService>
