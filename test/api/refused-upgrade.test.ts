// A WebSocket upgrade refused before the websocket plugin's hooks (wrong Host, foreign Origin,
// no or a bad credential, too many sockets) must close its connection: Node forgets an upgrade
// request's socket, so one left open would hold a descriptor until the client hung up, and
// app.close() would wait on it.
import { connect } from 'node:net'
import t from 'tap'
import WebSocket from 'ws'
import { bearer, build } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'

/** Sends a raw upgrade request and resolves with the status line once the server has closed the connection. */
const refusedUpgrade = (port: number, headers: Record<string, string>) => new Promise<string>((resolve, reject) => {
  const socket = connect(port, '127.0.0.1')
  let received = ''
  socket.on('data', chunk => { received += String(chunk) })
  socket.on('error', reject)
  // The client never ends its side: only the server can close this.
  socket.on('close', () => resolve(received.split('\r\n')[0]!))
  const lines = Object.entries({
    host: `127.0.0.1:${port}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers,
  }).map(([k, v]) => `${k}: ${v}`)
  socket.write(`GET /api/v1/events HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`)
})

t.test(`refused upgrades close their connection on ${backendName()}`, async t => {
  const { app, token } = await build(t, config => { config.security.max_websockets_per_token = 1 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  t.match(await refusedUpgrade(port, { host: 'rebind.evil.example' }), /^HTTP\/1\.1 421 /, 'a rebound Host')
  t.match(await refusedUpgrade(port, { authorization: `Bearer ${token}`, origin: 'http://evil.example' }), /^HTTP\/1\.1 403 /, 'a foreign Origin')
  t.match(await refusedUpgrade(port, {}), /^HTTP\/1\.1 401 /, 'no credential')
  t.match(await refusedUpgrade(port, { authorization: 'Bearer stv_not-a-real-token-at-all' }), /^HTTP\/1\.1 401 /, 'an unknown token')
  const held = new WebSocket(`ws://127.0.0.1:${port}/api/v1/events`, { headers: bearer(token) })
  await new Promise((resolve, reject) => held.once('open', resolve).once('error', reject))
  t.match(await refusedUpgrade(port, bearer(token)), /^HTTP\/1\.1 429 /, 'a socket past the per-token cap')
  held.close()
})
