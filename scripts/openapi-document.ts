// Builds the app over an in-memory database and returns its OpenAPI document as text, the
// way it is checked in at openapi/openapi.json.
import { pino } from 'pino'
import { buildApp } from '../src/api/app.js'
import { openDatabase } from '../src/adapters/db/client.js'
import { loadConfig } from '../src/config.js'
import { createContext } from '../src/context.js'

export const OPENAPI_PATH = new URL('../openapi/openapi.json', import.meta.url)

export const renderOpenapi = async (): Promise<string> => {
  const home = '/nonexistent-stratavore-home'
  const config = loadConfig({ env: { HOME: home }, home })
  const ctx = await createContext(config, pino({ level: 'silent' }), { roles: ['api'], database: await openDatabase({ kind: 'pglite', dataDir: null }) })
  try {
    const app = await buildApp(ctx)
    await app.ready()
    const text = `${JSON.stringify(app.swagger(), null, 2)}\n`
    await app.close()
    return text
  } finally {
    await ctx.close()
  }
}
