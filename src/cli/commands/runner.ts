// Attaching to one runner, and reconcile. kill, logs and events have files of their own.
import { ReconcileResponseSchema } from '../../gen/stratavore/v1/system_pb.js'
import { flagValue, type Command } from '../context.js'
import { attachFollowing } from '../follow-run.js'
import { FINISHED_STATUSES, jsonOf, printJson, runnerStatusWord } from '../format.js'
import { CliError } from '../io.js'
import { resolveRunner } from '../runners.js'

export const attach: Command = async c => {
  const runner = await resolveRunner(c.api, c.args[0]!)
  if (FINISHED_STATUSES.has(runner.status)) {
    throw new CliError(`runner ${runner.id} has ended (${runnerStatusWord(runner.status)}${runner.exitCode !== undefined ? `, exit code ${runner.exitCode}` : ''})`)
  }
  return attachFollowing(c, runner, flagValue(c, 'read-only') || runner.headless)
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
