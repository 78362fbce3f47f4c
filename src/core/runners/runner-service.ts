// Runner use cases. A launch is one READ COMMITTED transaction that takes the project's
// advisory lock first, so that the quota count it reads includes every launch committed
// before it (REPEATABLE READ would take its snapshot before the lock and leak the quota:
// shared/reference/reliability-and-performance.md, M8). Supervisors act on the rows later.
import { scopeLabel } from '../budgets/budget.js'
import { errors } from '../errors.js'
import type { EventType } from '../events/event.js'
import { placeRunner } from '../nodes/placement.js'
import { checkProjectPathForm } from '../projects/project-path.js'
import { checkProjectPlacement, isInside, type ProjectPlacement } from '../projects/project-placement.js'
import type { AgentCatalogue, Clock, IdGenerator, PathResolver, Repositories, RunnerFilter, TransactionRepositories, UnitOfWork } from '../ports.js'
import type { Session } from '../sessions/session.js'
import { checkInteger } from '../validation.js'
import { checkLaunchInput, type LaunchInput } from './launch-input.js'
import { checkLaunchEnvironment, checkLaunchFlags } from './launch-policy.js'
import { isActive, runnerEventOf, type Runner } from './runner.js'

export interface RunnerServiceDeps {
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  paths: PathResolver
  agents: AgentCatalogue
  placement: ProjectPlacement
  heartbeatTtlSeconds: number
  /** The SIGTERM → SIGKILL grace of a stop that names none, recorded on the runner so everyone sees when it escalates. */
  defaultStopTimeoutSeconds?: number
}

export interface StopInput { force?: boolean, timeoutSeconds?: number }

export interface RunnerPage { runners: Runner[], total: number, nextCursor: string | null }

export const MAX_PAGE_SIZE = 500

const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url')
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const decodeCursor = (cursor: string): string => {
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!UUID.test(id)) throw errors.invalidCursor()
  return id
}

/**
 * A recorded session resumes in its own project, with an agent of its kind whose CLI resumes
 * by id. An id Stratavore never recorded (a conversation started outside it) goes to the CLI as given.
 */
const checkResumable = (session: Session, project: string, agent: string, agents: AgentCatalogue) => {
  if (session.projectName !== project) throw errors.sessionNotInProject(session.id, project, session.projectName)
  if (!session.resumable) throw errors.sessionNotResumable(session.id, session.agent, 'its agent\'s CLI has no way to resume a conversation')
  if (!agents.canResume(agent)) throw errors.sessionNotResumable(session.id, session.agent, `agent ${agent} cannot resume a conversation`)
  const kind = agents.kindOf(session.agent)
  if (kind !== null && kind !== agents.kindOf(agent)) throw errors.sessionAgentMismatch(session.id, agent, session.agent)
}

