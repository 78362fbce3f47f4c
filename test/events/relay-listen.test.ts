// The relay worker's LISTEN: NOTIFY only spares a relay its poll, but a relay whose first LISTEN
// failed (the database restarting as it starts, no connection slot free) used to log "polling
// only" and never try again. Here the first two LISTENs fail and the poll is a minute away: the
// worker must retry until one holds, and a committed event must then wake it at once.
import t from 'tap'
import type { Database } from '../../src/adapters/db/client.js'
import { startRelay } from '../../workers/outbox-relay.js'
import { buildContext } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { waitFor } from '../helpers/faults.js'
import { createProject } from '../helpers/fixtures.js'

t.test(`relay worker on ${backendName()}: a failed first LISTEN is retried until it holds`, async t => {
  const ctx = await buildContext(t)
  const project = await createProject(t, ctx, { maxConcurrentRunners: 5 })
  let attempts = 0
  let established = false
  const flakyListen: Database['listen'] = async (...args) => {
    if (++attempts <= 2) throw new Error(`no connection slot for LISTEN (attempt ${attempts})`)
    const unlisten = await ctx.database.listen(...args)
    established = true
    return unlisten
  }
  const relayCtx = { ...ctx, database: { ...ctx.database, listen: flakyListen }, config: { ...ctx.config, relay: { batch_size: 50, poll_interval_ms: 60_000 } } }
  const parts = await startRelay(relayCtx)
  t.teardown(() => Promise.all(parts.map(p => p.stop())))
  const pending = async () => (await ctx.repos.outbox.backlog()).pending

  await waitFor('the first pass to publish the project events', async () => await pending() === 0, { timeoutMs: 10_000 })
  await waitFor('LISTEN to be retried until it holds', () => established, { timeoutMs: 10_000, detail: () => `${attempts} attempt(s)` })
  t.equal(attempts, 3, 'two failures, then one LISTEN that held')

  await ctx.runners.launch({ project: project.name, agent: 'generic-test' }, 'test')
  await waitFor('NOTIFY to wake the relay (its poll is a minute away)', async () => await pending() === 0, { timeoutMs: 10_000 })
  t.pass('the new event went out without waiting for the poll')
})
