// Questions on the terminal (stderr for the question, a line from stdin for the answer): a
// numbered choice, for several active runners or resumable sessions, and a yes or no. Only
// called when stdin is a terminal.
import { createInterface } from 'node:readline/promises'
import { CliError, type Io } from './io.js'

export interface Choice<T> { label: string, value: T }

/** The chosen value; `extra` is an additional lettered entry (e.g. n: launch a new runner). */
export const pick = async <T>(io: Io, title: string, choices: Array<Choice<T>>, extra?: { key: string } & Choice<T>): Promise<T> => {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false })
  try {
    io.stderr.write(`${title}\n${choices.map((c, i) => `  ${String(i + 1).padStart(2)}) ${c.label}`).join('\n')}\n${extra ? `   ${extra.key}) ${extra.label}\n` : ''}`)
    const keys = `1-${choices.length}${extra ? `, ${extra.key}` : ''}`
    for (let tries = 0; tries < 3; tries++) {
      io.stderr.write(`choose [${keys}]: `)
      const answer = (await rl.question('')).trim().toLowerCase()
      if (extra && answer === extra.key) return extra.value
      const n = Number(answer)
      if (Number.isInteger(n) && n >= 1 && n <= choices.length) return choices[n - 1]!.value
    }
    throw new CliError('no choice made')
  } finally {
    rl.close()
    io.stdin.pause()
  }
}

/** True only for an answer of y or yes; anything else (Enter included) is no. */
export const confirm = async (io: Io, question: string): Promise<boolean> => {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false })
  try {
    io.stderr.write(`${question} [y/N] `)
    return /^y(es)?$/i.test((await rl.question('')).trim())
  } finally {
    rl.close()
    io.stdin.pause()
  }
}
