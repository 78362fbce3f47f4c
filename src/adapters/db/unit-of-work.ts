// Binds the repositories to a database handle, and to one transaction per unit of work.
// Transactions run at READ COMMITTED, the connection default (pinned in client.ts): never
// REPEATABLE READ on the launch path, whose snapshot would predate the advisory lock.
import { sql } from 'drizzle-orm'
import type { AuditSigner, Repositories, TransactionRepositories, UnitOfWork } from '../../core/ports.js'
import type { Db } from './client.js'
import { createBudgetRepository } from './repositories/budgets.js'
import { createEventLog } from './repositories/event-log.js'
import { createNodeRepository } from './repositories/nodes.js'
import { createOutboxRepository } from './repositories/outbox.js'
import { createProjectRepository } from './repositories/projects.js'
import { createQuotaRepository } from './repositories/quotas.js'
import { createReconcileRepository } from './repositories/reconcile.js'
import { createRunnerRepository } from './repositories/runners.js'
import { createSessionRepository } from './repositories/sessions.js'
import { createDaemonRepository, createStatsRepository } from './repositories/system.js'

export const createRepositories = (db: Db, audit: AuditSigner): Repositories => ({
  projects: createProjectRepository(db),
  runners: createRunnerRepository(db),
  sessions: createSessionRepository(db),
  quotas: createQuotaRepository(db),
  budgets: createBudgetRepository(db),
  nodes: createNodeRepository(db),
  stats: createStatsRepository(db),
  daemons: createDaemonRepository(db),
  reconcile: createReconcileRepository(db),
  outbox: createOutboxRepository(db),
  events: createEventLog(db, audit),
})

export const OUTBOX_CHANNEL = 'stratavore_outbox'

export const createUnitOfWork = (db: Db, audit: AuditSigner): UnitOfWork => ({
  run: work => db.transaction(async tx => {
    const scoped = tx as unknown as Db
    // One event log per transaction: it caches the chain heads whose locks it holds, and
    // lockProject takes the lock through it, reading the head in the same round trip.
    const chains = createEventLog(scoped, audit)
    const base = { ...createRepositories(scoped, audit), events: chains }
    let appended = false
    const repos: TransactionRepositories = {
      ...base,
      events: { append: event => { appended = true; return base.events.append(event) } },
      lockProject: name => chains.lock(name),
    }
    const result = await work(repos)
    // Wakes the relays when this transaction commits (NOTIFY is delivered at commit, once per
    // channel and payload). Only a hint: relays poll as well.
    if (appended) await scoped.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`)
    return result
  }),
})
