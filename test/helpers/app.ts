// build(t): a context on a fresh test database and the Fastify app over it, torn down with
// the test. Options adjust the config the way a YAML file would.
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { Interceptor } from '@connectrpc/connect'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { pino, type Logger } from 'pino'
import { buildApp } from '../../src/api/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { createContext, type Context } from '../../src/context.js'
import type { EventBus } from '../../src/core/ports.js'
import type { Database } from '../../src/adapters/db/client.js'
import { openTestDatabase } from './database.js'
import { tempDir } from './temp-dir.js'

type TapTest = Parameters<typeof openTestDatabase>[0]

export { tempDir }

/**
 * The config a daemon would load with no file and no STRATAVORE_* variables but one: tests make
 * their projects in temp dirs (tempDir) outside the test's home, so the temp dir is a project
 * root. Then adjusted.
 */
export const testConfig = (t: TapTest, adjust: (config: Config) => void = () => {}): Config => {
  const home = tempDir(t, 'stv-home-')
  const config = loadConfig({ env: { HOME: home, STRATAVORE_SECURITY_PROJECT_ROOTS: tmpdir() }, home })
  // A generic agent so launches need no real CLI; adapters are tested against the real ones.
  // It takes any flag and variable: the launch policy has tests of its own, with other agents.
  config.agents['generic-test'] = { name: 'generic-test', kind: 'generic', command: ['/bin/sleep', '3600'], env: {}, launchEnv: ['*'], allowFlags: ['*'] }
  adjust(config)
  return config
}

export interface BuildOptions {
  /** The context's event bus instead of the in-process one (a test's RabbitMQ bus). */
  bus?: EventBus
  /** The context's logger instead of a silent one (a test that reads the log). */
  logger?: Logger
  /** A database the test opened (one that two daemons share), instead of a fresh one. */
  database?: Database
}

export const buildContext = async (t: TapTest, adjust?: (config: Config) => void, { bus, logger: givenLogger, database: givenDatabase }: BuildOptions = {}): Promise<Context> => {
  const database = givenDatabase ?? await openTestDatabase(t)
  const logger = givenLogger ?? pino({ level: process.env.STRATAVORE_TEST_LOG_LEVEL ?? 'silent' })
  const ctx = await createContext(testConfig(t, adjust), logger, { roles: ['api'], database, ...(bus ? { bus } : {}) })
  return ctx
}

/** The admin token the context's daemon made (or was given) on start. */
export const adminTokenOf = (ctx: Context): string => readFileSync(ctx.config.adminTokenFile, 'utf8').trim()

/** `authorization: Bearer <token>` as a header object. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** For Connect clients: every call carries the token. */
export const withToken = (token: string): Interceptor => next => async request => {
  request.header.set('authorization', `Bearer ${token}`)
  return next(request)
}

/**
 * The app and its context. `app.inject` authenticates as the admin unless the request names
 * its own `authorization` header (`authorization: undefined` sends none); `token` is that admin
 * token, for clients of a listening app.
 */
export const build = async (t: TapTest, adjust?: (config: Config) => void, options: BuildOptions = {}): Promise<{ app: FastifyInstance, ctx: Context, token: string }> => {
  const ctx = await buildContext(t, adjust, options)
  const app = asAdmin(await buildApp(ctx), ctx)
  t.teardown(() => app.close())
  return { app, ctx, token: adminTokenOf(ctx) }
}

/** The app over `ctx`, listening on a loopback port (closed with the test), and the admin's headers. */
export const serveApp = async (t: TapTest, ctx: Context): Promise<{ app: FastifyInstance, port: number, auth: Record<string, string> }> => {
  const app = await buildApp(ctx)
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as { port: number }).port, auth: bearer(adminTokenOf(ctx)) }
}

/**
 * `app.inject` authenticates as the context's admin unless the request names its own
 * `authorization` header (`authorization: undefined` sends none).
 */
export const asAdmin = (app: FastifyInstance, ctx: Context): FastifyInstance => {
  const token = adminTokenOf(ctx)
  const inject = app.inject.bind(app)
  app.inject = ((opts: InjectOptions | string) => {
    if (opts === undefined || typeof opts === 'function') throw new Error('test app.inject: pass the request options')
    const request = typeof opts === 'string' ? { url: opts } : opts
    const headers: Record<string, unknown> = { ...bearer(token), ...(request.headers as Record<string, unknown> | undefined) }
    if (headers.authorization === undefined) delete headers.authorization
    return inject({ ...request, headers } as InjectOptions)
  }) as typeof app.inject
  return app
}
