// `stratavore kill`: stop runners by id, a project's (--project) or every one (--all, after a
// yes on a terminal or --yes). It says what was sent: SIGTERM and when SIGKILL follows (the
// runner's grace, which the daemon records on the stop), SIGKILL when the grace runs out, and
// how each runner ended. It waits for them all unless --no-wait.
import { createInterface } from 'node:readline/promises'
import { RunnerSchema, RunnerStatus, type Runner } from '../../gen/stratavore/v1/runner_pb.js'
import { flagValue, stringValue, type Command, type CommandContext } from '../context.js'
import { ACTIVE_STATUSES, FINISHED_STATUSES, jsonOf, printJson, runnerStatusWord, shortIdLength } from '../format.js'
import { CliError, UsageError, type Io } from '../io.js'
import { listAllRunners, resolveRunner } from '../runners.js'
import { createSpinner } from '../wait.js'

// Time for the supervisor to notice the stop and report the end, beyond the grace itself.
const STOP_SLACK_MS = 30_000
const POLL_MS = 200

const askYes = async (io: Io, question: string): Promise<boolean> => {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false })
  try {
    io.stderr.write(`${question} [y/N] `)
    return /^y(es)?$/i.test((await rl.question('')).trim())
  } finally {
    rl.close()
    io.stdin.pause()
  }
}

const timeoutOf = (c: CommandContext): number | undefined => {
  const text = stringValue(c, 'timeout')
  if (text === undefined) return undefined
  const seconds = Number(text)
  if (!(Number.isInteger(seconds) && seconds >= 0 && seconds <= 3600)) throw new UsageError(`kill: --timeout must be whole seconds from 0 to 3600, got ${text}`)
  return seconds
}

/** The runners named, or those of --project, or all with --all; refused ones (already ended) go to `ended`. */
const targetsOf = async (c: CommandContext): Promise<{ targets: Runner[], ended: Runner[], bulk: string | null }> => {
  const project = stringValue(c, 'project')
  const all = flagValue(c, 'all')
  if ((project !== undefined || all) && c.args.length > 0) throw new UsageError('kill: give runner ids, or --project, or --all, not both')
  if (project !== undefined && all) throw new UsageError('kill: --project and --all do not go together')
  if (project === undefined && !all) {
    if (c.args.length === 0) throw new UsageError('kill: missing <runner> (or --project P, or --all)')
    const named = await Promise.all(c.args.map(id => resolveRunner(c.api, id)))
    const unique = [...new Map(named.map(r => [r.id, r])).values()]
    return { targets: unique.filter(r => !FINISHED_STATUSES.has(r.status)), ended: unique.filter(r => FINISHED_STATUSES.has(r.status)), bulk: null }
  }
  if (project !== undefined) await c.api.projects.getProject({ name: project })
  const active = (await listAllRunners(c.api, project)).filter(r => ACTIVE_STATUSES.has(r.status) || r.status === RunnerStatus.STOPPING || r.status === RunnerStatus.LOST)
  return { targets: active, ended: [], bulk: project !== undefined ? `project ${project}` : 'every project' }
}

const describeEnd = (r: Runner) => `runner ${r.id} ${runnerStatusWord(r.status)}${r.reason ? ` (${r.reason})` : r.exitCode !== undefined ? ` (exit code ${r.exitCode})` : ''}`

