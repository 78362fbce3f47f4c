// The composition root: config, logger, database, repositories and use cases, built once per
// process and shared by the API and every worker. close() tears down in reverse order.
import { hostname } from 'node:os'
import { createCheckpointFile } from './adapters/audit/checkpoint-file.js'
import { createHmacSigner, hmacHex } from './adapters/audit/hmac-signer.js'
import { resolveAdminToken } from './adapters/auth/admin-token.js'
import { tokenSecrets } from './adapters/auth/token-secrets.js'
import { createTokenService, type TokenService } from './core/auth/token-service.js'
import { createJoinTokenService, type JoinTokenService } from './core/nodes/join-token-service.js'
import { createNodeService, type NodeService } from './core/nodes/node-service.js'
import { resolveAuditKeys } from './adapters/audit/key-store.js'
import type { Logger } from './adapters/logger.js'
import { openDatabase, type Database } from './adapters/db/client.js'
import { writeBackup } from './adapters/backup/backup.js'
import { runDoctor, type DoctorCheck } from './adapters/doctor/doctor.js'
import { createAuditReader } from './adapters/db/repositories/audit-reader.js'
import { createRepositories, createUnitOfWork } from './adapters/db/unit-of-work.js'
import { systemClock, uuidV7Ids } from './adapters/system/clock-and-ids.js'
import { fileSystemPaths } from './adapters/system/path-resolver.js'
import type { Config } from './config.js'
import { createAuditService, type AuditService } from './core/audit/audit-service.js'
import { createAuditCheckpointer, type AuditCheckpointer } from './core/audit/checkpointer.js'
import { guardAuditLog } from './adapters/db/audit-guard.js'
import { createGithubPullRequests } from './adapters/github/pull-requests.js'
import { createFleetService, type FleetService } from './core/fleet/fleet-service.js'
import { nodeLostPolicyOf } from './config-agents.js'
import { createReconcileService, type ReconcileService } from './core/runners/reconcile-service.js'
import { createEventFeed, type EventFeed } from './core/events/event-feed.js'
import { createEventFeedSource } from './adapters/db/repositories/event-feed.js'
import { createDatabaseGate, type DatabaseGate } from './adapters/db/database-gate.js'
import { createInProcessBus } from './adapters/bus/in-process-bus.js'
import { createProcessMetrics, type ProcessMetrics } from './adapters/metrics/instruments.js'
import { createAlertService, type AlertService } from './core/alerts/alert-service.js'
import { limitAccountOf } from './adapters/agents/limit-account.js'
import { createNotificationService, type NotificationService } from './core/notifications/notification-service.js'
import type { AgentCatalogue, Clock, EventBus, IdGenerator, Repositories, UnitOfWork } from './core/ports.js'
import { createProjectService, type ProjectService } from './core/projects/project-service.js'
import { createAttachService, type AttachService } from './core/runners/attach-service.js'
import { createRunnerService, type RunnerService } from './core/runners/runner-service.js'
import { createPauseService, type PauseService } from './core/runners/pause-service.js'
import { createBudgetService, type BudgetService } from './core/budgets/budget-service.js'
import { DEFAULT_LAUNCH_ENV } from './core/runners/launch-policy.js'
import { RESUMABLE_AGENT_KINDS } from './config-spec.js'
import { createSessionService, type SessionService } from './core/sessions/session-service.js'
import { createStatusService, type StatusService } from './core/status/status-service.js'
import { createHeartbeatService, type HeartbeatService } from './core/supervisor/heartbeat-service.js'
import type { NodeSupervisor } from './core/supervisor/node-supervisor.js'
import { attachKeyOf, credentialHash } from './adapters/supervisor/node-identity.js'
import { createNodeTunnels, type NodeTunnels } from './adapters/supervisor/node-tunnels.js'
import { createSupervisionService, type SupervisionService } from './core/supervisor/supervision-service.js'
import { VERSION } from './version.js'

