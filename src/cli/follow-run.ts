// Following a runner to its end, as `docker run` follows a container: attached or headless,
// the CLI exits with the agent's exit code once the runner has ended (0 when it was stopped or
// exited 0), says why it failed, and follows it across restarts (reattaching, or streaming the
// next life's output; a failure that repeats itself is shown once). `--detach` waits until the
// runner really runs: up for a moment, not failing at start.
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { RunnerStatus, type Runner } from '../gen/stratavore/v1/runner_pb.js'
import { createTextPrinter, type TextPrinter } from './agent-text.js'
import { attachSession, exitCodeOf } from './attach.js'
import type { CommandContext } from './context.js'
import { FINISHED_STATUSES, runnerStatusWord } from './format.js'
import { CliError } from './io.js'
import { rawSink } from './plain-output.js'
import { createSpinner } from './wait.js'

const POLL_MS = 200
// A runner that started and failed will have said so within this: its end is written by then.
const SETTLE_TIMEOUT_MS = 60_000
// How long a runner must stay up for --detach to call it running: a CLI that exits at once
// (not logged in, a refused flag) does so well within this.
export const RUNNING_SETTLE_MS = 2000

const short = (r: Runner) => r.id.slice(0, 13)
const sleep = () => new Promise(resolve => setTimeout(resolve, POLL_MS))
const get = async (c: CommandContext, id: string) => (await c.api.runners.getRunner({ id })).runner!
const starting = (r: Runner) => r.status === RunnerStatus.PENDING || r.status === RunnerStatus.STARTING

/** What the CLI exits with for an ended runner, after saying why it failed. */
export const finish = (c: CommandContext, r: Runner): number => {
  if (r.status === RunnerStatus.TERMINATED) return 0
  c.out.note(`runner ${short(r)} failed${r.reason ? `: ${r.reason}` : r.exitCode !== undefined ? ` with exit code ${r.exitCode}` : ''}; \`stratavore logs ${short(r)}\` for its output`)
  return r.exitCode !== undefined && r.exitCode !== 0 ? r.exitCode : exitCodeOf({ signal: /killed by (SIG\w+)/.exec(r.reason ?? '')?.[1] ?? null })
}

/** After a life ended: the runner once it has ended, or once its next life runs. */
const afterLife = async (c: CommandContext, id: string, generation: bigint): Promise<Runner> => {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS
  for (;;) {
    const r = await get(c, id)
    if (FINISHED_STATUSES.has(r.status) || (r.generation > generation && !starting(r))) return r
    if (Date.now() > deadline) throw new CliError(`runner ${id} is still ${runnerStatusWord(r.status)}; check \`stratavore runners\` and that a supervisor runs`)
    await sleep()
  }
}

const restartNote = (c: CommandContext, r: Runner, attempt: number, reason: string) =>
  c.out.note(`runner ${short(r)} restarted (attempt ${attempt} of ${r.maxRestartAttempts})${reason ? `: it ${reason}` : ''}`)

// How long the notes of restarts the runner has made wait for their events to arrive on the feed.
const RESTART_EVENT_WAIT_MS = 2000

/**
 * The runner's restarts, each said once: read from its runner.restarting events, since a poll
 * between two lives misses a life that ended before it looked (a failure at start is over in
 * a moment), and from the runner itself when the feed cannot be read (a token without it).
 */
const restartNotes = (c: CommandContext, first: Runner, restartsFrom: number) => {
  const reasons = new Map<number, string>()
  const abort = new AbortController()
  let said = restartsFrom
  const since = first.createdAt ? timestampDate(first.createdAt).toISOString() : undefined
  void (async () => {
    for await (const { event } of c.api.events.watchEvents({ filter: `runner.restarting.${first.project}`, ...(since ? { since } : {}) }, { signal: abort.signal })) {
      const data = (event?.data ?? {}) as { attempt?: unknown, reason?: unknown }
      if (event?.aggregateId === first.id && typeof data.attempt === 'number') reasons.set(data.attempt, typeof data.reason === 'string' ? data.reason : '')
    }
  })().catch(() => {})
  return {
    /** Says the restarts up to the runner's count, waiting a moment for their events. */
    async sayUpTo (r: Runner) {
      const deadline = Date.now() + RESTART_EVENT_WAIT_MS
      while (Date.now() < deadline && Array.from({ length: r.restartAttempts - said }, (_, i) => said + i + 1).some(n => !reasons.has(n))) await sleep()
      for (; said < r.restartAttempts; said++) {
        const attempt = said + 1
        restartNote(c, r, attempt, reasons.get(attempt) ?? (attempt === r.restartAttempts && !FINISHED_STATUSES.has(r.status) ? r.reason ?? '' : ''))
      }
    },
    stop: () => abort.abort(),
  }
}

