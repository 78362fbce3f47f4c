// The commands that start runners: `stratavore <project>` (smart launch), `new`, `resume`,
// `continue`. After a launch the CLI waits for the process to run (a spinner on a terminal),
// then attaches, or with --detach (or stdin not a terminal) prints the runner id and exits.
import { realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { ProjectSchema, type Project } from '../../gen/stratavore/v1/project_pb.js'
import { ConversationMode, LaunchRunnerRequestSchema, RunnerSchema, RunnerStatus, type Runner } from '../../gen/stratavore/v1/runner_pb.js'
import { isNotFound } from '../client.js'
import { flagValue, listValue, stringValue, type Command, type CommandContext } from '../context.js'
import { attachFollowing, finish, followHeadless, waitUntilRunning } from '../follow-run.js'
import { ACTIVE_STATUSES, ago, FINISHED_STATUSES, jsonOf, printJson, runnerStatusWord } from '../format.js'
import { CliError, UsageError } from '../io.js'
import { confirm, pick } from '../picker.js'
import { listAllRunners, resolveRunner } from '../runners.js'
const LAUNCH_FLAGS = ['agent', 'god', 'flag', 'env', 'prompt', 'node', 'selector', 'resume-after-limit']

const shortId = (r: Runner) => r.id.slice(0, 13)

const environmentOf = (c: CommandContext): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const item of listValue(c, 'env')) {
    const at = item.indexOf('=')
    // `--env NAME` passes this shell's value, as docker run -e does.
    const name = at === -1 ? item : item.slice(0, at)
    const value = at === -1 ? c.io.env[item] : item.slice(at + 1)
    if (!name) throw new UsageError(`--env ${item}: expected NAME=VALUE`)
    if (value === undefined) throw new UsageError(`--env ${item}: ${item} is not set here; give NAME=VALUE`)
    env[name] = value
  }
  return env
}

const launchRequest = (c: CommandContext, environment: Record<string, string>, project: string, mode: ConversationMode, sessionId?: string, agent?: string) => create(LaunchRunnerRequestSchema, {
  project,
  flags: listValue(c, 'flag'),
  environment,
  conversationMode: mode,
  ...(sessionId !== undefined ? { sessionId } : {}),
  ...(stringValue(c, 'agent') ?? agent ? { agent: stringValue(c, 'agent') ?? agent } : {}),
  ...(flagValue(c, 'god') ? { god: true } : {}),
  ...(flagValue(c, 'resume-after-limit') ? { resumeAfterLimit: true } : {}),
  ...(stringValue(c, 'prompt') !== undefined ? { prompt: stringValue(c, 'prompt') } : {}),
  ...(stringValue(c, 'node') !== undefined ? { node: stringValue(c, 'node') } : {}),
  nodeSelector: selectorOf(c),
})

const selectorOf = (c: CommandContext): Record<string, string> => Object.fromEntries(listValue(c, 'selector').map(pair => {
  const at = pair.indexOf('=')
  if (at <= 0) throw new UsageError(`--selector ${pair}: expected KEY=VALUE`)
  return [pair.slice(0, at), pair.slice(at + 1)]
}))

/** --detach, or stdin is no terminal to type into (a headless run needs none): launch and hand back the id. */
const detached = (c: CommandContext) => flagValue(c, 'detach') || (!c.io.stdin.isTTY && stringValue(c, 'prompt') === undefined)

const attachTo = async (c: CommandContext, runner: Runner, restartsFrom?: number): Promise<number> => {
  if (FINISHED_STATUSES.has(runner.status)) {
    throw new CliError(`runner ${shortId(runner)} has ${runnerStatusWord(runner.status) === 'failed' ? 'failed' : 'ended'}${runner.reason ? `: ${runner.reason}` : runner.exitCode !== undefined ? ` (exit code ${runner.exitCode})` : ''}; \`stratavore logs ${shortId(runner)}\` for its output`)
  }
  return attachFollowing(c, runner, runner.headless, restartsFrom)
}

/**
 * Launches, then: detached, waits until it really runs (or has ended) and prints its id, or
 * fails with the reason; headless, prints the agent's text (or with --output stream-json its
 * stream) until it ends; else attaches. Attached and headless runs exit with the agent's code.
 */
const launchAndFollow = async (c: CommandContext, request: ReturnType<typeof launchRequest>): Promise<number> => {
  const output = stringValue(c, 'output')
  if (output !== undefined && output !== 'text' && output !== 'stream-json') throw new UsageError(`--output: text or stream-json, got ${output}`)
  const launched = (await c.api.runners.launchRunner(request)).runner!
  const runner = await waitUntilRunning(c, launched.id, { settle: detached(c) })
  if (detached(c)) {
    if (runner.status === RunnerStatus.FAILED) {
      throw new CliError(`runner ${runner.id} failed${runner.reason ? `: ${runner.reason}` : runner.exitCode !== undefined ? ` with exit code ${runner.exitCode}` : ''}; \`stratavore logs ${shortId(runner)}\` for its output`)
    }
    if (c.out.json) printJson(c.out, jsonOf(c.out, RunnerSchema, runner))
    else c.out.print(runner.id)
    return 0
  }
  if (runner.headless) return followHeadless(c, runner, output === 'stream-json', launched.restartAttempts)
  if (FINISHED_STATUSES.has(runner.status)) return finish(c, runner)
  return attachTo(c, runner, launched.restartAttempts)
}

