// What every command gets: the parsed arguments, the API clients, the streams and the output
// helpers. Commands return their exit code; failures are thrown (CliError, UsageError).
import type { Parsed } from './args.js'
import type { Api } from './client.js'
import type { Out } from './format.js'
import type { Io } from './io.js'

export interface CommandContext {
  api: Api
  io: Io
  out: Out
  args: string[]
  values: Parsed['values']
}

export type Command = (c: CommandContext) => Promise<number>

export const stringValue = (c: CommandContext, name: string) => c.values[name] as string | undefined
export const flagValue = (c: CommandContext, name: string) => c.values[name] === true
export const listValue = (c: CommandContext, name: string) => (c.values[name] as string[] | undefined) ?? []
