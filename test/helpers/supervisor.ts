// A context with a running node supervisor, tuned for tests: a 1 s heartbeat, fast restart
// backoff, and a `fake` agent (test/fixtures/fake-agent.mjs) whose behaviour each runner picks
// with its flags.
import { asc, eq } from 'drizzle-orm'
import { outbox } from '../../src/adapters/db/schema.js'
import type { Config } from '../../src/config.js'
import type { Context } from '../../src/context.js'
import type { Runner, RunnerStatus } from '../../src/core/runners/runner.js'
import type { Part } from '../../src/process/lifecycle.js'
import { startSupervisor } from '../../workers/supervisor.js'
import { buildContext } from './app.js'
import { FAKE_AGENT } from './temp-dir.js'

type TapTest = Parameters<typeof buildContext>[0]

export { FAKE_AGENT }

export const supervisorTestConfig = (config: Config) => {
  config.daemon.heartbeat_interval_seconds = 1
  config.supervisor.restart_backoff_base_ms = 50
  config.supervisor.restart_backoff_cap_ms = 200
  config.supervisor.stop_timeout_seconds = 2
  // Running every agent CLI with --version at each start costs CPU the tests need (agent-detection has its own test).
  config.supervisor.detect_agent_versions = false
  // Its flags pick its behaviour, so it takes any.
  config.agents.fake = { name: 'fake', kind: 'generic', command: [process.execPath, FAKE_AGENT], env: {}, allowFlags: ['*'] }
}

export const startTestSupervisor = async (t: TapTest, ctx: Context): Promise<{ stop(): Promise<void> }> => {
  const parts: Part[] = await startSupervisor(ctx)
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    for (const part of [...parts].reverse()) await part.stop()
  }
  t.teardown(stop)
  return { stop }
}

export const buildSupervisedContext = async (t: TapTest, adjust: (config: Config) => void = () => {}) => {
  const ctx = await buildContext(t, config => { supervisorTestConfig(config); adjust(config) })
  const supervisor = await startTestSupervisor(t, ctx)
  return { ctx, supervisor }
}

/** Polls the runner until `done` holds (default: it has the given status); fails after timeoutMs. */
export const waitForRunner = async (ctx: Context, id: string, want: RunnerStatus | ((r: Runner) => boolean), timeoutMs = 20_000): Promise<Runner> => {
  const done = typeof want === 'string' ? (r: Runner) => r.status === want : want
  const deadline = Date.now() + timeoutMs
  let last: Runner | null = null
  while (Date.now() < deadline) {
    last = await ctx.runners.get(id)
    if (done(last)) return last
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`runner ${id} did not reach ${typeof want === 'string' ? want : 'the expected state'} in ${timeoutMs} ms; last seen ${JSON.stringify(last && { status: last.status, generation: last.generation, exitCode: last.exitCode, restartAttempts: last.restartAttempts })}`)
}

/** The types of the events written about one aggregate, in order. */
export const eventTypesOf = async (ctx: Context, aggregateId: string) =>
  (await ctx.database.db.select({ type: outbox.eventType, data: outbox.payload }).from(outbox).where(eq(outbox.aggregateId, aggregateId)).orderBy(asc(outbox.id)))
    .map(r => r.type)

export const eventsOf = async (ctx: Context, aggregateId: string) =>
  (await ctx.database.db.select({ type: outbox.eventType, payload: outbox.payload }).from(outbox).where(eq(outbox.aggregateId, aggregateId)).orderBy(asc(outbox.id)))
    .map(r => ({ type: r.type, seq: (r.payload as { seq: number }).seq, data: (r.payload as { data: Record<string, unknown> }).data }))

/**
 * A runner's events, checked on the way: numbered 1, 2, 3… in the order they were written, with
 * no gap, up to the runner's own seq (every write that bumps it writes an event).
 */
export const runnerEventsOf = async (t: { same(found: unknown, wanted: unknown, message: string): unknown }, ctx: Context, runnerId: string) => {
  const events = await eventsOf(ctx, runnerId)
  const runner = await ctx.runners.get(runnerId)
  t.same(events.map(e => e.seq), Array.from({ length: runner.eventSeq }, (_, i) => i + 1), `seq 1…${runner.eventSeq} with no gap: ${events.map(e => `${e.seq} ${e.type}`).join(', ')}`)
  return events
}
