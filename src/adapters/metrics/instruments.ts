// This process's own metrics, in a registry of its own (one per context, so tests that build
// several contexts in one process never mix them): the histograms the core reports into
// (Instruments), the RPC histogram, and the database gate. Served by src/api/metrics-server.ts.
import client from 'prom-client'
import type { Instruments } from '../../core/instruments.js'

const SECONDS_FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const SECONDS_SLOW = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

export interface ProcessMetrics {
  registry: client.Registry
  instruments: Instruments
  /** One finished RPC call (Connect, gRPC or gRPC-Web, on either port). */
  rpcCall(labels: { service: string, method: string, protocol: string, code: string }, seconds: number): void
  /** The database gate opened (counted; its open state is read at scrape time). */
  gateOpened(): void
}

export const createProcessMetrics = ({ daemonId, version, roles, gateOpen }: {
  daemonId: string
  version: string
  roles: string[]
  gateOpen: () => boolean
}): ProcessMetrics => {
  const registry = new client.Registry()
  const registers = [registry]
  new client.Gauge({ name: 'stratavore_daemon_info', help: 'This daemon: its id, version and roles (always 1)', labelNames: ['daemon_id', 'version', 'roles'], registers })
    .set({ daemon_id: daemonId, version, roles: roles.join(',') }, 1)
  const heartbeat = new client.Histogram({
    name: 'stratavore_heartbeat_latency_seconds',
    help: 'Heartbeat ingest: one host\'s batch, from the statement\'s start to its commit, as this daemon wrote it',
    buckets: SECONDS_FAST, registers,
  })
  const launchToRunning = new client.Histogram({
    name: 'stratavore_runner_launch_to_running_seconds',
    help: 'From a runner\'s launch to its first start reaching running (supervisors in this process)',
    buckets: SECONDS_SLOW, registers,
  })
  const outboxAge = new client.Histogram({
    name: 'stratavore_outbox_age_seconds',
    help: 'Age of an outbox row when a relay in this process claimed it (from its writing transaction)',
    buckets: SECONDS_FAST.concat([10, 30, 60, 300]), registers,
  })
  const commitToPublish = new client.Histogram({
    name: 'stratavore_event_commit_to_publish_seconds',
    help: 'From an event\'s writing transaction to the broker\'s confirm (relays in this process)',
    buckets: SECONDS_FAST.concat([10, 30, 60, 300]), registers,
  })
  const humanWait = new client.Histogram({
    name: 'stratavore_runner_waiting_for_human_seconds',
    help: 'How long a runner\'s agent waited for a person (waiting_permission, waiting_input) before it went on, per project (supervisors in this process)',
    labelNames: ['project'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400], registers,
  })
  const rpc = new client.Histogram({
    name: 'stratavore_rpc_duration_seconds',
    help: 'RPC calls served by this daemon (Connect, gRPC, gRPC-Web; both ports), until the response or the stream ended',
    labelNames: ['service', 'method', 'protocol', 'code'],
    buckets: SECONDS_FAST, registers,
  })
  new client.Gauge({
    name: 'stratavore_database_gate_open',
    help: '1 while this daemon\'s database gate is open (the API answers 503 / UNAVAILABLE)',
    registers,
    collect () { this.set(gateOpen() ? 1 : 0) },
  })
  const gateOpenings = new client.Counter({ name: 'stratavore_database_gate_openings_total', help: 'Times this daemon\'s database gate opened', registers })

  return {
    registry,
    instruments: {
      runnerRunning: seconds => launchToRunning.observe(Math.max(0, seconds)),
      heartbeatIngest: () => heartbeat.startTimer(),
      outboxClaimed: seconds => outboxAge.observe(Math.max(0, seconds)),
      eventPublished: seconds => commitToPublish.observe(Math.max(0, seconds)),
      humanWait: (project, seconds) => humanWait.observe({ project }, Math.max(0, seconds)),
    },
    rpcCall: (labels, seconds) => rpc.observe(labels, seconds),
    gateOpened: () => gateOpenings.inc(),
  }
}
