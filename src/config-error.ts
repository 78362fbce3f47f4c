// The one error a bad configuration stops the daemon with: one line naming the key, its
// problem and where the value came from. Shared by config.ts and config-agents.ts.
import { AppError } from './core/errors.js'

export const configError = (key: string, problem: string, source: string) =>
  new AppError({ code: 'CONFIG_INVALID', kind: 'invalid_argument', message: `config ${key}: ${problem} (from ${source})`, details: { key } })

export const describe = (value: unknown) => JSON.stringify(value)?.slice(0, 80) ?? String(value)
