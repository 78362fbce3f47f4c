// Binding one of the daemon's ports (HTTP, gRPC, metrics, attach). A port another process holds,
// or one this user may not bind, is a setting to change: it becomes PORT_UNAVAILABLE, which the
// process prints as one line naming the port and its config key (src/process/lifecycle.ts)
// instead of a stack trace. Any other failure is left as it is.
import { envNameOf } from '../config-spec.js'
import { errors } from '../core/errors.js'

export interface PortSetting { host: string, port: number, /** e.g. daemon.http_port */ portKey: string, /** e.g. daemon.host */ hostKey: string }

export const bindPort = async <T>({ host, port, portKey, hostKey }: PortSetting, listen: () => Promise<T>): Promise<T> => {
  try {
    return await listen()
  } catch (err) {
    const fix = (key: string, to: string) => ({ key, variable: envNameOf(key), to })
    switch ((err as NodeJS.ErrnoException).code) {
      case 'EADDRINUSE': throw errors.portUnavailable(port, host, 'the port is already in use (another stratavored, or another program)', fix(portKey, 'a free port'), err)
      case 'EACCES': throw errors.portUnavailable(port, host, 'this user may not listen on it (ports below 1024 need privileges)', fix(portKey, 'a port above 1023'), err)
      case 'EADDRNOTAVAIL': throw errors.portUnavailable(port, host, 'the address is not one of this host\'s', fix(hostKey, 'an address of this host'), err)
      default: throw err
    }
  }
}