export interface Context {
  config: Config
  logger: Logger
  database: Database
  /** RabbitMQ when AMQP_URL (or docker.rabbitmq.enabled) is set, else the in-process bus. */
  bus: EventBus
  repos: Repositories
  uow: UnitOfWork
  clock: Clock
  ids: IdGenerator
  daemonId: string
  projects: ProjectService
  runners: RunnerService
  /** Pausing and resuming runners: by hand, by budgets, by memory caps. */
  pauses: PauseService
  /** Token budgets: set, list, delete, history, and the reconciler's budget pass. */
  budgets: BudgetService
  /** Where a runner's terminal is (GET /api/v1/runners/{id}/attach dials it). */
  attach: AttachService
  /** The control sockets of the nodes that dial out to this process (attach and output reach them through these). */
  nodeTunnels: NodeTunnels
  /** Heartbeats reported over the API by supervisors that authenticate with their node's credential. */
  heartbeats: HeartbeatService
  /** What remote supervisors (node credentials) call instead of the database: SupervisionService. */
  supervision: SupervisionService
  sessions: SessionService
  status: StatusService
  reconciler: ReconcileService
  fleet: FleetService
  /** The live event feed (GET /api/v1/events): tails the audit log while anyone listens. */
  feed: EventFeed
  audit: AuditService
  /** API tokens: create, list, revoke, and turning a presented secret into a Principal. */
  tokens: TokenService
  joinTokens: JoinTokenService
  nodes: NodeService
  /**
   * Signs browser sessions: derived from the audit signing key, so the daemons that share an
   * audit key (as they must) accept each other's sessions.
   */
  sessionSecret: string
  /** Records every audit chain's head outside the database (run by the API process: workers/api.ts). */
  auditCheckpoints: AuditCheckpointer
  /** Opened by a request that lost the database; the API refuses at once while it is open. */
  databaseGate: DatabaseGate
  /**
   * Streams a backup of the whole database, from one snapshot, with this daemon's audit
   * checkpoints (src/adapters/backup/backup.ts); `write` resolves when it may take more.
   */
  backup(write: (chunk: string) => Promise<void>): Promise<void>
  /** The daemon's half of `stratavore doctor`: one line per check (src/adapters/doctor/). */
  doctor(): Promise<DoctorCheck[]>
  /** This process's own metrics (histograms the core reports into), served on the Prometheus port. */
  metrics: ProcessMetrics
  /** Alert conditions: evaluated by the reconciler, written as system.alert.<severity> events. */
  alerts: AlertService
  /** Webhook deliveries as the API shows them (the dead-letter) and retries by hand; the relay role sends them (workers/notifier.ts). */
  notifications: NotificationService
  /** This process's node supervisor, when it runs one (roles `all` and `supervisor`). */
  supervisor?: NodeSupervisor
  close(): Promise<void>
}

export interface ContextOptions {
  roles: string[]
  /** Tests pass a database they opened (in-memory PGlite or a scratch Postgres). */
  database?: Database
  /** Tests may pass a bus (for example one connected to a scratch RabbitMQ vhost). */
  bus?: EventBus
}

export const agentCatalogue = (config: Config): AgentCatalogue => ({
  names: () => Object.keys(config.agents).sort(),
  has: name => Object.hasOwn(config.agents, name),
  defaultAgent: config.defaults.agent,
  launchPolicy: name => {
    const agent = config.agents[name]
    return { launchEnv: agent?.launchEnv ?? DEFAULT_LAUNCH_ENV, allowFlags: agent?.allowFlags ?? [] }
  },
  kindOf: name => Object.hasOwn(config.agents, name) ? config.agents[name]!.kind : null,
  canResume: name => Object.hasOwn(config.agents, name) && RESUMABLE_AGENT_KINDS.has(config.agents[name]!.kind),
  usageLimitPolicy: (name, environment) => {
    const agent = config.agents[name]
    return agent ? { account: limitAccountOf(agent, environment), resumeAfterLimit: agent.resumeAfterLimit ?? false } : { account: 'default', resumeAfterLimit: false }
  },
})

