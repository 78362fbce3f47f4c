// Long waits (a launch until its process runs, a stop until it ends) poll GetRunner and show
// a spinner line on stderr, only when stderr is a terminal; scripts see nothing until the end.
import type { Runner } from '../gen/stratavore/v1/runner_pb.js'
import type { Api } from './client.js'
import { runnerStatusWord } from './format.js'
import { CliError, type Io } from './io.js'

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const POLL_MS = 200

export interface Spinner { update(text: string): void, stop(): void }

export const createSpinner = (io: Io): Spinner => {
  if (!io.stderr.isTTY) return { update () {}, stop () {} }
  let frame = 0
  let text = ''
  const draw = () => { io.stderr.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text}`) }
  const timer = setInterval(draw, 100)
  return {
    update (next) { text = next; draw() },
    stop () { clearInterval(timer); io.stderr.write('\r\x1b[2K') },
  }
}

/**
 * Polls the runner until `done` holds and returns it; after timeoutMs a CliError that says
 * what the runner is still doing (a launch stays queued when no supervisor takes it).
 */
export const waitForRunner = async (
  api: Api, io: Io, id: string, what: string, done: (r: Runner) => boolean, timeoutMs: number,
): Promise<Runner> => {
  const spinner = createSpinner(io)
  const started = Date.now()
  try {
    for (;;) {
      const runner = (await api.runners.getRunner({ id })).runner!
      if (done(runner)) return runner
      const waited = Date.now() - started
      if (waited > timeoutMs) {
        throw new CliError(`runner ${id} is still ${runnerStatusWord(runner.status)} after ${Math.round(waited / 1000)}s (${what}); check \`stratavore runners\` and that a supervisor runs`)
      }
      spinner.update(`${what}: runner ${id.slice(0, 13)} is ${runnerStatusWord(runner.status)} (${Math.floor(waited / 1000)}s)`)
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
  } finally {
    spinner.stop()
  }
}
