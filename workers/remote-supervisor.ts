// `stratavored supervisor --server <url> [--join-token <t>]` (or supervisor.server_url): this
// host's node, with no database or broker settings. The first start trades the join token for
// a node credential (POST /api/v1/nodes/join's RPC), kept 0600 in <data_dir>/node-identity.json;
// later starts reuse it and need no token. Then the same supervisor core as the in-process one
// runs, its reads and writes going to the API's SupervisionService (rpc-supervision.ts). It
// polls on its converge interval: the event stream is not open to a node credential.
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { Code, ConnectError, createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import type { Logger } from '../src/adapters/logger.js'
import { detectAgents } from '../src/adapters/supervisor/agent-detection.js'
import { createAgentRuntime } from '../src/adapters/supervisor/agent-runtime.js'
import { startAttachServer } from '../src/adapters/supervisor/attach-server.js'
import { attachKeyOf, credentialHash, loadNodeIdentity, saveNodeIdentity, type NodeIdentity } from '../src/adapters/supervisor/node-identity.js'
import { createReportBuffer } from '../src/adapters/supervisor/report-buffer.js'
import { createRpcSupervision } from '../src/adapters/supervisor/rpc-supervision.js'
import { startNodeTunnel } from '../src/adapters/supervisor/tunnel-client.js'
import { systemClock, uuidV7Ids } from '../src/adapters/system/clock-and-ids.js'
import type { Config } from '../src/config.js'
import { errors } from '../src/core/errors.js'
import { parseLabelPairs } from '../src/core/nodes/node.js'
import { createNodeSupervisor } from '../src/core/supervisor/node-supervisor.js'
import { ErrorDetailSchema } from '../src/gen/stratavore/v1/error_pb.js'
import { NodeService } from '../src/gen/stratavore/v1/node_pb.js'
import { bindPort } from '../src/process/bind-port.js'
import type { Part } from '../src/process/lifecycle.js'
import { VERSION } from '../src/version.js'

export interface RemoteOptions {
  serverUrl: string
  /** --join-token; else supervisor.join_token_file is read. Only needed before the first join. */
  joinToken?: string
}

/** What the parts of a remote supervisor's process share: no database, no bus. */
export interface RemoteShared { config: Config, logger: Logger, close(): Promise<void> }

const joinTokenOf = (config: Config, given: string | undefined): string => {
  if (given) return given
  const file = config.supervisor.join_token_file
  if (!file) throw new Error('this node has not joined yet: give --join-token <token> or supervisor.join_token_file (stratavore node join-token create)')
  return readFileSync(file, 'utf8').trim()
}

/** The node credential in the data dir, or a new one for the join token (kept before it is used). */
const identityOf = async (config: Config, options: RemoteOptions, registration: { name: string, capacity: number, labels: Record<string, string>, agents: Record<string, string> }, log: Logger): Promise<NodeIdentity> => {
  const kept = loadNodeIdentity(config.dataDir)
  if (kept) {
    log.info({ nodeId: kept.id }, 'using the node credential in the data dir')
    return kept
  }
  const token = joinTokenOf(config, options.joinToken)
  const nodes = createClient(NodeService, createConnectTransport({ baseUrl: options.serverUrl, httpVersion: '1.1', defaultTimeoutMs: 30_000 }))
  const joined = await nodes.joinNode({ token, hostname: hostname(), version: VERSION, ...registration }).catch((err: unknown) => {
    // A refused token (expired, revoked, used up, unknown) is the operator's to fix: an AppError
    // with the API's stable code, which the process reports in one line with no stack.
    if (!(err instanceof ConnectError) || err.code !== Code.Unauthenticated) throw err
    throw errors.joinRefused(options.serverUrl, err.rawMessage, err.findDetails(ErrorDetailSchema)[0]?.code || 'JOIN_TOKEN_INVALID')
  })
  const identity = { id: joined.nodeId, credential: joined.credential }
  saveNodeIdentity(config.dataDir, identity)
  log.info({ nodeId: joined.nodeId, node: joined.name }, 'joined the control plane; the node credential is kept in the data dir')
  return identity
}

export const startRemoteSupervisor = async ({ config, logger }: RemoteShared, options: RemoteOptions): Promise<Part[]> => {
  const { supervisor: settings, daemon } = config
  const log = logger.child({ component: 'supervisor' })
  const serverUrl = options.serverUrl.replace(/\/$/, '')
  const name = settings.node_name || hostname()
  const labels = parseLabelPairs('supervisor.labels', settings.labels)
  const agents = await detectAgents(config.agents, { env: config.agentEnvironment, versions: settings.detect_agent_versions })
  const identity = await identityOf(config, { ...options, serverUrl }, { name, capacity: settings.capacity, labels, agents }, log)
  const attachKey = attachKeyOf(identity.credential)
  // The node's credential may not reach an agent, under any variable name.
  const runtime = createAgentRuntime(config, { secrets: [identity.credential] })
  const attach = await bindPort({ host: settings.listen_host, port: settings.listen_port, portKey: 'supervisor.listen_port', hostKey: 'supervisor.listen_host' },
    () => startAttachServer({ host: settings.listen_host, port: settings.listen_port, attachKey, terminalOf: runtime.terminalOf, log }))
  const node = {
    id: identity.id, name, hostname: hostname(), version: VERSION, capacity: settings.capacity, credentialHash: credentialHash(identity.credential),
    attachUrl: settings.advertise_url || attach.url, attachKey, labels, agents,
  }
  const supervisor = createNodeSupervisor({
    // Exits and usage the API cannot take while it is unreachable wait on disk (report-buffer.ts).
    supervision: createReportBuffer({ inner: createRpcSupervision({ serverUrl, credential: identity.credential }), dataDir: config.dataDir, log }),
    clock: systemClock,
    ids: uuidV7Ids,
    runtime,
    node,
    log,
    settings: {
      capacity: settings.capacity,
      heartbeatIntervalMs: daemon.heartbeat_interval_seconds * 1000,
      convergeIntervalMs: 500,
      stopTimeoutMs: settings.stop_timeout_seconds * 1000,
      onShutdown: settings.on_shutdown as 'stop' | 'handover',
      restart: { baseMs: settings.restart_backoff_base_ms, capMs: settings.restart_backoff_cap_ms, healthyAfterMs: settings.healthy_after_seconds * 1000, startWindowMs: settings.start_failure_window_seconds * 1000 },
      archiveMaxBytes: config.sessions.archive_max_bytes,
    },
  })
  try {
    await supervisor.start()
  } catch (err) {
    await attach.close()
    throw err
  }
  // With a tunnel (the default here) the API reaches the attach channel through a connection this
  // node opens, and the attach server needs no address beyond loopback (supervisor.listen_host).
  const tunnel = settings.attach_via === 'dial' ? null : startNodeTunnel({ serverUrl, credential: identity.credential, attachUrl: attach.url, log })
  log.info({ nodeId: node.id, node: node.name, server: serverUrl, attach: tunnel ? 'tunnel' : node.attachUrl, capacity: node.capacity, labels, agents }, 'remote supervisor started')
  return [
    { name: 'attach-server', stop: () => attach.close() },
    ...(tunnel ? [{ name: 'tunnel', stop: () => tunnel.close() }] : []),
    { name: 'supervisor', stop: () => supervisor.stop() },
  ]
}
