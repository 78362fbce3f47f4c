// The read commands: status, projects, runners, sessions. Tables on a terminal, proto JSON
// with --json (lists as arrays), so `stratavore runners --json | jq -r '.[].id'` works.
import { ProjectSchema, ProjectStatus } from '../../gen/stratavore/v1/project_pb.js'
import { RunnerSchema } from '../../gen/stratavore/v1/runner_pb.js'
import { SessionSchema } from '../../gen/stratavore/v1/session_pb.js'
import { GetStatusResponseSchema } from '../../gen/stratavore/v1/system_pb.js'
import { createWriteStream, type WriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Command } from '../context.js'
import { flagValue, stringValue } from '../context.js'
import { UsageError } from '../io.js'
import { ACTIVE_STATUSES, activityCell, ago, dateOf, enumWord, formatDuration, formatTokens, jsonOf, paint, printJson, runnerStatusWord, shortIdLength, statusCell, table } from '../format.js'
import { listAllRunners } from '../runners.js'

export const status: Command = async ({ api, out }) => {
  const res = await api.system.getStatus({})
  if (out.json) { printJson(out, jsonOf(out, GetStatusResponseSchema, res)); return 0 }
  const d = res.daemon!
  const m = res.metrics!
  const started = dateOf(d.startedAt)
  const rows: Array<[string, string]> = [
    ['Daemon', `${d.healthy ? paint(out, 'green', '✓ healthy') : paint(out, 'red', '✗ unhealthy')}  ${api.baseUrl}`],
    ['Version', d.version],
    ['Host', `${d.hostname} (pid ${d.pid})`],
    ['Roles', d.roles.join(', ')],
    ['Uptime', started ? formatDuration(Date.now() - started.getTime()) : '-'],
    ['Active runners', String(m.activeRunners)],
    ['Active projects', String(m.activeProjects)],
    ['Sessions', String(m.totalSessions)],
    ['Tokens used', `${formatTokens(m.tokensUsed)}${m.tokenLimit > 0n ? ` of ${formatTokens(m.tokenLimit)}` : ''}`],
  ]
  out.print(rows.map(([k, v]) => `${`${k}:`.padEnd(17)}${v}`).join('\n'))
  return 0
}

export const projects: Command = async ({ api, out }) => {
  const list = (await api.projects.listProjects({})).projects
  if (out.json) { printJson(out, list.map(p => jsonOf(out, ProjectSchema, p))); return 0 }
  if (list.length === 0) { out.note('no projects; create one with `stratavore new <name>` or launch with `stratavore <name>`'); return 0 }
  out.print(table(out, [{ header: 'NAME' }, { header: 'STATUS' }, { header: 'RUNNERS' }, { header: 'SESSIONS' }, { header: 'TOKENS' }, { header: 'LAST USED' }, { header: 'PATH', flex: true }],
    list.map(p => [p.name, statusCell(out, enumWord(ProjectStatus[p.status])), `${p.activeRunners}/${p.totalRunners}`, String(p.totalSessions), formatTokens(p.totalTokens), ago(p.lastAccessedAt), p.path])))
  return 0
}

/** Why a paused runner waits, and for a usage limit until when: ` (usage_limit, resets in 4h 12m)`. */
const pausedWhy = (r: { pauseReason?: string, resetsAt?: Parameters<typeof dateOf>[0], resumeAfterLimit: boolean }, now: number): string => {
  if (!r.pauseReason) return ''
  const resets = dateOf(r.resetsAt)?.getTime()
  if (resets === undefined) return ` (${r.pauseReason})`
  const when = resets > now ? `in ${formatDuration(resets - now)}` : 'now'
  return ` (${r.pauseReason}, resets ${when}${r.resumeAfterLimit ? ', then resumes' : ''})`
}

