// A TCP proxy a test puts between one process and a service (Postgres, RabbitMQ), so it can cut
// that process off as a network failure would without touching the service's other clients:
// `drop()` cuts what is open; `partition()` also refuses new connections until `heal()`.
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'

type TapTest = { teardown(fn: () => unknown): void }

export interface TcpProxy {
  host: string
  port: number
  /** Cuts every connection through the proxy (both sides); returns how many. */
  drop(): number
  /** Cuts every connection and refuses new ones until heal(). */
  partition(): void
  heal(): void
  /** Connections through the proxy still open. */
  open(): number
  /** Connections accepted so far. */
  accepted(): number
}

export const openTcpProxy = async (t: TapTest, target: { host: string, port: number }): Promise<TcpProxy> => {
  const pairs = new Set<[Socket, Socket]>()
  let accepted = 0
  let partitioned = false
  const server = createServer(client => {
    if (partitioned) { client.destroy(); return }
    accepted++
    const upstream = connect(target.port, target.host)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const cut = () => { client.destroy(); upstream.destroy(); pairs.delete(pair) }
    for (const socket of pair) { socket.on('error', cut); socket.on('close', cut) }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const drop = () => {
    const n = pairs.size
    for (const [client, upstream] of pairs) { client.destroy(); upstream.destroy() }
    pairs.clear()
    return n
  }
  t.teardown(() => { drop(); return new Promise(resolve => server.close(resolve)) })
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    drop,
    partition () { partitioned = true; drop() },
    heal () { partitioned = false },
    open: () => pairs.size,
    accepted: () => accepted,
  }
}
