// Where the API may listen in clear: daemon.host is checked against the TLS settings of the
// ports that listen on it (the HTTP port and the gRPC port) before the daemon opens anything.
import { BlockList, isIP } from 'node:net'
import { configError, type Config } from './config.js'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`; `0.0.0.0` and `::` are every address, not loopback. */
export const isLoopbackHost = (host: string): boolean => {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (bare === 'localhost') return true
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare)?.[1]
  if (mapped) return LOOPBACK.check(mapped, 'ipv4')
  const family = isIP(bare)
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6')
}

/**
 * The API's ports listen on daemon.host: on any other address than loopback, each port needs
 * TLS (or daemon.allow_insecure_bind), so credentials and agents' output never cross a network
 * in clear by accident. Throws the config error that stops the daemon.
 */
export const checkListenSecurity = (config: Config): void => {
  const { host, allow_insecure_bind: allowed } = config.daemon
  if (allowed || isLoopbackHost(host)) return
  const clear = [
    ...(config.daemon.tls_cert_file ? [] : [{ port: 'HTTP', keys: 'daemon.tls_cert_file and daemon.tls_key_file' }]),
    ...(config.daemon.grpc_tls_cert_file ? [] : [{ port: 'gRPC', keys: 'daemon.grpc_tls_cert_file and daemon.grpc_tls_key_file' }]),
  ]
  if (clear.length === 0) return
  const ports = clear.length === 1 ? `the ${clear[0]!.port} port has` : 'the HTTP and gRPC ports have'
  throw configError('daemon.host', `${host} is not a loopback address and ${ports} no TLS; ` +
    `set ${clear.map(c => c.keys).join(', and ')}, or daemon.allow_insecure_bind: true`, 'config')
}
