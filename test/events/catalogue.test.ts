// The event catalogue is published twice for people (README's table, the routing keys in
// proto/stratavore/v1/events.proto): both must name every event type the code can write.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { EVENT_TYPES } from '../../src/core/events/event.js'

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')

t.test('README and the proto catalogue list every event type, and no other', async t => {
  const readme = read('README.md')
  const table = readme.slice(readme.indexOf('| routing key | data |'), readme.indexOf('**Sequence numbers.**'))
  const proto = read('proto/stratavore/v1/events.proto')
  const routing = proto.slice(proto.indexOf('// Routing keys:'), proto.indexOf('// Heartbeats are no state changes'))
  const typesIn = (text: string, pattern: RegExp) => [...new Set([...text.matchAll(pattern)].map(m => m[1]!))].sort()
  // The last word (project, runner or node id, or an alert's severity) is left out.
  const expected = [...EVENT_TYPES].sort()
  t.same(typesIn(table, /^\| `([a-z_]+\.[a-z_]+)\.[^`]+` \|/gm), expected, 'README\'s table')
  t.same(typesIn(routing, /^\/\/ {3}([a-z_]+\.[a-z_]+)\.\S+/gm), expected, 'events.proto\'s routing keys')
})
