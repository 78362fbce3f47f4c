// Terminal output as plain text (what `stratavore logs` writes to a file, and what a failure's
// reason is read from): every kind of control sequence goes, the text around it stays.
import t from 'tap'
import { plainText } from '../../src/core/terminal-text.js'

t.test('control sequences are removed and their text kept', async t => {
  const cases: Array<[string, string, string]> = [
    ['\x1b[1;31mred\x1b[0m plain\n', 'red plain\n', 'SGR colors'],
    ['\x1b[2J\x1b[H\x1b[?25lscreen\x1b[?25h', 'screen', 'clear, home, private modes'],
    ['\x1b]0;a title\x07after', 'after', 'an OSC title ended by BEL'],
    ['\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\ done', 'link done', 'an OSC 8 hyperlink keeps its text'],
    ['\x1bP1$r0m\x1b\\x', 'x', 'a DCS string, with what looks like a CSI inside'],
    ['\x1b_apc\x1b[31m\x1b\\y', 'y', 'an APC string'],
    ['\x1b(B\x1b7text\x1b8\x1b=', 'text', 'charset selection and two-byte escapes'],
    ['\x9b31mC1\x9dtitle\x9c ok', 'C1 ok', '8-bit C1 CSI, OSC and ST'],
    ['progress 10%\rprogress 100%\n', 'progress 100%\n', 'a carriage return rewrites its line'],
    ['abc\r\nnext', 'abc\nnext', 'CRLF is a newline'],
    ['ab\bc', 'ac', 'backspace erases'],
    ['tab\there\x00\x07\x7f!', 'tab\there!', 'other controls show nothing'],
    ['padded   \nline', 'padded\nline', 'trailing blanks go'],
    ['cut \x1b[3', 'cut', 'a sequence cut off at the end'],
    ['日本語 ✓ \x1b[32m€\x1b[0m', '日本語 ✓ €', 'UTF-8 is text'],
  ]
  for (const [input, want, what] of cases) t.equal(plainText(input), want, what)
  t.equal(plainText(Buffer.from('\x1b[31mbytes\x1b[0m\n')), 'bytes\n', 'bytes are read as UTF-8')
})
