// A daemon whose HTTP, gRPC or metrics port is taken stops with one line that names the port
// and the key to change, exit code 1, and no stack trace (src/process/bind-port.ts).
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/temp-dir.js'
import { freePort, startDaemon } from '../helpers/daemon.js'

const occupy = (port: number) => new Promise<Server>((resolve, reject) => {
  const server = createServer()
  server.once('error', reject)
  server.listen(port, '127.0.0.1', () => resolve(server))
})

t.test('a port in use: one line naming it and its key', async t => {
  const home = tempDir(t)
  // One data dir for the three: the first start migrates it, the others find it ready.
  const env = { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data'), STRATAVORE_OBSERVABILITY_LOG_LEVEL: 'warn' }
  for (const [key, variable] of [['daemon.http_port', 'STRATAVORE_DAEMON_HTTP_PORT'], ['daemon.grpc_port', 'STRATAVORE_DAEMON_GRPC_PORT'], ['docker.prometheus.port', 'STRATAVORE_DOCKER_PROMETHEUS_PORT']] as const) {
    const port = await freePort()
    const taken = await occupy(port)
    t.teardown(() => { taken.close() })
    const daemon = await startDaemon(['api'], { ...env, [variable]: String(port) })
    t.teardown(() => { daemon.child.kill('SIGKILL') })
    const { code } = await daemon.exited
    t.equal(code, 1, key)
    t.match(daemon.output(), `stratavored: cannot listen on 127.0.0.1:${port}: the port is already in use (another stratavored, or another program); set ${key} (or ${variable}) to a free port\n`)
    t.notMatch(daemon.output(), /\n\s+at /, `${key}: no stack trace`)
  }
})
