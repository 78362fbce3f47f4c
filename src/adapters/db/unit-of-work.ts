// Binds the repositories to a database handle, and to one transaction per unit of work.
// Transactions run at READ COMMITTED, the connection default (pinned in client.ts): never
// REPEATABLE READ on the launch path, whose snapshot would predate the advisory lock.
import { sql } from 'drizzle-orm'
import type { AuditSigner, Repositories, TransactionRepositories, UnitOfWork } from '../../core/ports.js'
import type { Db } from './client.js'
import { createAlertRepository } from './repositories/alerts.js'
import { createBudgetRepository } from './repositories/budgets.js'
import { createEventLog, newChainLocks, type ChainedEventLog } from './repositories/event-log.js'
import { createJoinTokenRepository } from './repositories/join-tokens.js'
import { createMetricsRepository } from './repositories/metrics.js'
import { createNotificationRepository } from './repositories/notifications.js'
import { createNodeRepository } from './repositories/nodes.js'
import { createOutboxRepository } from './repositories/outbox.js'
import { createPauseRepository } from './repositories/pauses.js'
import { createProjectRepository } from './repositories/projects.js'
import { createQuotaRepository } from './repositories/quotas.js'
import { createReconcileRepository } from './repositories/reconcile.js'
import { createRunnerRepository } from './repositories/runners.js'
import { createSessionRepository } from './repositories/sessions.js'
import { createSupervisionRepository } from './repositories/supervision.js'
import { createDaemonRepository, createStatsRepository } from './repositories/system.js'
import { createTokenRepository } from './repositories/tokens.js'
import { createTranscriptRepository } from './repositories/transcripts.js'

/**
 * `locks` is what the transaction knows about the audit chains it has locked (see
 * repositories/event-log.ts): one per unit of work.
 */
export const createRepositories = (db: Db, audit: AuditSigner, locks = newChainLocks()): Repositories & { events: ChainedEventLog } => ({
  projects: createProjectRepository(db, locks),
  runners: createRunnerRepository(db),
  sessions: createSessionRepository(db),
  transcripts: createTranscriptRepository(db),
  quotas: createQuotaRepository(db),
  budgets: createBudgetRepository(db),
  pauses: createPauseRepository(db),
  nodes: createNodeRepository(db),
  joinTokens: createJoinTokenRepository(db),
  stats: createStatsRepository(db),
  daemons: createDaemonRepository(db),
  reconcile: createReconcileRepository(db),
  outbox: createOutboxRepository(db),
  supervision: createSupervisionRepository(db),
  tokens: createTokenRepository(db),
  metrics: createMetricsRepository(db),
  alerts: createAlertRepository(db),
  notifications: createNotificationRepository(db),
  events: createEventLog(db, audit, locks),
})

export const OUTBOX_CHANNEL = 'stratavore_outbox'

export const createUnitOfWork = (db: Db, audit: AuditSigner): UnitOfWork => ({
  run: work => db.transaction(async tx => {
    const scoped = tx as unknown as Db
    // Fresh chain-lock state per transaction; lockProject goes through the event log so that
    // it knows which chains this transaction holds.
    const base = createRepositories(scoped, audit)
    let appended = false
    const repos: TransactionRepositories = {
      ...base,
      events: {
        append: event => { appended = true; return base.events.append(event) },
        appendMany: events => { appended ||= events.length > 0; return base.events.appendMany(events) },
      },
      lockProject: name => base.events.lock(name),
    }
    const result = await work(repos)
    // Wakes the relays when this transaction commits (NOTIFY is delivered at commit, once per
    // channel and payload). Only a hint: relays poll as well.
    if (appended) await scoped.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`)
    return result
  }),
})
