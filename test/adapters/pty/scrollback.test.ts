import t from 'tap'
import { createLineSplitter } from '../../../src/adapters/pty/line-splitter.js'
import { createScrollback } from '../../../src/adapters/pty/scrollback.js'
import { startFakeAgent, waitForOutput } from './fake-agent.js'

t.test('scrollback', async t => {
  t.test('keeps everything until full, then the newest bytes in order', async t => {
    const ring = createScrollback(10)
    ring.append(Buffer.from('abc'))
    ring.append(Buffer.from('defg'))
    t.equal(ring.snapshot().toString(), 'abcdefg')
    ring.append(Buffer.from('hijkl'))
    t.equal(ring.snapshot().toString(), 'cdefghijkl')
    ring.append(Buffer.from('mn'))
    t.equal(ring.snapshot().toString(), 'efghijklmn')
    ring.append(Buffer.from('0123456789ABC'))
    t.equal(ring.snapshot().toString(), '3456789ABC', 'a chunk bigger than the ring keeps its tail')
    t.equal(ring.length, 10)
  })

  t.test('matches a naive tail over many random appends, across its growth', async t => {
    const ring = createScrollback(5000)
    let everything = Buffer.alloc(0)
    for (let i = 0; i < 500; i++) {
      const chunk = Buffer.alloc(Math.floor(Math.random() * 300), String.fromCharCode(97 + (i % 26)))
      ring.append(chunk)
      everything = Buffer.concat([everything, chunk]).subarray(-5000)
    }
    t.ok(ring.snapshot().equals(everything))
  })

  t.test('rejects a capacity that is not a positive integer', async t => {
    t.throws(() => createScrollback(0), RangeError)
  })

  t.test('a 50 MB flood keeps the scrollback at its bound', async t => {
    const agent = startFakeAgent(t, ['--flood', String(50 * 1024 * 1024)], { terminal: true, scrollbackBytes: 64 * 1024 })
    let total = 0
    agent.onOutput(chunk => { total += chunk.length })
    await waitForOutput(agent, /FLOODED/, 'the end of the flood', 60_000)
    t.ok(total >= 50 * 1024 * 1024, 'every byte reached the listeners')
    const kept = agent.scrollback()
    t.equal(kept.length, 64 * 1024)
    t.match(kept.toString(), /x+\r\nFLOODED\r\n/)
  })

  t.test('a 50 MB line on pipes is dropped from the lines, not buffered', async t => {
    const agent = startFakeAgent(t, ['--flood', String(50 * 1024 * 1024), '--exit-code', '0'], { terminal: false, scrollbackBytes: 64 * 1024 })
    const lines: string[] = []
    agent.onStdoutLine(line => lines.push(line))
    t.same(await agent.exited, { code: 0, signal: null })
    t.same(lines, ['FLOODED', 'READY'])
    t.equal(agent.scrollback().length, 64 * 1024)
  })
})

t.test('line splitter', async t => {
  t.test('joins split lines, strips CR, decodes split UTF-8 and flushes the tail', async t => {
    const lines: string[] = []
    const splitter = createLineSplitter(line => lines.push(line))
    const euro = Buffer.from('€')
    splitter.push(Buffer.from('one\r\ntw'))
    splitter.push(Buffer.concat([Buffer.from('o '), euro.subarray(0, 1)]))
    splitter.push(Buffer.concat([euro.subarray(1), Buffer.from('\n\nthree')]))
    splitter.end()
    t.same(lines, ['one', 'two €', '', 'three'])
  })

  t.test('drops a line over the limit and carries on with the next', async t => {
    const lines: string[] = []
    const splitter = createLineSplitter(line => lines.push(line), 8)
    splitter.push(Buffer.from('short\n0123'))
    splitter.push(Buffer.from('456789'))
    splitter.push(Buffer.from('more and more\nok\n'))
    splitter.push(Buffer.from('waytoolongline\nend'))
    splitter.end()
    t.same(lines, ['short', 'ok', 'end'])
    t.equal(splitter.droppedLines, 2)
  })
})
