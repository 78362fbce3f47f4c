// Open WebSockets are capped per credential and in total: past a cap the upgrade is refused
// with 429 TOO_MANY_CONNECTIONS (a problem the client can read), and a closed socket frees
// its place.
import t from 'tap'
import { WebSocket } from 'ws'
import { bearer, build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'

const open = (url: string, token: string) => new Promise<{ socket: WebSocket, status: number }>(resolve => {
  const socket = new WebSocket(url, { headers: bearer(token) })
  socket.once('open', () => resolve({ socket, status: 101 }))
  socket.once('unexpected-response', (_req, res) => {
    let body = ''
    res.on('data', chunk => { body += chunk })
    res.on('end', () => resolve({ socket, status: res.statusCode ?? 0, ...(body ? { body } : {}) }))
  })
  socket.once('error', () => {})
})

t.test(`WebSocket caps per token and in total, on ${backendName()}`, async t => {
  const { app, ctx, token } = await build(t, config => {
    config.security.max_websockets_per_token = 2
    config.security.max_websockets = 3
  })
  const port = (await app.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1)
  const url = `ws://127.0.0.1:${port}/api/v1/events`
  const other = (await ctx.tokens.create({ name: 'cap-viewer', role: 'viewer' }, 'test')).secret

  const first = await open(url, token)
  const second = await open(url, token)
  t.same([first.status, second.status], [101, 101], 'two sockets per token')
  const third = await open(url, token)
  t.equal(third.status, 429, 'a third on the same token is refused before the upgrade')
  t.equal(app.sockets.size, 2)

  const otherFirst = await open(url, other)
  t.equal(otherFirst.status, 101, 'another token has its own allowance')
  const otherSecond = await open(url, other)
  t.equal(otherSecond.status, 429, 'but the daemon holds its total of three')

  const closed = new Promise(resolve => first.socket.once('close', resolve))
  first.socket.close()
  await closed
  for (let i = 0; i < 100 && app.sockets.size !== 2; i++) await new Promise(resolve => setTimeout(resolve, 10))
  const again = await open(url, token)
  t.equal(again.status, 101, 'a closed socket frees its place')
  for (const s of [second, again, otherFirst]) s.socket.close()
})
