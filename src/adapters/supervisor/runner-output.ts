// A runner's output for GET /api/v1/runners/{id}/output, the RPC WatchRunnerOutput and so
// `stratavore logs`: live from its supervisor while its process runs, else the tail kept in the
// database when its last life ended (any daemon can serve that). The one race, a process that
// ends between the status read and the dial, is closed by waiting for its end to be recorded.
import { isAppError } from '../../core/errors.js'
import type { AttachService, OutputSource } from '../../core/runners/attach-service.js'
import { TERMINAL_STATUSES } from '../../core/runners/runner.js'
import type { NodeTunnels } from './node-tunnels.js'
import { readTerminal, type TerminalChunk } from './terminal-stream.js'

// The supervisor records an exit within a heartbeat's reach; past this the reader stops waiting.
const EXIT_RECORD_WAIT_MS = 10_000
const EXIT_RECORD_POLL_MS = 100

const keptChunks = function * (source: Extract<OutputSource, { kind: 'kept' }>, follow: boolean): Generator<TerminalChunk> {
  if (source.output.length > 0) yield { kind: 'output', data: source.output }
  // Following an ended runner ends at once, with how it ended, as following a live one does.
  if (follow && TERMINAL_STATUSES.includes(source.runner.status)) yield { kind: 'exit', code: source.runner.exitCode, signal: source.signal }
}

export async function * readRunnerOutput (attach: AttachService, runnerId: string, { follow, signal, tunnels }: { follow: boolean, signal?: AbortSignal, tunnels?: NodeTunnels }): AsyncGenerator<TerminalChunk> {
  let source = await attach.outputSource(runnerId)
  if (source.kind === 'live') {
    try {
      for await (const chunk of readTerminal(source.target, { follow, ...(signal ? { signal } : {}), ...(tunnels ? { tunnels } : {}) })) yield chunk
      return
    } catch (err) {
      if (!isAppError(err) || err.code !== 'RUNNER_FINISHED') throw err
    }
    const deadline = Date.now() + EXIT_RECORD_WAIT_MS
    while (source.kind === 'live' && Date.now() < deadline && !signal?.aborted) {
      await new Promise(resolve => setTimeout(resolve, EXIT_RECORD_POLL_MS))
      source = await attach.outputSource(runnerId).catch(() => source)
    }
    if (source.kind === 'live') return
  }
  yield * keptChunks(source, follow)
}
