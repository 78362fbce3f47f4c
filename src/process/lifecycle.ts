// How every stratavored process lives and dies: load config, build the context, start the
// parts, and on SIGINT/SIGTERM stop them gracefully (in-flight requests finish, transactions
// commit) before closing the database. A second signal, or the shutdown timeout, forces exit.
import { createLogger, type Logger } from '../adapters/logger.js'
import { secureDataDir } from '../adapters/system/data-dir.js'
import { loadConfig, type Config } from '../config.js'
import { checkListenSecurity } from '../listen-security.js'
import { createContext, type Context } from '../context.js'
import { isAppError } from '../core/errors.js'

/** A started part of the process; stop() must resolve once it is quiet. */
export interface Part { name: string, stop(): Promise<void> }

/** What a process's parts share: the context (database, bus, services), or less for a remote supervisor. */
export interface Shared { close(): Promise<void> }

export interface ProcessSpec<C extends Shared = Context> {
  roles: string[]
  configPath?: string
  /** Builds what the parts share; the context by default. A remote supervisor opens no database. */
  open?: (config: Config, logger: Logger) => Promise<C>
  start(ctx: C): Promise<Part[]>
}

// postgres.js 3.4.x can schedule a socket write (setImmediate) that runs after a dropped
// connection has already nulled its socket, throwing from a timer, so no caller can catch it
// (porsager/postgres#1066, #1154, #1208; the guard of PR #1168 is unreleased). The connection
// is already closed and its queries already failed, so the write has nothing left to do: this
// one error is logged and survived. Every other uncaught error still ends the process.
export const isPostgresJsDeadSocketWrite = (err: unknown): boolean =>
  err instanceof TypeError &&
  /Cannot read properties of null \(reading 'write'\)/.test(err.message) &&
  /nextWrite[^\n]*postgres[\\/]src[\\/]connection\.js/.test(err.stack ?? '')

// A terminated or closed database connection is an expected event, handled where it happens
// (src/adapters/db/postgres-client.ts, query-guard.ts): no other error is survived here. An
// error that reaches these handlers is a bug; it is logged (the fault tests fail on the line)
// and ends the process, which its supervisor restarts in a known state.
const surviveKnownDriverBugs = (logger: Logger) => {
  const die = (err: unknown, what: string) => {
    if (isPostgresJsDeadSocketWrite(err)) {
      logger.warn({ err }, 'postgres.js wrote to a closed connection (upstream bug); ignored')
      return
    }
    logger.fatal({ err }, what)
    logger.flush?.()
    process.exit(1)
  }
  process.on('uncaughtException', err => die(err, 'uncaught exception'))
  // Installed so the line names what happened; without it Node raises the rejection as an
  // uncaught exception, which ends the process the same way.
  process.on('unhandledRejection', reason => die(reason, 'unhandled rejection'))
}

// A setting the daemon must not start with: one line on stderr, exit code 2, nothing opened.
const refuseToStart: (err: unknown) => never = err => {
  process.stderr.write(`stratavored: ${(err as Error).message}\n`)
  process.exit(2)
}

/** Startup failures whose message is the whole story. */
const OPERATOR_FIXES = /^(PORT_UNAVAILABLE|JOIN_TOKEN_(INVALID|EXPIRED|REVOKED|USED_UP))$/

export const runProcess = async <C extends Shared = Context>({ roles, configPath, open, start }: ProcessSpec<C>): Promise<void> => {
  let config: Config
  try {
    config = loadConfig(configPath ? { configPath } : {})
    if (roles.includes('api')) checkListenSecurity(config)
  } catch (err) {
    refuseToStart(err)
  }
  const logger = createLogger({ level: config.observability.log_level, format: config.observability.log_format as 'auto' | 'json' | 'pretty' })
  surviveKnownDriverBugs(logger)
  if (config.ignoredKeys.length > 0) {
    logger.info({ keys: config.ignoredKeys }, `config: ${config.ignoredKeys.length} keys of the original Go system's config do nothing here (ignored)`)
  }
  try {
    for (const repair of secureDataDir(config.dataDir)) logger.warn(repair, 'data dir: the mode let other users in; tightened it')
  } catch (err) {
    refuseToStart(err)
  }

  let ctx: C
  let parts: Part[] = []
  // A signal while the parts start (a supervisor detecting agent CLIs can take seconds after
  // the API answers) is kept and acted on once they have started, not left to Node's default.
  let signalledWhileStarting: NodeJS.Signals | null = null
  const early = (signal: NodeJS.Signals) => { signalledWhileStarting ??= signal }
  process.on('SIGINT', early)
  process.on('SIGTERM', early)
  try {
    ctx = open ? await open(config, logger) : await createContext(config, logger, { roles }) as unknown as C
    parts = await start(ctx)
  } catch (err) {
    // A port taken or a join token refused is the operator's to fix: one line that says what to do, no stack.
    if (isAppError(err) && OPERATOR_FIXES.test(err.code)) process.stderr.write(`stratavored: ${err.message}\n`)
    else logger.fatal({ err }, isAppError(err) ? err.message : 'startup failed')
    await Promise.allSettled(parts.reverse().map(p => p.stop()))
    process.exitCode = 1
    // Give pino's transport a moment to flush the fatal line; exit even if a handle lingers.
    setTimeout(() => process.exit(1), 500).unref()
    return
  }

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'shutting down')
    const force = setTimeout(() => {
      logger.error('shutdown timed out: exiting now')
      process.exit(1)
    }, config.daemon.shutdown_timeout_seconds * 1000)
    force.unref()
    for (const part of [...parts].reverse()) {
      logger.debug({ part: part.name }, 'stopping')
      await part.stop().catch(err => logger.error({ err, part: part.name }, 'part did not stop cleanly'))
    }
    logger.debug('closing the context')
    await ctx.close().catch(err => logger.error({ err }, 'context did not close cleanly'))
    logger.info('stopped')
    clearTimeout(force)
    flushAndExit(logger, 0)
  }
  process.off('SIGINT', early)
  process.off('SIGTERM', early)
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  if (signalledWhileStarting) void shutdown(signalledWhileStarting)
}

const flushAndExit = (logger: Logger, code: number) => {
  logger.flush?.()
  setTimeout(() => process.exit(code), 50).unref()
}