// A project is never created by surprise (a typo of a command once made one and launched an
// agent in it): only with --create, or after a yes on a terminal that shows where.
const projectOrCreate = async (c: CommandContext, name: string): Promise<Project> => {
  try {
    return (await c.api.projects.getProject({ name })).project!
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  const path = realpathSync(c.io.cwd)
  if (!flagValue(c, 'create')) {
    if (!c.io.stdin.isTTY) {
      throw new CliError(`project not found: ${name}; create it in ${path} with \`stratavore ${name} --create\`, or elsewhere with \`stratavore new ${name} --path DIR\``)
    }
    if (!await confirm(c.io, `project ${name} does not exist. Create it in ${path}?`)) throw new CliError(`project ${name} not created`)
  }
  const project = (await c.api.projects.createProject({ name, path })).project!
  c.out.note(`created project ${name} at ${path}`)
  return project
}

export const launch: Command = async c => {
  // Bad arguments are refused before anything is created.
  const environment = environmentOf(c)
  const project = await projectOrCreate(c, c.args[0]!)
  const runnerArg = stringValue(c, 'runner')
  if (runnerArg !== undefined) {
    const runner = await resolveRunner(c.api, runnerArg)
    if (runner.project !== project.name) throw new CliError(`runner ${shortId(runner)} belongs to project ${runner.project}, not ${project.name}`)
    if (detached(c)) throw new UsageError('--runner attaches; it cannot go with --detach or a stdin that is not a terminal')
    return attachTo(c, runner)
  }
  const wantsNew = flagValue(c, 'new') || detached(c) || LAUNCH_FLAGS.some(f => c.values[f] !== undefined)
  const active = wantsNew ? [] : (await listAllRunners(c.api, project.name)).filter(r => ACTIVE_STATUSES.has(r.status))
  const fresh = () => launchAndFollow(c, launchRequest(c, environment, project.name, ConversationMode.NEW))
  if (active.length === 0) return fresh()
  if (active.length === 1) {
    c.out.note(`attaching to runner ${shortId(active[0]!)} of ${project.name} (--new launches another)`)
    return attachTo(c, active[0]!)
  }
  const chosen = await pick<Runner | null>(c.io, `${project.name} has ${active.length} active runners:`,
    active.map(r => ({ value: r, label: `${shortId(r)}  ${r.agent}  ${runnerStatusWord(r.status)}${r.headless ? ' headless' : ''}  started ${ago(r.startedAt ?? r.createdAt)}` })),
    { key: 'n', label: 'launch a new runner', value: null })
  return chosen ? attachTo(c, chosen) : fresh()
}

export const newProject: Command = async c => {
  const path = resolve(c.io.cwd, stringValue(c, 'path') ?? '.')
  const project = (await c.api.projects.createProject({ name: c.args[0]!, path, description: stringValue(c, 'description') ?? '', tags: listValue(c, 'tag') })).project!
  if (c.out.json) printJson(c.out, jsonOf(c.out, ProjectSchema, project))
  else c.out.print(`created project ${project.name} at ${project.path}`)
  return 0
}

export const resume: Command = async c => {
  const [project, wanted] = c.args as [string, string | undefined]
  const environment = environmentOf(c)
  await c.api.projects.getProject({ name: project })
  const sessions = (await c.api.sessions.listSessions({ project, resumable: true })).sessions
  const matching = wanted === undefined ? sessions : sessions.filter(s => s.id.startsWith(wanted))
  if (matching.length === 0) {
    throw new CliError(wanted === undefined ? `no resumable sessions in ${project}` : `no resumable session ${wanted} in ${project} (see \`stratavore sessions ${project}\`)`)
  }
  let session = matching[0]!
  if (matching.length > 1) {
    if (!c.io.stdin.isTTY || wanted !== undefined) {
      throw new UsageError(`${matching.length} resumable sessions in ${project}${wanted !== undefined ? ` start with ${wanted}` : ''}; name one: stratavore resume ${project} <session> (see \`stratavore sessions ${project}\`)`)
    }
    session = await pick(c.io, `resumable sessions in ${project}:`, matching.map(s => ({ value: s, label: `${s.id}  ${s.agent}  ${s.messageCount} messages  last ${ago(s.lastMessageAt ?? s.startedAt)}${s.endedAt ? '' : '  live'}${s.summary ? `  ${s.summary.slice(0, 60)}` : ''}` })))
  }
  // A session whose runner still runs is joined, not resumed a second time (the daemon would
  // refuse that with SESSION_HAS_LIVE_RUNNER).
  const holder = session.runnerId && !session.endedAt ? await c.api.runners.getRunner({ id: session.runnerId }).then(r => r.runner, () => undefined) : undefined
  if (holder && ACTIVE_STATUSES.has(holder.status)) {
    if (detached(c)) {
      if (c.out.json) printJson(c.out, jsonOf(c.out, RunnerSchema, holder))
      else c.out.print(holder.id)
      return 0
    }
    c.out.note(`session ${session.id} is live in runner ${shortId(holder)}: attaching`)
    return attachTo(c, holder)
  }
  return launchAndFollow(c, launchRequest(c, environment, project, ConversationMode.RESUME, session.id, session.agent))
}

export const continueProject: Command = async c => launchAndFollow(c, launchRequest(c, environmentOf(c), c.args[0]!, ConversationMode.CONTINUE))
