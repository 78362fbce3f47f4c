// Terminal output made plain for a file or a pipe: whole lines through the terminal-text
// scanner, so an escape sequence or a UTF-8 character split between two chunks is never cut.
import { plainText } from '../core/terminal-text.js'

export interface OutputSink { write(chunk: Uint8Array): void, end(): void }

/** Raw bytes as they came (a terminal, or --raw). */
export const rawSink = (write: (data: Uint8Array) => void): OutputSink => ({ write, end () {} })

export const plainSink = (write: (text: string) => void): OutputSink => {
  let pending = Buffer.alloc(0)
  return {
    write (chunk) {
      pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk])
      const cut = pending.lastIndexOf(0x0a)
      if (cut === -1) return
      write(plainText(pending.subarray(0, cut + 1)))
      pending = pending.subarray(cut + 1)
    },
    end () {
      if (pending.length === 0) return
      const text = plainText(pending)
      pending = Buffer.alloc(0)
      if (text !== '') write(`${text}\n`)
    },
  }
}
