// GET /api/v1/events with a real WebSocket client against a listening daemon: filters, resume
// with no gap and no duplicate (events published twice, or never), slow clients cut off,
// bad input refused, and shutdown releasing every subscription.
import t, { type Test } from 'tap'
import { eq, inArray } from 'drizzle-orm'
import WebSocket from 'ws'
import { eventFeed, events as auditLog } from '../../src/adapters/db/schema.js'
import { comparePositions } from '../../src/core/events/event-feed.js'
import type { EventBus } from '../../src/core/ports.js'
import { buildApp } from '../../src/api/app.js'
import { asAdmin, bearer, build } from '../helpers/app.js'
import { openTestAmqpBus, requireRabbit } from '../helpers/bus.js'
import { backendName } from '../helpers/database.js'
import { commitEvents, publishEvents, type EventSpec } from '../helpers/events.js'

type Frame = Record<string, unknown> & { event_id?: string, routing_key?: string, type?: string }

const waitFor = async (what: string, check: () => boolean, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

// The credential the feed's clients present (the suite's admin token).
let auth: Record<string, string> = {}

const connect = (base: string, query: Record<string, string> = {}) => {
  const ws = new WebSocket(`${base}/api/v1/events?${new URLSearchParams(query)}`, { headers: auth })
  const frames: Frame[] = []
  ws.on('message', data => frames.push(JSON.parse(data.toString()) as Frame))
  const closed = new Promise<{ code: number, reason: string }>(resolve => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
  })
  opened.catch(() => {})
  const ids = () => frames.filter(f => f.event_id).map(f => f.event_id!)
  return { ws, frames, ids, closed, opened }
}

