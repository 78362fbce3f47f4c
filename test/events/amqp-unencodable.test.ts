// Regression: a message amqplib cannot encode (a routing key over 255 bytes) among good ones.
// amqplib's ConfirmChannel registers a confirm callback before encoding, so letting it throw
// left a callback no confirm matched: the batch's last confirm never came and the relay hung
// holding its claim (found by test/faults/poison-row.test.ts). The bus now refuses such a
// message itself; every outcome must resolve, and the channel must stay aligned afterwards.
import t from 'tap'
import { openTestAmqpBus, requireRabbit } from '../helpers/bus.js'
import type { BusMessage } from '../../src/core/ports.js'

const message = (i: number, routingKey = `runner.launched.p${i}`): BusMessage =>
  ({ routingKey, messageId: `m-${i}`, type: 'runner.launched', timestamp: new Date(), body: { i } })

t.test('an unencodable message is refused alone and the channel stays usable', async t => {
  if (!requireRabbit(t)) return
  const { bus } = await openTestAmqpBus(t)
  const batch = [message(0), message(1), message(2, `runner.launched.${'x'.repeat(300)}`), message(3), message(4)]
  const timeout = (ms: number) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no outcome within ${ms} ms`)), ms).unref())
  const outcomes = await Promise.race([bus.publishBatch(batch), timeout(10_000)])
  t.same(outcomes.map(o => o.ok), [true, true, false, true, true])
  t.match(outcomes[2], { reason: 'rejected', error: /routing key longer than 255 bytes/ })
  const next = await Promise.race([bus.publishBatch([message(5), message(6)]), timeout(10_000)])
  t.same(next, [{ ok: true }, { ok: true }], 'the next batch on the same channel is confirmed message by message')
})
