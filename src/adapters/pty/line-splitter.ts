// Splits a byte stream into lines for headless agents, whose stdout is NDJSON (stream-json,
// codex --json). Lines are decoded only once complete, so a UTF-8 character split across two
// chunks survives. A line longer than the limit is dropped whole (its bytes still reach the
// output stream and the scrollback): a truncated JSON line is useless to a parser, and keeping
// an endless line would let one agent grow our memory without bound.

export const MAX_LINE_BYTES = 1024 * 1024

export interface LineSplitter {
  push(chunk: Buffer): void
  /** Emits the last line if it had no newline. */
  end(): void
  /** Lines dropped for exceeding the limit. */
  readonly droppedLines: number
}

export function createLineSplitter(onLine: (line: string) => void, maxLineBytes: number = MAX_LINE_BYTES): LineSplitter {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let overlong = false
  let droppedLines = 0

  function emit(tail: Buffer): void {
    if (overlong) {
      droppedLines++
    } else {
      const bytes = pending.length === 0 ? tail : Buffer.concat([...pending, tail])
      let line = bytes.toString('utf8')
      if (line.endsWith('\r')) line = line.slice(0, -1)
      onLine(line)
    }
    pending = []
    pendingBytes = 0
    overlong = false
  }

  function keep(piece: Buffer): void {
    if (overlong || piece.length === 0) return
    if (pendingBytes + piece.length > maxLineBytes) {
      overlong = true
      pending = []
      pendingBytes = 0
      return
    }
    // A copy, so a kept slice does not pin the stream's whole read buffer.
    pending.push(Buffer.from(piece))
    pendingBytes += piece.length
  }

  return {
    push(chunk) {
      let from = 0
      for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, from)) {
        const piece = chunk.subarray(from, newline)
        if (!overlong && pendingBytes + piece.length > maxLineBytes) overlong = true
        emit(overlong ? Buffer.alloc(0) : piece)
        from = newline + 1
      }
      keep(chunk.subarray(from))
    },
    end() {
      if (pendingBytes > 0 || overlong) emit(Buffer.alloc(0))
    },
    get droppedLines() { return droppedLines },
  }
}