export const openConfiguredDatabase = (config: Config): Promise<Database> => config.databaseUrl
  ? openDatabase({ kind: 'postgres', url: config.databaseUrl, poolSize: config.database.postgresql.max_conns, queryTimeoutMs: config.database.query_timeout_ms })
  : openDatabase({ kind: 'pglite', dataDir: config.dataDir })

export const openConfiguredBus = async (config: Config, logger: Logger): Promise<EventBus> => {
  const onHandlerError = (err: unknown) => logger.error({ err }, 'event subscriber failed')
  if (!config.amqpUrl) return createInProcessBus({ onHandlerError })
  const { createAmqpBus } = await import('./adapters/bus/amqp-bus.js')
  return createAmqpBus({ url: config.amqpUrl, exchange: config.docker.rabbitmq.exchange, logger: logger.child({ component: 'bus' }), onHandlerError })
}

export const createContext = async (config: Config, logger: Logger, options: ContextOptions): Promise<Context> => {
  const database = options.database ?? await openConfiguredDatabase(config)
  const bus = options.bus ?? await openConfiguredBus(config, logger)
  try {
    await database.migrate()
    const guard = await guardAuditLog(database.db)
    if (database.kind === 'postgres' && (guard.canRewrite || !guard.trigger)) {
      logger.warn(guard, 'audit: this database role can still delete or update audit rows (a superuser, a role granted them by the ' +
        'table owner, or the append-only trigger is off); checkpoints still show rows that go missing. See README, Security')
    }
    const auditKeys = resolveAuditKeys({ configured: config.auditKeys, dataDir: config.dataDir, sharedDatabase: database.kind === 'postgres' }, logger)
    const signer = createHmacSigner(auditKeys)
    const adminToken = resolveAdminToken({ path: config.adminTokenFile, configured: config.security.admin_token_file !== '' }, logger)
    const repos = createRepositories(database.db, signer)
    const uow = createUnitOfWork(database.db, signer)
    const clock = systemClock
    const ids = uuidV7Ids
    const instance = await repos.daemons.register({ id: ids.next(), hostname: hostname(), pid: process.pid, version: VERSION, roles: options.roles })
    logger.info({ daemonId: instance.id, database: database.kind, roles: options.roles }, 'daemon registered')
    const paths = fileSystemPaths
    const placement = { roots: config.projectRoots, protectedPaths: config.protectedPaths }
    const metrics = createProcessMetrics({ daemonId: instance.id, version: VERSION, roles: options.roles, gateOpen: () => databaseGate.isOpen() })
    const staleAfterSeconds = 3 * config.daemon.heartbeat_interval_seconds
    const alerts = createAlertService({
      repos, uow, clock, ids, staleAfterSeconds,
      thresholds: {
        runnerFailures: config.alerts.runner_failures,
        runnerFailuresWindowSeconds: config.alerts.runner_failures_window_seconds,
        outboxLagSeconds: config.alerts.outbox_lag_seconds,
      },
    })
    const feed = createEventFeed({
      source: createEventFeedSource(database.db),
      bus,
      onError: err => logger.warn({ err }, 'event feed: read failed; retrying'),
    })
    // The gate stays open while the pool is saturated, even though the server answers: letting
    // requests in again would only queue them behind the operations that saturate it.
    const databaseGate = createDatabaseGate({
      probe: async () => {
        const load = database.load()
        if (load.saturated) throw new Error(`the pool is saturated (${load.inFlight} in flight)`)
        await database.probe()
      },
      log: logger.child({ component: 'database-gate' }),
      listener: {
        opened: () => metrics.gateOpened(),
        // Nothing could be written while it was open: the alert's episode is written now.
        closed: episode => {
          if (!config.alerts.enabled) return
          alerts.databaseGateClosed({ daemonId: instance.id, ...episode })
            .catch(err => logger.warn({ err }, 'could not write the database_gate alert'))
        },
      },
    })
    const nodeTunnels = createNodeTunnels({ log: logger.child({ component: 'node-tunnels' }) })
    const auditReader = createAuditReader(database.db)
    const checkpointLog = createCheckpointFile(config.dataDir)
    const auditService = createAuditService({ reader: auditReader, signer, checkpoints: checkpointLog })
    const agents = agentCatalogue(config)
    const runners = createRunnerService({
      repos, uow, clock, ids, paths, placement, agents, heartbeatTtlSeconds: 3 * config.daemon.heartbeat_interval_seconds,
      defaultStopTimeoutSeconds: config.supervisor.stop_timeout_seconds,
    })
    const pauses = createPauseService({ repos, uow, clock, ids, log: logger.child({ component: 'pauses' }) })
    const budgets = createBudgetService({
      repos, uow, clock, ids, agents, pauses, timezone: config.budgets.timezone, defaultWarningPercent: config.budgets.warning_percent,
    })
    return {
      config,
      logger,
      database,
      bus,
      repos,
      uow,
      clock,
      ids,
      daemonId: instance.id,
      projects: createProjectService({ repos, uow, clock, ids, paths, placement }),
      runners,
      pauses,
      budgets,
      attach: createAttachService({ repos, getRunner: runners.get }),
      nodeTunnels,
      heartbeats: createHeartbeatService({ repos, uow, clock, ids, hashCredential: credentialHash, instruments: metrics.instruments }),
      supervision: createSupervisionService({
        repos, uow, clock, ids, hashCredential: credentialHash, attachKeyOf, archiveMaxBytes: config.sessions.archive_max_bytes,
        instruments: metrics.instruments, log: logger.child({ component: 'supervision' }),
      }),
      sessions: createSessionService({ repos, archiveMaxBytes: config.sessions.archive_max_bytes }),
      status: createStatusService({ repos, clock, daemonId: instance.id, staleAfterSeconds }),
      metrics,
      alerts,
      notifications: createNotificationService({ repo: repos.notifications }),
      reconciler: createReconcileService({
        uow, clock, ids, lostGraceSeconds: config.daemon.lost_grace_seconds, nodeTtlSeconds: 3 * config.daemon.heartbeat_interval_seconds,
        nodeLostPolicy: agent => Object.hasOwn(config.agents, agent) ? nodeLostPolicyOf(config.agents[agent]!) : null,
      }),
      fleet: createFleetService({
        source: config.github.token ? createGithubPullRequests({ apiUrl: config.github.api_url, token: config.github.token }) : null,
        repos: config.github.fleet_repos,
        cacheSeconds: config.github.cache_seconds,
        clock,
        onRepoError: (repo, err) => logger.warn({ repo, err }, 'fleet: could not list pull requests'),
      }),
      audit: auditService,
      auditCheckpoints: createAuditCheckpointer({ reader: auditReader, log: checkpointLog, uow, signer, clock, ids, daemonId: instance.id }),
      feed,
      joinTokens: createJoinTokenService({ repos, uow, clock, ids, secrets: tokenSecrets }),
      nodes: createNodeService({ repos }),
      tokens: createTokenService({ repos, uow, clock, ids, secrets: tokenSecrets, adminTokenHash: tokenSecrets.hash(adminToken) }),
      sessionSecret: hmacHex(auditKeys[0]!.secret, 'stratavore browser session v1'),
      databaseGate,
      backup: write => writeBackup({ database, dataDir: config.dataDir, write }),
      doctor: () => runDoctor({ config, database, audit: auditService }),
      async close () {
        databaseGate.close()
        nodeTunnels.close()
        await feed.close().catch(err => logger.warn({ err }, 'could not close the event feed'))
        await repos.daemons.markStopped(instance.id).catch(err => logger.warn({ err }, 'could not mark the daemon stopped'))
        await bus.close().catch(err => logger.warn({ err }, 'could not close the bus'))
        await database.close()
      },
    }
  } catch (err) {
    await bus.close().catch(() => {})
    await database.close().catch(() => {})
    throw err
  }
}
