import t from 'tap'
import { createReconcileGate } from '../../../src/core/runners/reconcile-gate.js'

t.test('the reconciler judges only after one TTL of being able to observe', async t => {
  let now = 1_000
  const gate = createReconcileGate({ graceMs: 30_000, now: () => now })
  t.notOk(gate.mayJudge(), 'not right after its own start')
  now += 29_999
  gate.recordSuccess()
  t.notOk(gate.mayJudge())
  now += 1
  t.ok(gate.mayJudge(), 'one TTL after start')
  gate.recordFailure()
  now += 120_000
  t.notOk(gate.mayJudge(), 'not while the database is unreachable, however long')
  gate.recordSuccess()
  t.notOk(gate.mayJudge(), 'not right after it is back')
  now += 30_000
  gate.recordSuccess()
  t.ok(gate.mayJudge(), 'one TTL after it is back')
})
