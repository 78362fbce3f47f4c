// EventService/WatchEvents over Connect (HTTP/1.1, the HTTP port): a change made through the
// use cases arrives as a proto Event; filters and resume behave as on the WebSocket feed; a
// stale cursor ends the stream with FAILED_PRECONDITION; a closed stream releases its
// subscription; the app's shutdown ends open streams with UNAVAILABLE.
import t from 'tap'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { EventService, type WatchEventsResponse } from '../../../src/gen/stratavore/v1/event_service_pb.js'
import { build, withToken } from '../../helpers/app.js'
import { backendName } from '../../helpers/database.js'
import { commitEvents } from '../../helpers/events.js'
import { createProject } from '../../helpers/fixtures.js'
import { failureOf, waitFor } from './helpers.js'

t.test(`WatchEvents on ${backendName()}`, async t => {
  const { app, ctx, token } = await build(t)
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })
  const events = createClient(EventService, createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [withToken(token)] }))
  // A client watching from a marker cannot miss what is committed after it, whenever its
  // subscription is actually made.
  const marker = async () => (await commitEvents(ctx, [{ project: 'marker', type: 'project.created' }]))[0]!.eventId
  const idle = () => waitFor('every feed subscription to be released', () => ctx.feed.stats().subscribers === 0)

  const watch = (request: { filter?: string, after?: string }) => {
    const abort = new AbortController()
    const received: WatchEventsResponse[] = []
    const ended = (async () => {
      for await (const message of events.watchEvents(request, { signal: abort.signal })) received.push(message)
    })()
    ended.catch(() => {})
    return { received, ended, stop: () => abort.abort() }
  }

  t.test('a change made through the use cases arrives as an Event', async t => {
    const stream = watch({ filter: 'project.created.*', after: await marker() })
    const project = await createProject(t, ctx)
    await waitFor('the project.created event', () => stream.received.some(m => m.event?.project === project.name))
    const message = stream.received.find(m => m.event?.project === project.name)!
    t.equal(message.routingKey, `project.created.${project.name}`)
    t.match(message.event, { version: 1, type: 'project.created', aggregateType: 'project', aggregateId: project.name, actor: 'test' })
    t.equal(message.event?.data?.path, project.path, 'data is the payload (a Struct)')
    t.notOk(stream.received.some(m => m.event?.project === 'marker'), 'the marker itself is not replayed')
    stream.stop()
    await idle()
  })

  t.test('filter and resume: the events after `after`, matching the filter, in commit order', async t => {
    const from = await marker()
    const committed = await commitEvents(ctx, [{ project: 'p1' }, { project: 'p2' }, { project: 'p1', type: 'runner.stopped' }, { project: 'p1', type: 'project.archived' }])
    const stream = watch({ filter: 'runner.*.p1', after: from })
    await waitFor('the two p1 runner events', () => stream.received.length >= 2)
    t.same(stream.received.map(m => m.event?.eventId), [committed[0]!.eventId, committed[2]!.eventId])
    const resumed = watch({ filter: '#', after: committed[1]!.eventId })
    await waitFor('the events after the second', () => resumed.received.length >= 2)
    t.same(resumed.received.map(m => m.event?.eventId), [committed[2]!.eventId, committed[3]!.eventId])
    stream.stop()
    resumed.stop()
    await idle()
  })

  t.test('bad requests and stale cursors end the stream with a code', async t => {
    t.match(await failureOf(watch({ filter: 'runner..x' }).ended), { code: 'InvalidArgument' })
    t.match(await failureOf(watch({ after: 'not-a-uuid' }).ended), { code: 'InvalidArgument', detail: 'VALIDATION_FAILED' })
    t.match(await failureOf(watch({ after: '00000000-0000-7000-8000-000000000000' }).ended), { code: 'FailedPrecondition', detail: 'RESYNC_REQUIRED' })
    await idle()
  })

  t.test('shutdown ends open streams with UNAVAILABLE', async t => {
    const stream = watch({ after: await marker() })
    await waitFor('the subscription', () => ctx.feed.stats().subscribers === 1)
    const closed = app.close()
    t.match(await failureOf(stream.ended), { code: 'Unavailable', message: /shutting down/ })
    await closed
    await idle()
  })
})