export const kill: Command = async c => {
  const timeoutSeconds = timeoutOf(c)
  const force = flagValue(c, 'force')
  const { targets, ended, bulk } = await targetsOf(c)
  const alreadyEnded = (r: Runner) => `runner ${r.id} has already ended (${runnerStatusWord(r.status)})`
  if (targets.length === 0) {
    if (bulk !== null) { c.out.note(`no active runners in ${bulk}`); return 0 }
    throw new CliError(ended.map(alreadyEnded).join('; '))
  }
  for (const r of ended) c.out.note(`stratavore: ${alreadyEnded(r)}`)
  const idLength = shortIdLength(targets.map(r => r.id))
  const short = (r: Runner) => r.id.slice(0, Math.max(idLength, 13))
  if (bulk !== null && !flagValue(c, 'yes')) {
    const list = targets.slice(0, 10).map(r => `  ${short(r)}  ${r.project}  ${r.agent}  ${runnerStatusWord(r.status)}`).join('\n')
    const what = `stop ${targets.length} runner${targets.length === 1 ? '' : 's'} of ${bulk}${force ? ' with SIGKILL' : ''}`
    if (!c.io.stdin.isTTY) throw new UsageError(`kill: this would ${what}; add --yes to confirm`)
    c.out.note(`${list}${targets.length > 10 ? `\n  … and ${targets.length - 10} more` : ''}`)
    if (!await askYes(c.io, `${what}?`)) { c.out.note('nothing stopped'); return 1 }
  }

  // Each stop, and what it sent; a runner that ended meanwhile is not an error.
  const stopping: Array<{ runner: Runner, graceMs: number, at: number, escalated: boolean }> = []
  for (const target of targets) {
    let runner: Runner
    try {
      runner = (await c.api.runners.stopRunner({ id: target.id, ...(force ? { force } : {}), ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) })).runner!
    } catch (err) {
      const now = (await c.api.runners.getRunner({ id: target.id })).runner!
      if (!FINISHED_STATUSES.has(now.status)) throw err
      runner = now
    }
    const graceMs = force ? 0 : (runner.stopTimeoutSeconds ?? timeoutSeconds ?? 0) * 1000
    if (!FINISHED_STATUSES.has(runner.status)) {
      c.out.note(force || graceMs === 0
        ? `runner ${short(runner)}: SIGKILL sent`
        : `runner ${short(runner)}: SIGTERM sent; SIGKILL in ${graceMs / 1000}s if it has not exited by then`)
    }
    stopping.push({ runner, graceMs, at: Date.now(), escalated: force || graceMs === 0 })
  }
  if (!flagValue(c, 'no-wait')) await waitForEnds(c, stopping, short)

  const ends = stopping.map(s => s.runner)
  if (c.out.json) printJson(c.out, c.args.length === 1 && bulk === null ? jsonOf(c.out, RunnerSchema, ends[0]!) : ends.map(r => jsonOf(c.out, RunnerSchema, r)))
  else for (const r of ends) c.out.print(FINISHED_STATUSES.has(r.status) ? describeEnd(r) : `runner ${r.id} ${runnerStatusWord(r.status)} (stop requested)`)
  return ended.length > 0 ? 1 : 0
}

/** Polls until every runner has ended; says when a grace runs out (the supervisor sends SIGKILL then). */
const waitForEnds = async (c: CommandContext, stopping: Array<{ runner: Runner, graceMs: number, at: number, escalated: boolean }>, short: (r: Runner) => string) => {
  const spinner = createSpinner(c.io)
  const deadline = Date.now() + Math.max(...stopping.map(s => s.graceMs)) + STOP_SLACK_MS
  try {
    for (;;) {
      const open = stopping.filter(s => !FINISHED_STATUSES.has(s.runner.status))
      if (open.length === 0) return
      for (const s of open) {
        s.runner = (await c.api.runners.getRunner({ id: s.runner.id })).runner!
        // An end that came by SIGKILL between two looks is told too, from the runner's reason.
        const killedAfterGrace = FINISHED_STATUSES.has(s.runner.status) && /SIGKILL after/.test(s.runner.reason ?? '')
        if (s.escalated || (FINISHED_STATUSES.has(s.runner.status) ? !killedAfterGrace : Date.now() - s.at < s.graceMs)) continue
        s.escalated = true
        spinner.stop()
        c.out.note(`runner ${short(s.runner)}: still running ${s.graceMs / 1000}s after SIGTERM; SIGKILL sent`)
      }
      const left = stopping.filter(s => !FINISHED_STATUSES.has(s.runner.status))
      if (left.length === 0) return
      if (Date.now() > deadline) {
        throw new CliError(`${left.map(s => `runner ${s.runner.id} is still ${runnerStatusWord(s.runner.status)}`).join('; ')} after the stop; check \`stratavore runners\` and that its supervisor runs`)
      }
      spinner.update(`stopping ${left.length} runner${left.length === 1 ? '' : 's'}: ${left.map(s => short(s.runner)).join(' ')}`)
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
  } finally {
    spinner.stop()
  }
}
