// Commands on one runner (attach, kill, logs) and on the whole system (reconcile; events is in events.ts).
import { Code, ConnectError } from '@connectrpc/connect'
import { RunnerSchema } from '../../gen/stratavore/v1/runner_pb.js'
import { ReconcileResponseSchema } from '../../gen/stratavore/v1/system_pb.js'
import { attachTerminal } from '../attach.js'
import { flagValue, stringValue, type Command } from '../context.js'
import { FINISHED_STATUSES, jsonOf, printJson, runnerStatusWord } from '../format.js'
import { CliError, UsageError } from '../io.js'
import { resolveRunner } from '../runners.js'
import { waitForRunner } from '../wait.js'

export const attach: Command = async c => {
  const runner = await resolveRunner(c.api, c.args[0]!)
  if (FINISHED_STATUSES.has(runner.status)) {
    throw new CliError(`runner ${runner.id} has ended (${runnerStatusWord(runner.status)}${runner.exitCode !== undefined ? `, exit code ${runner.exitCode}` : ''})`)
  }
  return attachTerminal({ baseUrl: c.api.baseUrl, credential: c.api.credential, runnerId: runner.id, io: c.io, readOnly: flagValue(c, 'read-only') || runner.headless })
}

// The stop grace is the daemon's (supervisor.stop_timeout_seconds) unless given; the wait
// allows it plus time for the supervisor to notice the request.
const STOP_SLACK_MS = 30_000
const DEFAULT_GRACE_S = 10

export const kill: Command = async c => {
  const timeoutText = stringValue(c, 'timeout')
  const timeoutSeconds = timeoutText === undefined ? undefined : Number(timeoutText)
  if (timeoutSeconds !== undefined && !(Number.isInteger(timeoutSeconds) && timeoutSeconds >= 0 && timeoutSeconds <= 3600)) {
    throw new UsageError(`kill: --timeout must be whole seconds from 0 to 3600, got ${timeoutText}`)
  }
  const target = await resolveRunner(c.api, c.args[0]!)
  if (FINISHED_STATUSES.has(target.status)) throw new CliError(`runner ${target.id} has already ended (${runnerStatusWord(target.status)})`)
  const force = flagValue(c, 'force')
  let runner = (await c.api.runners.stopRunner({ id: target.id, ...(force ? { force } : {}), ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) })).runner!
  if (!flagValue(c, 'no-wait')) {
    const graceMs = force ? 0 : (timeoutSeconds ?? DEFAULT_GRACE_S) * 1000
    runner = await waitForRunner(c.api, c.io, runner.id, force ? 'killing' : 'stopping', r => FINISHED_STATUSES.has(r.status), graceMs + STOP_SLACK_MS)
  }
  if (c.out.json) { printJson(c.out, jsonOf(c.out, RunnerSchema, runner)); return 0 }
  c.out.print(`runner ${runner.id} ${runnerStatusWord(runner.status)}${runner.exitCode !== undefined ? ` (exit code ${runner.exitCode})` : ''}`)
  return 0
}

// The scrollback and then, with --follow, live output until the runner ends (a note on
// stderr says how) or Ctrl-C. The output goes to stdout byte for byte, escapes included.
export const logs: Command = async c => {
  const runner = await resolveRunner(c.api, c.args[0]!)
  const follow = flagValue(c, 'follow')
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  try {
    for await (const chunk of c.api.runnerStreams.watchRunnerOutput({ runnerId: runner.id, follow }, { signal: abort.signal })) {
      if (chunk.data.length > 0) c.io.stdout.write(chunk.data)
      if (chunk.exit) {
        const { code, signal } = chunk.exit
        c.out.note(`runner ${runner.id.slice(0, 13)} ${signal ? `was killed by ${signal}` : `exited with code ${code ?? 'unknown'}`}`)
      }
    }
  } catch (err) {
    if (abort.signal.aborted) return 0
    if (err instanceof ConnectError && err.code === Code.Unimplemented) throw new CliError(`this daemon cannot stream runner output (${err.rawMessage})`)
    throw err
  } finally {
    process.off('SIGINT', stop)
  }
  return 0
}

export const reconcile: Command = async ({ api, out }) => {
  const res = await api.system.reconcile({})
  if (out.json) { printJson(out, jsonOf(out, ReconcileResponseSchema, res)); return 0 }
  const lines = [`reconciled ${res.reconciledCount} runner${res.reconciledCount === 1 ? '' : 's'}`]
  if (res.lostRunnerIds.length) lines.push(`lost:   ${res.lostRunnerIds.join(' ')}`)
  if (res.failedRunnerIds.length) lines.push(`failed: ${res.failedRunnerIds.join(' ')}`)
  out.print(lines.join('\n'))
  return 0
}
