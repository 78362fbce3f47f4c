// A terminal's output as plain text: what `stratavore logs` prints into a file or a pipe, and
// what a failure's reason is read from. An ECMA-48 scanner rather than one regex, because the
// sequences nest terminators a regex gets wrong: an OSC title ends at BEL or at ESC \, a DCS
// or APC string may hold ESC [ that is no CSI, and 8-bit C1 codes stand for ESC + a letter.
// What is removed: CSI (colors, cursor moves), OSC (titles, hyperlinks: their text is kept),
// DCS/SOS/PM/APC strings, two-byte escapes, and C0/C1 controls but newline and tab. Carriage
// returns rewrite their line as a terminal would show it (progress bars leave their last
// state), backspace erases. It never throws and never grows its input.

const ESC = 0x1b
const BEL = 0x07

const isFinal = (c: number) => c >= 0x40 && c <= 0x7e

/** Removes terminal control sequences from `input` (bytes are read as UTF-8). */
export const plainText = (input: Uint8Array | string): string => {
  const s = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8')
  const lines: string[] = []
  // The line being written, with a cursor: a carriage return moves it to 0, text overwrites.
  let line: string[] = []
  let col = 0
  const put = (ch: string) => {
    line[col++] = ch
  }
  const endLine = () => {
    lines.push(line.join(''))
    line = []
    col = 0
  }
  let i = 0
  /** Skips a control string (OSC, DCS, SOS, PM, APC) from i to its terminator: BEL (OSC only), ESC \ or 8-bit ST. */
  const skipString = (allowBel: boolean) => {
    while (i < s.length) {
      const c = s.charCodeAt(i)
      if (c === 0x9c) { i++; return }
      if (allowBel && c === BEL) { i++; return }
      if (c === ESC && s.charCodeAt(i + 1) === 0x5c) { i += 2; return }
      // A string cut off by the start of another escape ends there (a terminal does the same).
      if (c === ESC) return
      i++
    }
  }
  /** Skips CSI parameters and intermediates to its final byte. */
  const skipCsi = () => {
    while (i < s.length) {
      const c = s.charCodeAt(i)
      i++
      if (isFinal(c)) return
      // A control inside a CSI aborts it, as in xterm; the control is then handled as itself.
      if (c < 0x20 || c === 0x7f) { i--; return }
    }
  }
  while (i < s.length) {
    const c = s.charCodeAt(i)
    if (c === ESC) {
      const next = s.charCodeAt(i + 1)
      i += 2
      if (next === 0x5b) skipCsi() // ESC [
      else if (next === 0x5d) skipString(true) // ESC ] OSC
      else if (next === 0x50 || next === 0x58 || next === 0x5e || next === 0x5f) skipString(false) // DCS SOS PM APC
      else if (next >= 0x20 && next <= 0x2f) { // ESC + intermediates + final (charset selection, ...)
        while (i < s.length && s.charCodeAt(i) >= 0x20 && s.charCodeAt(i) <= 0x2f) i++
        i++
      } else if (Number.isNaN(next)) i = s.length
      // else: a two-byte escape (ESC 7, ESC =, ESC M, ...): both bytes are gone.
      continue
    }
    i++
    if (c === 0x9b) skipCsi()
    else if (c === 0x9d) skipString(true)
    else if (c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) skipString(false)
    else if (c === 0x0a) endLine()
    else if (c === 0x0d) col = 0
    else if (c === 0x08) col = Math.max(0, col - 1)
    else if (c === 0x09) put('\t')
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) { /* other controls show nothing */ } else put(String.fromCharCode(c))
  }
  if (line.length > 0) lines.push(line.join(''))
  // Screens pad lines with spaces to erase what was there: trailing blanks carry nothing.
  return lines.map(l => l.trimEnd()).join('\n') + (s.endsWith('\n') ? '\n' : '')
}
