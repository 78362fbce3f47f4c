// `stratavore project archive|rm|quota <name>`: what a project's owner does after creating it.
// archive stops new launches and keeps the history; rm deletes the project with its runner and
// session history (refused while a runner is active), after a yes on a terminal or with --yes;
// quota sets how many runners may be active at once.
import { ProjectSchema, type Project } from '../../gen/stratavore/v1/project_pb.js'
import { flagValue, stringValue, type Command, type CommandContext } from '../context.js'
import { jsonOf, printJson } from '../format.js'
import { CliError, UsageError } from '../io.js'
import { confirm } from '../picker.js'

const ACTIONS = ['archive', 'rm', 'quota'] as const
const MAX_QUOTA = 10_000

// A flag of another action is a mistake, not something to ignore.
const only = (c: CommandContext, action: string, allowed: string[]) => {
  const stray = ['yes', 'max-runners'].find(f => c.values[f] !== undefined && !allowed.includes(f))
  if (stray) throw new UsageError(`project ${action}: --${stray} is not one of its flags`)
}

const printProject = (c: CommandContext, project: Project, text: string) => {
  if (c.out.json) printJson(c.out, jsonOf(c.out, ProjectSchema, project))
  else c.out.print(text)
  return 0
}

const archive = async (c: CommandContext, name: string) => {
  only(c, 'archive', [])
  const project = (await c.api.projects.archiveProject({ name })).project!
  return printProject(c, project, `archived project ${project.name}: no new launches; its history is kept (\`stratavore project rm ${project.name}\` deletes it)`)
}

const remove = async (c: CommandContext, name: string) => {
  only(c, 'rm', ['yes'])
  const project = (await c.api.projects.getProject({ name })).project!
  if (!flagValue(c, 'yes')) {
    if (!c.io.stdin.isTTY) throw new UsageError(`project rm: deleting ${name} deletes its ${project.totalRunners} runners and ${project.totalSessions} sessions from the history; add --yes to do it`)
    const sure = await confirm(c.io, `delete project ${name} (${project.path}) with its ${project.totalRunners} runners and ${project.totalSessions} sessions from the history? The directory stays.`)
    if (!sure) throw new CliError(`project ${name} not deleted`)
  }
  await c.api.projects.deleteProject({ name })
  if (c.out.json) printJson(c.out, { name, deleted: true })
  else c.out.print(`deleted project ${name}`)
  return 0
}

const quota = async (c: CommandContext, name: string) => {
  only(c, 'quota', ['max-runners'])
  const text = stringValue(c, 'max-runners')
  if (text === undefined) throw new UsageError('project quota: give --max-runners N')
  const maxConcurrentRunners = Number(text)
  if (!Number.isInteger(maxConcurrentRunners) || maxConcurrentRunners < 0 || maxConcurrentRunners > MAX_QUOTA) {
    throw new UsageError(`project quota: --max-runners must be a whole number from 0 to ${MAX_QUOTA}, got ${text}`)
  }
  const project = (await c.api.projects.setQuota({ name, maxConcurrentRunners })).project!
  return printProject(c, project, `project ${project.name}: at most ${project.maxConcurrentRunners} runners active at once (${project.activeRunners} now)`)
}

export const project: Command = async c => {
  const [action, name] = c.args as [string, string]
  if (action === 'archive') return archive(c, name)
  if (action === 'rm') return remove(c, name)
  if (action === 'quota') return quota(c, name)
  throw new UsageError(`project: unknown action ${JSON.stringify(action)} (${ACTIONS.join(', ')})`)
}
