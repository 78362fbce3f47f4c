// A numbered choice on the terminal (stderr for the menu, a line from stdin for the answer):
// for several active runners or resumable sessions. Only called when stdin is a terminal.
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