/**
 * Attached until the runner ends (its exit code) or the user detaches (0). Restarts after
 * `restartsFrom` are said (a launch passes 0: those made before the first look count too).
 */
export const attachFollowing = async (c: CommandContext, first: Runner, readOnly: boolean, restartsFrom = first.restartAttempts): Promise<number> => {
  const restarts = restartNotes(c, first, restartsFrom)
  try {
    let runner = first
    for (;;) {
      const end = await attachSession({ baseUrl: c.api.baseUrl, credential: c.api.credential, runnerId: runner.id, io: c.io, readOnly })
      if (end.exit === null) return end.code
      const next = await afterLife(c, runner.id, runner.generation)
      await restarts.sayUpTo(next)
      if (FINISHED_STATUSES.has(next.status)) return finish(c, next)
      runner = next
    }
  } finally {
    restarts.stop()
  }
}

/** A headless run's output until it ends: the agent's text, or with `raw` its stream as written. */
export const followHeadless = async (c: CommandContext, first: Runner, raw: boolean, restartsFrom = first.restartAttempts): Promise<number> => {
  const restarts = restartNotes(c, first, restartsFrom)
  try {
    let runner = first
    let previous: string | null = null
    for (;;) {
      const printer: TextPrinter = raw
        ? { ...rawSink(data => c.io.stdout.write(data)), text: () => '' }
        : createTextPrinter(text => c.io.stdout.write(text), { repeatOf: previous })
      for await (const chunk of c.api.runnerStreams.watchRunnerOutput({ runnerId: runner.id, follow: true })) {
        if (chunk.data.length > 0) printer.write(chunk.data)
      }
      printer.end()
      const next = await afterLife(c, runner.id, runner.generation)
      await restarts.sayUpTo(next)
      previous = printer.text()
      // A life that began and ended between two looks: its output is what the runner kept.
      if (FINISHED_STATUSES.has(next.status) && next.generation === runner.generation) return finish(c, next)
      runner = next
    }
  } finally {
    restarts.stop()
  }
}

/**
 * Waits until the runner has started (with `settle`, until it has stayed up RUNNING_SETTLE_MS in
 * one life, so a failure at start is seen), or has ended. A spinner on a terminal.
 */
export const waitUntilRunning = async (c: CommandContext, id: string, { settle }: { settle: boolean }): Promise<Runner> => {
  const spinner = createSpinner(c.io)
  const started = Date.now()
  let upSince = null as { generation: bigint, at: number } | null
  try {
    for (;;) {
      const r = await get(c, id)
      if (FINISHED_STATUSES.has(r.status)) return r
      if (!starting(r)) {
        if (!settle) return r
        if (upSince?.generation !== r.generation) upSince = { generation: r.generation, at: Date.now() }
        else if (Date.now() - upSince.at >= RUNNING_SETTLE_MS) return r
      }
      const waited = Date.now() - started
      if (waited > SETTLE_TIMEOUT_MS) {
        throw new CliError(`runner ${id} is still ${runnerStatusWord(r.status)} after ${Math.round(waited / 1000)}s; check \`stratavore runners\` and that a supervisor runs`)
      }
      spinner.update(`starting: runner ${id.slice(0, 13)} is ${runnerStatusWord(r.status)}${r.restartAttempts > 0 ? ` (restart ${r.restartAttempts})` : ''} (${Math.floor(waited / 1000)}s)`)
      await sleep()
    }
  } finally {
    spinner.stop()
  }
}
