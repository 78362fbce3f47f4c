// The stratavored command: one subcommand per process, `all` (the default) runs every role in
// one process. Parses only the subcommand and --config; everything else is configuration.
import { parseArgs } from 'node:util'
import { createContext, type Context } from '../src/context.js'
import { runProcess, type Part } from '../src/process/lifecycle.js'
import { startApi } from './api.js'
import { startRelay } from './outbox-relay.js'
import { startReconciler } from './reconciler.js'
import { startRemoteSupervisor, type RemoteShared } from './remote-supervisor.js'
import { startSupervisor } from './supervisor.js'

const USAGE = `usage: stratavored [all | ROLE...] [--config FILE]
       stratavored supervisor --server URL [--join-token TOKEN] [--config FILE]

  all         every role in one process (default; what npm start runs)
  api         the HTTP API on daemon.http_port and metrics on docker.prometheus.port
  relay       publishes the outbox to the event bus (RabbitMQ with AMQP_URL)
  reconciler  marks silent runners lost, then failed (every daemon.reconcile_interval_seconds)
  supervisor  this host's node: runs the agents assigned to it, heartbeats, serves attach

Several roles share one process when named together: stratavored api relay.

A supervisor given --server (or supervisor.server_url) needs no database or broker: it talks
only to that API, with the node credential it gets for --join-token (or the token in
supervisor.join_token_file) on its first start, kept in <data_dir>/node-identity.json.

Configuration: --config FILE, else ~/.config/stratavore/stratavore.yaml, else
/etc/stratavore/stratavore.yaml; STRATAVORE_* variables override the file
(STRATAVORE_DAEMON_HTTP_PORT sets daemon.http_port). DATABASE_URL selects Postgres,
otherwise the embedded PGlite in STRATAVORE_DATA_DIR (~/.local/share/stratavore).
`

const ALL = ['api', 'relay', 'reconciler', 'supervisor']
const STARTERS: Record<string, (ctx: Context) => Promise<Part[]>> = { api: startApi, relay: startRelay, reconciler: startReconciler, supervisor: startSupervisor }

let parsed
try {
  parsed = parseArgs({ allowPositionals: true, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, server: { type: 'string' }, 'join-token': { type: 'string' } } })
} catch (err) {
  process.stderr.write(`stratavored: ${(err as Error).message}\n${USAGE}`)
  process.exit(2)
}
const { values, positionals } = parsed
if (values.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}
const commands = positionals.length > 0 ? positionals : ['all']
const unknown = commands.filter(command => command !== 'all' && !ALL.includes(command))
if (unknown.length > 0 || (commands.includes('all') && commands.length > 1)) {
  process.stderr.write(`stratavored: unknown command ${JSON.stringify(positionals.join(' '))}\n${USAGE}`)
  process.exit(2)
}
// Always started in the same order, however they were named.
const roles = commands.includes('all') ? ALL : ALL.filter(role => commands.includes(role))

const remoteFlags = values.server !== undefined || values['join-token'] !== undefined
if (remoteFlags && (roles.length !== 1 || roles[0] !== 'supervisor')) {
  process.stderr.write(`stratavored: --server and --join-token are for \`stratavored supervisor\` alone\n${USAGE}`)
  process.exit(2)
}

// A supervisor with a server URL opens no database and no bus: what its parts share is the
// config and the logger.
type Shared = { remote: false, ctx: Context, close(): Promise<void> } | (RemoteShared & { remote: true, serverUrl: string })

await runProcess<Shared>({
  roles,
  ...(values.config ? { configPath: values.config } : {}),
  open: async (config, logger) => {
    const serverUrl = values.server ?? config.supervisor.server_url
    if (roles.length === 1 && roles[0] === 'supervisor' && serverUrl) return { remote: true, serverUrl, config, logger, close: async () => {} }
    const ctx = await createContext(config, logger, { roles })
    return { remote: false, ctx, close: () => ctx.close() }
  },
  start: async shared => {
    if (shared.remote) return startRemoteSupervisor(shared, { serverUrl: shared.serverUrl, ...(values['join-token'] ? { joinToken: values['join-token'] } : {}) })
    const parts: Part[] = []
    for (const role of roles) parts.push(...await STARTERS[role]!(shared.ctx))
    return parts
  },
})
