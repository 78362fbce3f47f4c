import t from 'tap'
import { isPostgresJsDeadSocketWrite } from '../../src/process/lifecycle.js'

t.test('only postgres.js writing to a nulled socket is survived', async t => {
  const driverBug = new TypeError("Cannot read properties of null (reading 'write')")
  driverBug.stack = `${driverBug.message}\n    at nextWrite (file:///app/node_modules/postgres/src/connection.js:255:22)\n    at process.processImmediate (node:internal/timers:478:21)`
  t.ok(isPostgresJsDeadSocketWrite(driverBug))
  const ours = new TypeError("Cannot read properties of null (reading 'write')")
  ours.stack = `${ours.message}\n    at send (file:///app/src/api/ws/feed-socket.ts:10:5)`
  t.notOk(isPostgresJsDeadSocketWrite(ours), 'the same message from our code is not excused')
  t.notOk(isPostgresJsDeadSocketWrite(new Error('boom')))
  t.notOk(isPostgresJsDeadSocketWrite('not an error'))
})
