// `stratavored supervisor`: this host's node. Registers it, serves the attach channel the API
// dials, and converges the runners assigned to it (src/core/supervisor/node-supervisor.ts).
import { hostname } from 'node:os'
import { readAdminToken } from '../src/adapters/auth/admin-token.js'
import { detectAgents } from '../src/adapters/supervisor/agent-detection.js'
import { createAgentRuntime } from '../src/adapters/supervisor/agent-runtime.js'
import { startAttachServer } from '../src/adapters/supervisor/attach-server.js'
import { startHookServer } from '../src/adapters/supervisor/hook-server.js'
import { attachKeyOf, credentialHash, loadOrCreateNodeIdentity } from '../src/adapters/supervisor/node-identity.js'
import type { Context } from '../src/context.js'
import { busMessageOf } from '../src/core/events/event.js'
import { parseLabelPairs } from '../src/core/nodes/node.js'
import { createDatabaseSupervision } from '../src/core/supervisor/database-supervision.js'
import { createNodeSupervisor } from '../src/core/supervisor/node-supervisor.js'
import { bindPort } from '../src/process/bind-port.js'
import type { Part } from '../src/process/lifecycle.js'
import { VERSION } from '../src/version.js'

export const startSupervisor = async (ctx: Context): Promise<Part[]> => {
  const { supervisor: settings, daemon } = ctx.config
  const log = ctx.logger.child({ component: 'supervisor' })
  const identity = loadOrCreateNodeIdentity(ctx.config.dataDir)
  // A tunnel goes to an API (supervisor.server_url); a supervisor on the database is dialed.
  if (settings.attach_via === 'tunnel') log.warn('supervisor.attach_via: tunnel needs --server (supervisor.server_url); this supervisor is dialed at its attach URL')
  const attachKey = attachKeyOf(identity.credential)
  // Neither the node's credential nor the admin token may reach an agent, under any variable name.
  const adminToken = readAdminToken(ctx.config.adminTokenFile)
  // Loopback only: agents on this host report their activity here, each with its own secret.
  const hooks = await startHookServer({ log })
  let runtime: ReturnType<typeof createAgentRuntime>
  let attach: Awaited<ReturnType<typeof startAttachServer>>
  try {
    runtime = createAgentRuntime(ctx.config, { secrets: [identity.credential, ...(adminToken ? [adminToken] : [])], hooks })
    attach = await bindPort({ host: settings.listen_host, port: settings.listen_port, portKey: 'supervisor.listen_port', hostKey: 'supervisor.listen_host' },
      () => startAttachServer({ host: settings.listen_host, port: settings.listen_port, attachKey, terminalOf: runtime.terminalOf, log }))
  } catch (err) {
    await hooks.close()
    throw err
  }
  const node = {
    id: identity.id,
    name: settings.node_name || hostname(),
    hostname: hostname(),
    version: VERSION,
    capacity: settings.capacity,
    credentialHash: credentialHash(identity.credential),
    attachUrl: settings.advertise_url || attach.url,
    attachKey,
    labels: parseLabelPairs('supervisor.labels', settings.labels),
    agents: await detectAgents(ctx.config.agents, { env: ctx.config.agentEnvironment, versions: settings.detect_agent_versions }),
  }
  const supervisor = createNodeSupervisor({
    ...ctx,
    supervision: createDatabaseSupervision({ ...ctx, node, log, instruments: ctx.metrics.instruments }),
    runtime,
    node,
    log,
    instruments: ctx.metrics.instruments,
    settings: {
      capacity: settings.capacity,
      heartbeatIntervalMs: daemon.heartbeat_interval_seconds * 1000,
      convergeIntervalMs: 500,
      stopTimeoutMs: settings.stop_timeout_seconds * 1000,
      onShutdown: settings.on_shutdown as 'stop' | 'handover' | 'keep',
      restart: { baseMs: settings.restart_backoff_base_ms, capMs: settings.restart_backoff_cap_ms, healthyAfterMs: settings.healthy_after_seconds * 1000, startWindowMs: settings.start_failure_window_seconds * 1000 },
      archiveMaxBytes: ctx.config.sessions.archive_max_bytes,
    },
    // Best effort: a heartbeat that misses the bus is followed by the next one.
    publishHeartbeats: events => {
      if (!ctx.bus.ready() || events.length === 0) return
      ctx.bus.publishBatch(events.map(busMessageOf)).catch(err => log.debug({ err }, 'could not publish heartbeats'))
    },
  })
  try {
    await supervisor.start()
  } catch (err) {
    await attach.close()
    await hooks.close()
    throw err
  }
  // Launches, stop requests and runners handed over wake the loop at once; it also looks every half second.
  const wakeUps = await Promise.all(['runner.launched.#', 'runner.stop_requested.#', 'runner.rescheduled.#'].map(pattern => ctx.bus.subscribe(pattern, () => supervisor.wake())))
  ctx.supervisor = supervisor
  log.info({ nodeId: node.id, node: node.name, attach: node.attachUrl, capacity: node.capacity, labels: node.labels, agents: node.agents }, 'supervisor started')
  // Stopped in reverse: the supervisor (and its agents) first, so viewers see them end.
  return [
    { name: 'attach-server', stop: () => attach.close() },
    { name: 'hook-server', stop: () => hooks.close() },
    { name: 'supervisor', stop: async () => { await Promise.all(wakeUps.map(s => s.close())); await supervisor.stop() } },
  ]
}
