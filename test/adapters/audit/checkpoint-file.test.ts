// The checkpoint file: lines come back newest first, whole, however they fall across the
// 64 KiB chunks it is read in; it is created 0600; a torn last line does not swallow the next.
import { appendFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CHECKPOINT_FILE, createCheckpointFile } from '../../../src/adapters/audit/checkpoint-file.js'
import { tempDir } from '../../helpers/temp-dir.js'

const all = async (iterable: AsyncIterable<string>) => {
  const lines: string[] = []
  for await (const line of iterable) lines.push(line)
  return lines
}

t.test('no file yet: no lines', async t => {
  t.same(await all(createCheckpointFile(join(tempDir(t), 'not-yet')).newestFirst()), [])
})

t.test('appends create the file 0600 and read back newest first', async t => {
  const dir = join(tempDir(t), 'data')
  const log = createCheckpointFile(dir)
  for (const line of ['one', 'two', 'three']) await log.append(line)
  t.equal(statSync(log.location).mode & 0o777, 0o600)
  t.same(await all(log.newestFirst()), ['three', 'two', 'one'])
})

t.test('lines of every length across chunk boundaries, multi-byte characters included', async t => {
  const dir = tempDir(t)
  const lines = [1, 65_535, 65_536, 65_537, 3, 200_000, 10, 131_072].map((n, i) => `${i}é${'x'.repeat(n)}`)
  writeFileSync(join(dir, CHECKPOINT_FILE), lines.map(l => `${l}\n`).join(''))
  t.same(await all(createCheckpointFile(dir).newestFirst()), [...lines].reverse())
})

t.test('a torn last line is read as it is, and the next append starts a line of its own', async t => {
  const dir = tempDir(t)
  const log = createCheckpointFile(dir)
  await log.append('whole')
  appendFileSync(log.location, '{"torn')
  t.same(await all(log.newestFirst()), ['{"torn', 'whole'])
  await log.append('next')
  t.same(await all(log.newestFirst()), ['next', '{"torn', 'whole'])
})

t.test('a reader may stop early', async t => {
  const dir = tempDir(t)
  const log = createCheckpointFile(dir)
  for (let i = 0; i < 5; i++) await log.append(`line ${i}`)
  for await (const line of log.newestFirst()) {
    t.equal(line, 'line 4')
    break
  }
})
