// Attaching to one runner, and commands on the whole system (reconcile, events). kill and
// logs have files of their own.
import { toJson } from '@bufbuild/protobuf'
import { EventSchema } from '../../gen/stratavore/v1/events_pb.js'
import { ReconcileResponseSchema } from '../../gen/stratavore/v1/system_pb.js'
import { flagValue, stringValue, type Command } from '../context.js'
import { attachFollowing } from '../follow-run.js'
import { FINISHED_STATUSES, jsonOf, paint, printJson, runnerStatusWord } from '../format.js'
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
  if (out.json) { printJson(out, jsonOf(ReconcileResponseSchema, res)); return 0 }
  const lines = [`reconciled ${res.reconciledCount} runner${res.reconciledCount === 1 ? '' : 's'}`]
  if (res.lostRunnerIds.length) lines.push(`lost:   ${res.lostRunnerIds.join(' ')}`)
  if (res.failedRunnerIds.length) lines.push(`failed: ${res.failedRunnerIds.join(' ')}`)
  out.print(lines.join('\n'))
  return 0
}

const EVENT_COLOR = (type: string) => /failed|lost|alert/.test(type) ? 'red' : /stopped|deleted|archived/.test(type) ? 'gray' : /started|launched|created|recovered/.test(type) ? 'green' : 'yellow'

/** The feed until Ctrl-C: one line per event, or one JSON object per line with --json. */
export const events: Command = async c => {
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  const filter = stringValue(c, 'filter') ?? ''
  const after = stringValue(c, 'after')
  try {
    for await (const { event, routingKey } of c.api.events.watchEvents({ filter, ...(after ? { after } : {}) }, { signal: abort.signal })) {
      if (!event) continue
      if (c.out.json) { c.out.print(JSON.stringify({ routingKey, event: toJson(EventSchema, event) })); continue }
      const data = event.data ? JSON.stringify(event.data) : ''
      c.out.print(`${event.occurredAt}  ${paint(c.out, EVENT_COLOR(event.type), event.type.padEnd(22))}  ${event.project || '-'}  ${event.aggregateId}  ${event.actor}${data && data !== '{}' ? `  ${data}` : ''}`)
    }
  } catch (err) {
    if (abort.signal.aborted) return 0
    throw err
  } finally {
    process.off('SIGINT', stop)
  }
  return 0
}