export const runners: Command = async c => {
  const { api, out, args } = c
  const all = await listAllRunners(api, args[0])
  const shown = flagValue(c, 'all') ? all : all.filter(r => ACTIVE_STATUSES.has(r.status))
  if (out.json) { printJson(out, shown.map(r => jsonOf(out, RunnerSchema, r))); return 0 }
  if (shown.length === 0) {
    out.note(`no ${flagValue(c, 'all') ? '' : 'active '}runners${args[0] ? ` in ${args[0]}` : ''}${flagValue(c, 'all') || all.length === 0 ? '' : ` (${all.length} finished: --all shows them)`}`)
    return 0
  }
  // Prefixes are computed over every runner listed, finished ones included, so a short id
  // shown here is also one `attach` and `kill` accept.
  const idLength = shortIdLength(all.map(r => r.id))
  const now = Date.now()
  // Why a runner ended or restarted, when one shown did.
  const reasons = shown.some(r => r.reason)
  out.print(table(out, [{ header: 'ID' }, { header: 'PROJECT' }, { header: 'AGENT' }, { header: 'STATUS' }, { header: 'ACTIVITY' }, { header: 'UPTIME' }, { header: 'CPU%' }, { header: 'MEM(MB)' }, { header: 'TOKENS' }, { header: 'MODE', flex: !reasons }, ...(reasons ? [{ header: 'REASON', flex: true }] : [])],
    shown.map(r => {
      const started = dateOf(r.startedAt)?.getTime()
      const ended = dateOf(r.terminatedAt)?.getTime() ?? now
      return [
        r.id.slice(0, idLength), r.project, r.agent, statusCell(out, runnerStatusWord(r.status)) + pausedWhy(r, now), activityCell(out, r.activity, now),
        started ? formatDuration(ended - started) : '-', r.cpuPercent.toFixed(1), String(r.memoryMb), formatTokens(r.tokensUsed),
        [r.headless ? 'headless' : 'interactive', r.god ? 'god' : '', r.exitCode !== undefined ? `exit ${r.exitCode}` : ''].filter(Boolean).join(', '),
        ...(reasons ? [r.reason ?? ''] : []),
      ]
    })))
  return 0
}

export const sessions: Command = async c => {
  const { api, out, args } = c
  if (args[0] === 'export' && args.length === 2) return exportTranscript(c, args[1]!)
  if (args.length === 2) throw new UsageError(`sessions takes one project, or \`export <session>\`; got ${args.join(' ')}`)
  if (stringValue(c, 'output') !== undefined) throw new UsageError('--output goes with `sessions export <session>`')
  await api.projects.getProject({ name: args[0]! })
  const list = (await api.sessions.listSessions({ project: args[0]! })).sessions
  if (out.json) { printJson(out, list.map(s => jsonOf(out, SessionSchema, s))); return 0 }
  if (list.length === 0) { out.note(`no sessions in ${args[0]}`); return 0 }
  out.print(table(out, [{ header: 'ID' }, { header: 'AGENT' }, { header: 'STARTED' }, { header: 'LAST MESSAGE' }, { header: 'MESSAGES' }, { header: 'TOKENS' }, { header: 'RESUMABLE' }, { header: 'SUMMARY', flex: true }],
    list.map(s => [s.id, s.agent, ago(s.startedAt), ago(s.lastMessageAt), String(s.messageCount), formatTokens(s.tokensUsed), s.resumable ? 'yes' : 'no', s.summary ?? ''])))
  return 0
}

/** Writes, waiting when the stream's buffer is full: a transcript can be many megabytes. */
const writeAll = (stream: NodeJS.WritableStream, data: Uint8Array) => new Promise<void>((resolve, reject) => {
  if (stream.write(data, err => { if (err) reject(err) })) resolve()
  else stream.once('drain', resolve)
})

// The archived transcript, byte for byte, to stdout or a file (written beside it, then renamed:
// a failed export leaves no half file under the name asked for).
const exportTranscript = async (c: Parameters<Command>[0], sessionId: string): Promise<number> => {
  const output = stringValue(c, 'output')
  const target = output === undefined ? null : resolve(c.io.cwd, output)
  const temporary = target === null ? null : `${target}.partial-${process.pid}`
  const sink = temporary === null ? c.io.stdout : createWriteStream(temporary, { mode: 0o600 })
  let bytes = 0
  try {
    for await (const chunk of c.api.sessionStreams.exportSessionTranscript({ id: sessionId })) {
      await writeAll(sink, chunk.data)
      bytes += chunk.data.byteLength
    }
    if (temporary !== null && target !== null) {
      await new Promise<void>((done, fail) => (sink as WriteStream).end((err?: Error | null) => err ? fail(err) : done()))
      await rename(temporary, target)
      c.out.note(`wrote ${bytes} bytes of session ${sessionId} to ${target}`)
    }
  } catch (err) {
    if (temporary !== null) { (sink as WriteStream).destroy(); await rm(temporary, { force: true }) }
    throw err
  }
  return 0
}