// The same suite with each bus: the in-process one, and RabbitMQ (the feed's own queue bound
// '#', as each API instance has in production).
const feedSuite = async (t: Test, bus?: EventBus) => {
  const { app, ctx, token } = await build(t, undefined, bus ? { bus } : {})
  auth = bearer(token)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}`
  // Every client starts after a marker event, so that nothing a test commits can happen before
  // the client's cursor (a client without `after` starts from "now").
  const marker = async () => (await commitEvents(ctx, [{ project: 'marker', type: 'project.created' }]))[0]!.eventId
  const idle = () => waitFor('every feed subscription to be released', () => ctx.feed.stats().subscribers === 0)

  t.test('a filter selects by routing key: runner.*.p1 gets p1\'s runner events only', async t => {
    const client = connect(base, { filter: 'runner.*.p1', after: await marker() })
    await client.opened
    const events = await commitEvents(ctx, [
      { project: 'p1' }, { project: 'p2' }, { project: 'p1', type: 'project.archived' }, { project: 'p1', type: 'runner.stopped' },
      { project: 'p10' }, { project: 'p2', type: 'runner.stopped' }, { project: 'p1', type: 'runner.failed' },
    ])
    await publishEvents(ctx, events.map(e => e.eventId))
    const wanted = [events[0]!, events[3]!, events[6]!]
    // Frames come in commit order, so once the last p1 event is in, nothing else can still come.
    await waitFor('the p1 runner events', () => client.ids().length >= wanted.length)
    t.same(client.ids(), wanted.map(e => e.eventId))
    t.match(client.frames[0], {
      version: 1, event_id: events[0]!.eventId, type: 'runner.launched', routing_key: 'runner.launched.p1', project: 'p1',
      aggregate_type: 'runner', aggregate_id: events[0]!.aggregateId, seq: 1, actor: 'test', occurred_at: events[0]!.occurredAt.toISOString(), data: {},
    })
    client.ws.close()
    await client.closed
    await idle()
  })

  t.test('resume: 300 events from concurrent writers, some published twice and some never, across reconnects: no gap, no duplicate', async t => {
    // Three writers commit at once (on Postgres their transactions overlap and commit out of
    // order); the client drops its connection every other round and resumes from the last
    // event it saw.
    const writeRound = async (perProject: number, type: (i: number) => EventSpec['type']) => (await Promise.all(['p0', 'p1', 'p2'].map(project =>
      commitEvents(ctx, Array.from({ length: perProject }, (_, i) => ({ project, type: type(i) })))))).flat()
    const received: string[] = []
    const start = await marker()
    let client = connect(base, { filter: 'runner.#', after: start })
    await client.opened
    const committed: string[] = []
    const unpublished = new Set<string>()
    let resumedWithUnpublished = false
    for (let round = 0; round < 6; round++) {
      const events = await writeRound(17, i => i % 4 === 0 ? 'project.archived' : 'runner.launched')
      committed.push(...events.filter(e => e.type.startsWith('runner.')).map(e => e.eventId))
      // Every 7th is never published, every 5th twice; the rest once, in a shuffled order.
      const ids = events.map(e => e.eventId)
      ids.filter((_, i) => i % 7 === 3).forEach(id => unpublished.add(id))
      const published = ids.filter(id => !unpublished.has(id))
      await publishEvents(ctx, [...published.filter((_, i) => i % 2 === 1), ...published.filter((_, i) => i % 2 === 0), ...published.filter((_, i) => i % 5 === 0)])
      if (round % 2 === 1) {
        client.ws.terminate()
        await client.closed
        received.push(...client.ids())
        const missed = await writeRound(4, () => 'runner.stopped')
        committed.push(...missed.map(e => e.eventId))
        missed.filter((_, i) => i % 2 === 0).forEach(e => unpublished.add(e.eventId))
        await publishEvents(ctx, missed.filter((_, i) => i % 2 === 1).map(e => e.eventId))
        client = connect(base, { filter: 'runner.#', after: received.at(-1) ?? start })
        await client.opened
        await waitFor('the missed events', () => missed.every(e => client.ids().includes(e.eventId)))
        if (client.ids().some(id => unpublished.has(id))) resumedWithUnpublished = true
      }
    }
    await waitFor(`all ${committed.length} runner events`, () => received.length + client.ids().length >= committed.length)
    received.push(...client.ids())
    t.equal(new Set(received).size, received.length, 'no duplicate')
    t.same([...received].sort(), [...committed].sort(), 'every runner event, once')
    const rows = await ctx.database.db.select({ eventId: auditLog.eventId, seq: eventFeed.seq }).from(auditLog)
      .innerJoin(eventFeed, eq(eventFeed.auditId, auditLog.id)).where(inArray(auditLog.eventId, received))
    const position = new Map(rows.map(r => [r.eventId, String(r.seq)]))
    const outOfOrder = received.findIndex((id, i) => i > 0 && comparePositions(position.get(received[i - 1]!)!, position.get(id)!) >= 0)
    t.equal(outOfOrder, -1, 'in the feed\'s order across every reconnect')
    t.ok(resumedWithUnpublished, 'a resumed client got events that were never published')
    client.ws.close()
    await client.closed
    await idle()
  })

  t.test('a reconnect storm: 200 clients drop at once and resume at once while events keep coming', async t => {
    // Reference plan F19, scaled to this machine: every client must end with every event after
    // its start, once, in order, and the server must hold no subscription afterwards.
    const CLIENTS = 200
    const start = await marker()
    const committed: string[] = []
    let writing = true
    const writer = (async () => {
      while (writing) {
        const events = await commitEvents(ctx, [{ project: 'storm' }, { project: 'storm', type: 'runner.stopped' }])
        committed.push(...events.map(e => e.eventId))
        await publishEvents(ctx, events.map(e => e.eventId))
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    })()
    const got = Array.from({ length: CLIENTS }, () => [] as string[])
    let clients = got.map(() => connect(base, { filter: 'runner.*.storm', after: start }))
    await Promise.all(clients.map(c => c.opened))
    await waitFor('every client to get something', () => clients.every(c => c.ids().length > 0))
    for (const c of clients) c.ws.terminate()
    await Promise.all(clients.map(c => c.closed))
    clients.forEach((c, i) => got[i]!.push(...c.ids()))
    clients = got.map(ids => connect(base, { filter: 'runner.*.storm', after: ids.at(-1)! }))
    await Promise.all(clients.map(c => c.opened))
    await new Promise(resolve => setTimeout(resolve, 300))
    writing = false
    await writer
    await waitFor('every client to catch up', () => clients.every((c, i) => got[i]!.length + c.ids().length >= committed.length), 60_000)
    clients.forEach((c, i) => got[i]!.push(...c.ids()))
    const wrong = got.findIndex(ids => ids.length !== committed.length || ids.some((id, j) => id !== committed[j]))
    t.equal(wrong, -1, `every client got all ${committed.length} events once, in commit order (one writer)`)
    for (const c of clients) c.ws.close()
    await Promise.all(clients.map(c => c.closed))
    await idle()
  })

  t.test('an unknown `after` gets a resync_required frame and close 4409', async t => {
    const client = connect(base, { after: ctx.ids.next() })
    const { code } = await client.closed
    t.equal(code, 4409)
    t.match(client.frames, [{ type: 'resync_required', reason: /not in the audit log/ }])
    await idle()
  })

  t.test('a client that stops reading is cut off with 1013 past 1 MiB unsent; the others are not', async t => {
    const after = await marker()
    const slow = connect(base, { filter: 'runner.*.big', after })
    const steady = connect(base, { filter: 'runner.*.big', after })
    await Promise.all([slow.opened, steady.opened])
    const socket = (slow.ws as unknown as { _socket: { pause(): void, resume(): void } })._socket
    socket.pause()
    // Big events until the server gives up on the slow client: the kernel's socket buffers take
    // some megabytes before anything waits in the server's memory.
    const data = { blob: 'x'.repeat(32 * 1024) }
    const sent: string[] = []
    while (ctx.feed.stats().subscribers === 2) {
      if (sent.length >= 2_000) throw new Error('the slow client was never cut off (2,000 events of 32 KiB sent)')
      const events = await commitEvents(ctx, Array.from({ length: 20 }, () => ({ project: 'big', data })))
      sent.push(...events.map(e => e.eventId))
      await publishEvents(ctx, events.map(e => e.eventId))
      await waitFor('the steady client to keep up', () => steady.ids().length === sent.length || ctx.feed.stats().subscribers < 2)
    }
    t.equal(ctx.feed.stats().subscribers, 1, 'the slow client\'s subscription is released while it still has not read')
    socket.resume()
    const { code } = await slow.closed
    t.equal(code, 1013)
    t.ok(slow.ids().length < sent.length, `cut off after ${slow.ids().length} of ${sent.length} events`)
    t.same(slow.ids(), sent.slice(0, slow.ids().length), 'what it got was in order')
    await waitFor('the steady client to get everything', () => steady.ids().length === sent.length)
    t.same(steady.ids(), sent)
    steady.ws.close()
    await steady.closed
    await idle()
  })

  t.test('a replay of several megabytes over several pages reaches a reading client whole', async t => {
    // Pages of 500 events of 8 KiB: each page is written faster than any client reads it, so
    // the server must hand frames to the kernel as it goes and wait for it to drain between
    // pages, without taking a client that reads for a slow one.
    const after = await marker()
    const data = { blob: 'y'.repeat(8 * 1024) }
    const sent: string[] = []
    for (let i = 0; i < 6; i++) sent.push(...(await commitEvents(ctx, Array.from({ length: 200 }, () => ({ project: 'replay', data })))).map(e => e.eventId))
    const client = connect(base, { filter: 'runner.*.replay', after })
    let closedEarly: number | null = null
    void client.closed.then(({ code }) => { closedEarly = code })
    await client.opened
    await waitFor('the whole replay', () => client.ids().length >= sent.length || closedEarly !== null)
    t.equal(closedEarly, null, 'the socket stays open')
    t.same(client.ids(), sent, 'every event, in order, once')
    client.ws.close()
    await client.closed
    await idle()
  })

  t.test('since: the events that occurred from then on are replayed, then live ones follow', async t => {
    const start = new Date()
    const events = await commitEvents(ctx, [{ project: 'since1' }, { project: 'since1', type: 'runner.stopped' }])
    const client = connect(base, { filter: 'runner.*.since1', since: start.toISOString() })
    await client.opened
    await waitFor('the two replayed events', () => client.ids().length >= 2)
    const [live] = await commitEvents(ctx, [{ project: 'since1', type: 'runner.failed' }])
    await publishEvents(ctx, [live!.eventId])
    await waitFor('the live event', () => client.ids().length >= 3)
    t.same(client.ids(), [...events, live!].map(e => e.eventId))
    client.ws.close()
    await client.closed
    await idle()
  })

  t.test('bad input is refused: a bad filter or cursor before the upgrade, then anything but a small JSON ping', async t => {
    const refused: Array<Record<string, string>> = [
      { filter: 'runner..p1' }, { filter: 'runner.p1.' }, { filter: 'a b' }, { after: 'nope' }, { colour: 'blue' },
      { since: 'yesterday' }, { since: new Date().toISOString(), after: ctx.ids.next() },
    ]
    for (const query of refused) {
      const client = connect(base, query)
      await t.rejects(client.opened, { message: 'HTTP 400' }, JSON.stringify(query))
    }
    const plain = await app.inject({ method: 'GET', url: '/api/v1/events' })
    t.equal(plain.statusCode, 426)
    t.match(plain.json(), { code: 'UPGRADE_REQUIRED' })
    t.match(plain.headers['content-type'], /problem\+json/)

    const pinger = connect(base)
    await pinger.opened
    pinger.ws.send(JSON.stringify({ type: 'ping' }))
    await waitFor('a pong', () => pinger.frames.some(f => f.type === 'pong'))
    const cases: Array<[string, (ws: WebSocket) => void, number]> = [
      ['text that is not a ping', ws => ws.send('{"type":"subscribe","filter":"#"}'), 1008],
      ['not JSON', ws => ws.send('hello'), 1008],
      ['binary', ws => ws.send(Buffer.from('{"type":"ping"}')), 1008],
      ['a frame over 64 KiB', ws => ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(70_000) })), 1009],
      ['a flood of pings', ws => { for (let i = 0; i < 50; i++) ws.send('{"type":"ping"}') }, 1008],
      // Reference plan B13: a text frame that is not UTF-8.
      ['a text frame of invalid UTF-8', ws => ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }), 1007],
    ]
    for (const [what, send, expected] of cases) {
      const client = connect(base)
      await client.opened
      send(client.ws)
      t.equal((await client.closed).code, expected, what)
    }
    pinger.ws.close()
    await pinger.closed
    await idle()
  })

  t.test('app.close() closes every socket with 1001 and releases every subscription', async t => {
    const other = asAdmin(await buildApp(ctx), ctx)
    await other.listen({ port: 0, host: '127.0.0.1' })
    const otherBase = `ws://127.0.0.1:${(other.server.address() as { port: number }).port}`
    const after = await marker()
    const clients = [connect(otherBase, { after }), connect(otherBase, { filter: 'runner.*.p1' }), connect(otherBase, { filter: '#', after })]
    await Promise.all(clients.map(c => c.opened))
    await waitFor('the feed to tail', () => ctx.feed.stats().busSubscribed)
    const paused = (clients[2]!.ws as unknown as { _socket: { pause(): void } })._socket
    paused.pause() // one client never answers the closing handshake
    await other.close()
    t.same(ctx.feed.stats(), { subscribers: 0, tailing: false, busSubscribed: false }, 'nothing left subscribed once app.close() returns')
    const codes = await Promise.all(clients.slice(0, 2).map(c => c.closed))
    t.same(codes.map(c => c.code), [1001, 1001])
  })
}

t.test(`GET /api/v1/events on ${backendName()} with the in-process bus`, t => feedSuite(t))

t.test(`GET /api/v1/events on ${backendName()} with RabbitMQ`, async t => {
  if (!requireRabbit(t)) return
  const { bus } = await openTestAmqpBus(t)
  await feedSuite(t, bus)
})
