// text[] as the Postgres client parses it (fetch_types is off, see postgres-client.ts): quotes
// and backslashes unescaped, NULL as null, commas and braces inside quotes kept.
import t from 'tap'
import { parseTextArray } from '../../src/adapters/db/postgres-client.js'

t.test('parseTextArray', async t => {
  t.same(parseTextArray('{}'), [])
  t.same(parseTextArray('{a,b}'), ['a', 'b'])
  t.same(parseTextArray('{"a\\"b\\\\c","x,y","{z}",""}'), ['a"b\\c', 'x,y', '{z}', ''])
  t.same(parseTextArray('{NULL,"NULL",plain}'), [null, 'NULL', 'plain'])
})
