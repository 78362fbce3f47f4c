// Topic matching as RabbitMQ does it (test/events/amqp-subscribe.test.ts checks the same table
// against the broker itself): `*` one word, `#` zero or more, the empty key no words at all.
import t from 'tap'
import { checkTopicPattern, topicMatches } from '../../src/core/events/topic.js'

t.test('words, stars and hashes', async t => {
  const cases: Array<[string, string, boolean]> = [
    ['runner.*.p1', 'runner.launched.p1', true],
    ['runner.*.p1', 'runner.launched.p2', false],
    ['runner.*.p1', 'runner.p1', false],
    ['runner.#', 'runner', true],
    ['runner.#', 'runner.a.b.c', true],
    ['#.p1', 'p1', true],
    ['#.p1', 'runner.launched.p1', true],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['#', 'a.b.c', true],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.*.#', 'a', false],
    // The empty key has no words: `#` matches it, anything needing a word does not.
    ['#', '', true],
    ['*', '', false],
    ['#.*', '', false],
    ['*.#', '', false],
  ]
  for (const [pattern, key, want] of cases) t.equal(topicMatches(pattern, key), want, `${pattern} ~ ${JSON.stringify(key)}`)
})

t.test('patterns are checked', async t => {
  for (const bad of ['', 'a..b', 'a.*x', 'a b', 'a.#.', '.a', 'x'.repeat(256)]) {
    t.throws(() => checkTopicPattern(bad), { code: 'INVALID_ARGUMENT' }, JSON.stringify(bad.slice(0, 20)))
  }
  t.equal(checkTopicPattern('runner.*.my-project_1'), 'runner.*.my-project_1')
})