export const createRunnerService = ({ repos, uow, clock, ids, paths, agents, placement, heartbeatTtlSeconds, defaultStopTimeoutSeconds }: RunnerServiceDeps) => {
  const runnerEvent = (tx: TransactionRepositories, type: EventType, runner: Runner, actor: string, data: Record<string, unknown>) =>
    tx.events.append(runnerEventOf(runner, type, actor, data, { ids, clock }))
  const get = async (id: string): Promise<Runner> => {
    // A malformed id names no runner; checking here keeps it from reaching a uuid column.
    const runner = UUID.test(id) ? await repos.runners.find(id.toLowerCase()) : null
    if (!runner) throw errors.runnerNotFound(id)
    return runner
  }

  const resolveWorkingDirectory = async (projectPath: string, requested: string | null): Promise<string> => {
    // The stored path was a realpath when the project was made: if it resolves elsewhere now,
    // a component was swapped for a symlink. A directory that is gone is the supervisor's to
    // report; the roots may have changed since, so the placement is checked again.
    const current = await paths.realPathOf(projectPath)
    if (current !== null && current !== projectPath) throw errors.projectPathNotAllowed(projectPath, `it now resolves to ${current}`)
    if (current !== null) await checkProjectPlacement(current, placement, paths)
    if (!requested) return projectPath
    checkProjectPathForm(requested)
    const resolved = await paths.resolveDirectory(requested)
    if (!resolved.ok) throw errors.invalidProjectPath(requested, resolved.reason)
    if (!isInside(resolved.realPath, projectPath)) throw errors.invalidProjectPath(requested, `must be inside the project directory ${projectPath}`)
    return resolved.realPath
  }

  return {
    get,

    async launch (input: LaunchInput, actor: string): Promise<Runner> {
      let launch = checkLaunchInput(input, agents.defaultAgent)
      // A recorded session is resumed by the agent that holds it unless the launch names one.
      const session = launch.conversationMode === 'resume' ? await repos.sessions.find(launch.sessionId!) : null
      if (session && !input.agent) launch = { ...launch, agent: session.agent }
      if (!agents.has(launch.agent)) throw errors.unknownAgent(launch.agent, agents.names())
      const policy = agents.launchPolicy(launch.agent)
      checkLaunchEnvironment(launch.agent, launch.environment, policy)
      checkLaunchFlags(launch.agent, launch.flags, policy)
      const projectName = launch.project
      const projectPath = await repos.projects.pathOf(projectName)
      if (!projectPath) throw errors.projectNotFound(projectName)
      const workingDirectory = await resolveWorkingDirectory(projectPath, launch.projectPath)
      if (session) checkResumable(session, launch.project, launch.agent, agents)
      const limits = agents.usageLimitPolicy(launch.agent, launch.environment)

      return uow.run(async tx => {
        await tx.lockProject(projectName)
        // Read after the lock: every launch committed before it is counted.
        const admission = await tx.projects.admission(projectName, clock.now(), launch.agent)
        if (!admission) throw errors.projectNotFound(projectName)
        if (admission.archived) throw errors.projectArchived(projectName)
        if (admission.activeRunners >= admission.maxConcurrentRunners) {
          throw errors.quotaExceeded(projectName, admission.activeRunners, admission.maxConcurrentRunners)
        }
        // Under the project's lock: two resumes of one session cannot both pass.
        const holder = session ? await tx.runners.activeForSession(projectName, session.id) : null
        if (holder) throw errors.sessionHasLiveRunner(session!.id, holder.id)
        const budget = admission.exhaustedBudget
        if (budget) throw errors.budgetExhausted(scopeLabel(budget), budget.usedTokens, budget.limitTokens)
        const now = clock.now()
        const runner = await tx.runners.insert({
          id: ids.next(),
          projectName,
          projectPath: workingDirectory,
          agent: launch.agent,
          nodeId: placeRunner(admission.nodes, { agent: launch.agent, node: launch.node, selector: launch.nodeSelector }),
          flags: launch.flags,
          capabilities: launch.capabilities,
          environment: launch.environment,
          conversationMode: launch.conversationMode,
          sessionId: launch.sessionId,
          god: launch.god,
          prompt: launch.prompt,
          maxRestartAttempts: launch.maxRestartAttempts,
          heartbeatTtlSeconds: heartbeatTtlSeconds,
          resumeAfterLimit: launch.resumeAfterLimit ?? limits.resumeAfterLimit,
          limitAccount: limits.account,
          createdBy: actor,
          createdAt: now,
        })
        await tx.projects.touch(projectName, now)
        await runnerEvent(tx, 'runner.launched', runner, actor, {
          agent: runner.agent,
          node_id: runner.nodeId,
          conversation_mode: runner.conversationMode,
          session_id: runner.sessionId,
          headless: runner.prompt !== null,
        })
        return runner
      })
    },

    /** Running runners whose agent waits for a person, the oldest wait first (activity.ts). */
    async inbox (filter: { project?: string, limit?: number }): Promise<Runner[]> {
      const limit = checkInteger('limit', filter.limit ?? MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
      return repos.runners.waiting({ ...(filter.project !== undefined ? { project: filter.project } : {}), limit })
    },

    async list (filter: RunnerFilter & { limit?: number, cursor?: string }): Promise<RunnerPage> {
      const limit = checkInteger('limit', filter.limit ?? 50, 1, MAX_PAGE_SIZE)
      const beforeId = filter.cursor ? decodeCursor(filter.cursor) : undefined
      const where: RunnerFilter = {
        ...(filter.project !== undefined ? { project: filter.project } : {}),
        ...(filter.status !== undefined ? { status: filter.status } : {}),
      }
      // One more than asked tells whether another page exists without a second query.
      const rows = await repos.runners.list({ ...where, limit: limit + 1, ...(beforeId ? { beforeId } : {}) })
      const runners = rows.slice(0, limit)
      const last = runners.at(-1)
      return {
        runners,
        total: await repos.runners.count(where),
        nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null,
      }
    },

    /** Every runner matching the filter, newest first, read page by page. */
    async listAll (filter: RunnerFilter): Promise<{ runners: Runner[], total: number }> {
      const all: Runner[] = []
      let cursor: string | null = null
      do {
        const page: RunnerPage = await this.list({ ...filter, limit: MAX_PAGE_SIZE, ...(cursor ? { cursor } : {}) })
        all.push(...page.runners)
        cursor = page.nextCursor
      } while (cursor)
      return { runners: all, total: all.length }
    },

    /**
     * Records the wish to stop; the supervisor does the stopping. A runner no supervisor has
     * picked up yet, or a paused one, has no process, so it is terminated here and now.
     */
    async stop (id: string, input: StopInput, actor: string): Promise<Runner> {
      const force = input.force ?? false
      const timeoutSeconds = input.timeoutSeconds !== undefined
        ? checkInteger('timeoutSeconds', input.timeoutSeconds, 0, 3600)
        : force ? null : defaultStopTimeoutSeconds ?? null
      if (!UUID.test(id)) throw errors.runnerNotFound(id)
      return uow.run(async tx => {
        const runner = await tx.runners.find(id)
        if (!runner) throw errors.runnerNotFound(id)
        if (!isActive(runner.status)) throw errors.runnerNotActive(id, runner.status)
        const at = clock.now()
        const idle = runner.status === 'pending' || (runner.status === 'paused' && runner.runtimeId === '')
        const unstarted = idle ? await tx.runners.terminateUnstarted(id, at) : null
        if (unstarted) {
          if (unstarted.sessionId) await tx.supervision.endSession(unstarted.sessionId, unstarted.id)
          await runnerEvent(tx, 'runner.stopped', unstarted, actor, { reason: runner.status === 'paused' ? 'stopped while paused' : 'stopped before start', exit_code: null })
          return unstarted
        }
        // A lost runner's supervisor cannot be reached: the stop is recorded now, and should
        // its node come back, the new generation fences it and it ends the process itself.
        const unreachable = runner.status === 'lost' ? await tx.runners.terminateLost(id, at) : null
        if (unreachable) {
          if (unreachable.sessionId) await tx.supervision.endSession(unreachable.sessionId, unreachable.id)
          await runnerEvent(tx, 'runner.stopped', unreachable, actor, { reason: 'stopped while its node was lost', exit_code: null })
          return unreachable
        }
        const stopping = await tx.runners.requestStop(id, { force, timeoutSeconds, at })
        if (!stopping) throw errors.runnerNotActive(id, runner.status)
        await runnerEvent(tx, 'runner.stop_requested', stopping, actor, { force, timeout_seconds: timeoutSeconds })
        return stopping
      })
    },
  }
}

export type RunnerService = ReturnType<typeof createRunnerService>
