// A remote node's reports that the control plane could not take, kept on disk until it can:
// when the API is unreachable (or answers UNAVAILABLE), an exit and the last usage of each
// runner go to <data_dir>/unreported.jsonl (synced before the supervisor goes on) instead of
// being lost with the process, and the agents keep running. They are replayed, usage before
// exits and in the order they happened, before the supervisor reads its runners again (so it
// never takes a runner whose exit is still buffered for an orphan and restarts it), and on
// every later call until the file is empty. Replays are idempotent: usage carries running
// totals (a repeated report counts nothing twice) and every write is a transition fenced by
// generation (a second exit changes nothing; one about a runner that moved on is dropped).
import { Code, ConnectError } from '@connectrpc/connect'
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Log, RunnerBeat } from '../../core/ports.js'
import type { ExitStatus } from '../../core/supervisor/agent-runtime.js'
import type { SupervisionPort } from '../../core/supervisor/supervision-port.js'

const FILE = 'unreported.jsonl'

type Kept =
  | { kind: 'usage', beat: RunnerBeat }
  | { kind: 'exited', runnerId: string, generation: number, status: 'terminated' | 'failed', exit: ExitStatus | null, reason: string, output: string | null }

/** The API could not be reached, or could not write: worth keeping and trying again. */
export const isUnreachable = (err: unknown) => err instanceof ConnectError
  ? [Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Unknown].includes(err.code)
  : true

export const createReportBuffer = ({ inner, dataDir, log }: { inner: SupervisionPort, dataDir: string, log: Log }): SupervisionPort & { pending(): number } => {
  const path = join(dataDir, FILE)
  let kept: Kept[] = []
  try {
    kept = readFileSync(path, 'utf8').split('\n').filter(Boolean).map(line => JSON.parse(line) as Kept)
    if (kept.length > 0) log.info({ reports: kept.length }, 'reports kept while the control plane was unreachable: replaying them')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }

  /** Writes the whole buffer (a new file renamed over the old, synced): a crash leaves one or the other. */
  const persist = () => {
    const tmp = `${path}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, kept.map(k => JSON.stringify(k) + '\n').join(''))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  }

  const keep = (entries: Kept[]) => {
    // Usage is a running total: only a runner's latest counts.
    const newBeats = new Set(entries.flatMap(e => e.kind === 'usage' ? [e.beat.runnerId] : []))
    kept = [...kept.filter(k => k.kind !== 'usage' || !newBeats.has(k.beat.runnerId)), ...entries]
    persist()
  }

  /** A replay the API refuses for good (not a runner of this node, bad input) is dropped, not retried forever. */
  const refusedIsDone = async <T>(call: Promise<T>): Promise<T | null> => {
    try {
      return await call
    } catch (err) {
      if (isUnreachable(err)) throw err
      log.warn({ err }, 'the control plane refused a kept report; dropping it')
      return null
    }
  }

  let flushing: Promise<void> | null = null
  /** Replays what is kept, oldest first; throws (keeping the rest) while the API is unreachable. */
  const flush = (): Promise<void> => {
    if (kept.length === 0) return Promise.resolve()
    flushing ??= (async () => {
      try {
        // Entries are removed by identity, never by position or kind: a report that failed in
        // flight (a heartbeat that timed out on a dead connection while the API came back) may
        // be kept while a replay awaits, and must wait for the next round, not be dropped.
        for (;;) {
          const usage = kept.flatMap(k => k.kind === 'usage' ? [k] : [])
          if (usage.length > 0) {
            const beats = usage.map(k => k.beat)
            const outcome = await refusedIsDone(inner.heartbeat(beats))
            const sent = new Set<Kept>(usage)
            kept = kept.filter(k => !sent.has(k))
            persist()
            log.info({ runners: beats.length, fenced: outcome?.fenced ?? [] }, 'replayed usage kept while the control plane was unreachable')
            continue
          }
          const next = kept[0]
          if (!next) break
          if (next.kind === 'exited') {
            // The RPC adapter names the runner by id and the generation given.
            const runner = { id: next.runnerId } as Parameters<SupervisionPort['exited']>[0]
            const row = await refusedIsDone(inner.exited(runner, next.generation, next.status, next.exit, next.reason, next.output === null ? undefined : Buffer.from(next.output, 'base64')))
            log.info({ runnerId: next.runnerId, recorded: Boolean(row) }, 'replayed an exit kept while the control plane was unreachable')
          }
          kept = kept.filter(k => k !== next)
          persist()
        }
      } finally {
        flushing = null
      }
    })()
    return flushing
  }

  return {
    ...inner,
    pending: () => kept.length,
    // Nothing is read before what is kept has been replayed.
    async claim (limit) { await flush(); return inner.claim(limit) },
    async assigned () { await flush(); return inner.assigned() },

    async exited (runner, generation, status, exit, reason, output) {
      try {
        await flush()
        return await inner.exited(runner, generation, status, exit, reason, output)
      } catch (err) {
        if (!isUnreachable(err)) throw err
        keep([{ kind: 'exited', runnerId: runner.id, generation, status, exit, reason, output: output ? output.toString('base64') : null }])
        log.warn({ runnerId: runner.id, reason: (err as Error).message }, 'the control plane is unreachable: the exit is kept on disk and replayed when it is back')
        return null
      }
    },

    async heartbeat (beats) {
      try {
        await flush()
        return await inner.heartbeat(beats)
      } catch (err) {
        if (!isUnreachable(err) || beats.length === 0) throw err
        keep(beats.map(beat => ({ kind: 'usage' as const, beat })))
        throw err
      }
    },
  }
}
