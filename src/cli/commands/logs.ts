// `stratavore logs`: the runner's output, live from its terminal while it runs, or what was
// kept when its process ended. On a terminal the bytes go out as they came (colors and all);
// into a file or a pipe they are plain text, lines without escapes, unless --raw.
import { Code, ConnectError } from '@connectrpc/connect'
import { flagValue, type Command } from '../context.js'
import { FINISHED_STATUSES, runnerStatusWord } from '../format.js'
import { CliError } from '../io.js'
import { plainSink, rawSink } from '../plain-output.js'
import { resolveRunner } from '../runners.js'

export const logs: Command = async c => {
  const runner = await resolveRunner(c.api, c.args[0]!)
  const follow = flagValue(c, 'follow')
  const sink = flagValue(c, 'raw') || c.io.stdout.isTTY ? rawSink(data => c.io.stdout.write(data)) : plainSink(text => c.io.stdout.write(text))
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  try {
    for await (const chunk of c.api.runnerStreams.watchRunnerOutput({ runnerId: runner.id, follow }, { signal: abort.signal })) {
      if (chunk.data.length > 0) sink.write(chunk.data)
      if (chunk.exit) {
        sink.end()
        const { code, signal } = chunk.exit
        c.out.note(`runner ${runner.id.slice(0, 13)} ${signal ? `was killed by ${signal}` : code !== undefined ? `exited with code ${code}` : 'ended'}`)
      }
    }
    sink.end()
    // What was shown is what an ended runner left: say how it ended, on stderr.
    if (!follow && FINISHED_STATUSES.has(runner.status)) c.out.note(`runner ${runner.id.slice(0, 13)} ${runnerStatusWord(runner.status)}${runner.reason ? `: ${runner.reason}` : ''}`)
  } catch (err) {
    sink.end()
    if (abort.signal.aborted) return 0
    if (err instanceof ConnectError && err.code === Code.Unimplemented) throw new CliError(`this daemon cannot stream runner output (${err.rawMessage})`)
    throw err
  } finally {
    process.off('SIGINT', stop)
  }
  return 0
}
