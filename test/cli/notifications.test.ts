// `stratavore notifications ls|retry` against a real daemon whose webhook fails: the delivery
// ends in the dead-letter, ls shows it, retry sends it again once the endpoint answers.
import t from 'tap'
import { startWebhookReceiver } from '../helpers/webhook-receiver.js'
import { eventually, startCliDaemon } from './helpers.js'

t.setTimeout(600_000)

t.test('the dead-letter from the CLI', async t => {
  const receiver = await startWebhookReceiver(t)
  let up = false
  receiver.setRespond(() => up ? 200 : 500)
  const d = await startCliDaemon(t, {
    yaml: [
      'relay:', '  poll_interval_ms: 100',
      'notifications:', '  max_attempts: 1', '  webhooks:',
      `    - { url: ${JSON.stringify(receiver.url('/hook'))}, events: ["project.#"], name: hook }`,
    ],
  })
  const none = await d.run(['notifications', 'ls', '--status', 'dead'])
  t.equal(none.code, 0, none.stderr)
  t.match(none.stderr + none.stdout, /no dead deliveries/)
  t.equal((await d.run(['new', 'demo', '--path', d.dir('demo')])).code, 0)

  const dead = await eventually('the dead delivery', async () => {
    const r = await d.run(['notifications', 'ls', '--status', 'dead', '--json'])
    const list = JSON.parse(r.stdout).deliveries as Array<{ id: string, type: string, webhookId: string, lastError: string }>
    return list.length > 0 ? list : undefined
  }, 120_000)
  t.match(dead, [{ type: 'project.created', webhookId: 'hook', lastError: /HTTP 500/ }])
  const table = await d.run(['notifications', 'ls'])
  t.match(table.stdout, new RegExp(`${dead[0]!.id}\\s+hook\\s+project\\.created\\s+dead\\s+1`))

  for (const [args, pattern, code] of [
    [['notifications', 'retry'], /give the delivery id/, 2],
    [['notifications', 'retry', 'abc'], /give the delivery id/, 2],
    [['notifications', 'ls', '--status', 'lost'], /--status/, 2],
    [['notifications', 'purge'], /unknown action "purge"/, 2],
    [['notifications', 'retry', '01234567-89ab-7def-8123-456789abcdef'], /notification delivery not found/, 1],
  ] as const) {
    const r = await d.run([...args])
    t.equal(r.code, code, `${args.join(' ')}: exit ${code}`)
    t.match(r.stderr, pattern)
  }

  up = true
  const retried = await d.run(['notifications', 'retry', dead[0]!.id])
  t.equal(retried.code, 0, retried.stderr)
  t.match(retried.stdout, /is pending again/)
  await eventually('the retried delivery', async () => receiver.received.length === 1 ? true : undefined, 60_000)
  t.equal(receiver.received[0]!.key.endsWith(':hook'), true)
  const notAgain = await d.run(['notifications', 'retry', dead[0]!.id])
  t.equal(notAgain.code, 1)
  t.match(notAgain.stderr, /only a dead delivery can be retried/)
})
