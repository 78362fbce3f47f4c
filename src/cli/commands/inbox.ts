// `stratavore inbox [project]`: the runners whose agent waits for a person (a permission, an
// answer), the oldest wait first, with what each asks; the same list as GET /api/v1/inbox (its
// shape with --json). With --watch the list is drawn again whenever a runner's activity
// changes on the live feed, until Ctrl-C.
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { ActivityState, RunnerStatus, type Runner } from '../../gen/stratavore/v1/runner_pb.js'
import type { Api } from '../client.js'
import { flagValue, type Command, type CommandContext } from '../context.js'
import { activityCell, enumWord, printJson, shortIdLength, table } from '../format.js'

const PAGE = 500
const WAITING = new Set([ActivityState.WAITING_PERMISSION, ActivityState.WAITING_INPUT])
// Events after which the list may differ: a change of activity, or a runner leaving `running`.
const FEED_FILTER = 'runner.#'
const RELEVANT = /^runner\.(activity|stopped|failed|lost|paused|restarting|rescheduled)$/

const waitingRunners = async (api: Api, project: string | undefined): Promise<Runner[]> => {
  const found: Runner[] = []
  let cursor: string | undefined
  do {
    const res = await api.runners.listRunners({ limit: PAGE, status: RunnerStatus.RUNNING, ...(project ? { project } : {}), ...(cursor ? { cursor } : {}) })
    found.push(...res.runners.filter(r => r.activity && WAITING.has(r.activity.state)))
    cursor = res.nextCursor
  } while (cursor)
  const since = (r: Runner) => r.activity?.since ? timestampDate(r.activity.since).getTime() : 0
  return found.sort((a, b) => since(a) - since(b) || a.id.localeCompare(b.id))
}

/** GET /api/v1/inbox's item shape. */
const itemJson = (r: Runner, now: number) => {
  const since = r.activity?.since ? timestampDate(r.activity.since) : null
  return {
    runnerId: r.id,
    project: r.project,
    agent: r.agent,
    nodeId: r.nodeId ?? null,
    sessionId: r.sessionId ?? null,
    state: enumWord(ActivityState[r.activity!.state]),
    source: r.activity?.source ?? null,
    detail: r.activity?.detail ?? null,
    since: since?.toISOString() ?? null,
    waitingSeconds: since ? Math.max(0, (now - since.getTime()) / 1000) : 0,
  }
}

const show = async (c: CommandContext, project: string | undefined) => {
  const list = await waitingRunners(c.api, project)
  const now = Date.now()
  if (c.out.json) { printJson(c.out, { items: list.map(r => itemJson(r, now)) }); return }
  if (list.length === 0) { c.out.note(`no runner waits for you${project ? ` in ${project}` : ''}`); return }
  const idLength = shortIdLength(list.map(r => r.id))
  c.out.print(table(c.out, [{ header: 'ID' }, { header: 'PROJECT' }, { header: 'AGENT' }, { header: 'WAITING' }, { header: 'ASKS', flex: true }],
    list.map(r => [r.id.slice(0, idLength), r.project, r.agent, activityCell(c.out, r.activity, now), r.activity?.detail ?? ''])))
}

export const inbox: Command = async c => {
  const project = c.args[0]
  if (!flagValue(c, 'watch')) { await show(c, project); return 0 }
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  try {
    await show(c, project)
    const filter = project ? `runner.*.${project}` : FEED_FILTER
    for await (const { event } of c.api.events.watchEvents({ filter }, { signal: abort.signal })) {
      if (!event || !RELEVANT.test(event.type)) continue
      if (!c.out.json && c.io.stdout.isTTY) c.io.stdout.write('\x1b[H\x1b[2J')
      await show(c, project)
    }
  } catch (err) {
    if (abort.signal.aborted) return 0
    throw err
  } finally {
    process.off('SIGINT', stop)
  }
  return 0
}
