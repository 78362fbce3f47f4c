// The gRPC port (daemon.grpc_port): the same Connect router as the HTTP port, served by a
// node:http2 server so that gRPC clients (which need HTTP/2 trailers) can call it. Connect,
// gRPC and gRPC-Web all work here. Cleartext h2c with prior knowledge by default (meant for
// loopback); TLS with ALPN h2 when daemon.grpc_tls_cert_file and _key_file are set, and with
// daemon.grpc_client_ca_file only clients with a certificate that CA signed get through (mTLS).
import { createSecureServer, createServer, type Http2SecureServer, type Http2Server, type ServerHttp2Session } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { createContextValues } from '@connectrpc/connect'
import { connectNodeAdapter } from '@connectrpc/connect-node'
import type { Context } from '../context.js'
import { clientAddressKey } from './rpc/actor.js'
import { routerOptions, routes } from './rpc/routes.js'

export interface GrpcServer {
  /** Resolves with the bound address (port 0 picks a free one). */
  listen(options: { host: string, port: number }): Promise<AddressInfo>
  /**
   * Ends open streams (UNAVAILABLE), stops accepting connections, lets calls in flight finish
   * for drainMs, then destroys whatever is left.
   */
  close(): Promise<void>
  readonly tls: boolean
  /** Clients must show a certificate signed by daemon.grpc_client_ca_file. */
  readonly mtls: boolean
}

export const buildGrpcServer = (ctx: Context, { drainMs = 5000 }: { drainMs?: number } = {}): GrpcServer => {
  const closing = new AbortController()
  const handler = connectNodeAdapter({
    ...routerOptions(ctx),
    routes: routes({ ctx, closing: closing.signal }),
    contextValues: req => createContextValues().set(clientAddressKey, req.socket.remoteAddress ?? ''),
  })
  const tls = ctx.config.grpcTls
  // HTTP/1.1 stays off: this port is for HTTP/2 clients; Connect over HTTP/1.1 has the HTTP port.
  const settings = { maxConcurrentStreams: 1000 }
  const server: Http2Server | Http2SecureServer = tls
    ? createSecureServer({
      cert: tls.cert,
      key: tls.key,
      allowHTTP1: false,
      settings,
      // The handshake fails for a client without a certificate, or with one the CA did not sign.
      ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    }, handler)
    : createServer({ settings }, handler)
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', session => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  const log = ctx.logger.child({ component: 'grpc' })
  server.on('sessionError', err => log.info({ err }, 'http/2 session error'))
  server.on('tlsClientError', err => log.debug({ err }, 'tls handshake failed'))

  return {
    tls: tls !== null,
    mtls: tls?.clientCa != null,

    listen: ({ host, port }) => new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve(server.address() as AddressInfo)
      })
    }),

    async close () {
      if (!server.listening) return
      closing.abort()
      const closed = new Promise<void>(resolve => server.close(() => resolve()))
      // GOAWAY: clients open no new streams on these sessions; open ones may finish.
      for (const session of sessions) session.close()
      const deadline = setTimeout(() => {
        if (sessions.size > 0) log.warn({ sessions: sessions.size }, 'grpc calls still running after the drain period; closing their connections')
        for (const session of sessions) session.destroy()
      }, drainMs)
      try { await closed } finally { clearTimeout(deadline) }
    },
  }
}
