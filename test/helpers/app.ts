// build(t): a context on a fresh test database and the Fastify app over it, torn down with
// the test. Options adjust the config the way a YAML file would.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp } from '../../src/api/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { createContext, type Context } from '../../src/context.js'
import type { EventBus } from '../../src/core/ports.js'
import { openTestDatabase } from './database.js'

type TapTest = Parameters<typeof openTestDatabase>[0]

export const tempDir = (t: TapTest, prefix = 'stv-test-'): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

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

/** `bus`: the context's event bus instead of the in-process one (a test's RabbitMQ bus). */
export const buildContext = async (t: TapTest, adjust?: (config: Config) => void, { bus }: { bus?: EventBus } = {}): Promise<Context> => {
  const database = await openTestDatabase(t)
  const logger = pino({ level: process.env.STRATAVORE_TEST_LOG_LEVEL ?? 'silent' })
  const ctx = await createContext(testConfig(t, adjust), logger, { roles: ['api'], database, ...(bus ? { bus } : {}) })
  return ctx
}

export const build = async (t: TapTest, adjust?: (config: Config) => void, options: { bus?: EventBus } = {}): Promise<{ app: FastifyInstance, ctx: Context }> => {
  const ctx = await buildContext(t, adjust, options)
  const app = await buildApp(ctx)
  t.teardown(() => app.close())
  return { app, ctx }
}
