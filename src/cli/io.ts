// What a command may touch of the outside world, passed in so main() stays testable: the three
// streams, the environment, the working directory. The two error types end a command with
// exit code 2 (usage) or 1 (the request failed); main() prints them as one line, no stack.
import type { Readable, Writable } from 'node:stream'

export interface TtyIn extends Readable { isTTY?: boolean, setRawMode?(mode: boolean): unknown }
export interface TtyOut extends Writable { isTTY?: boolean, columns?: number, rows?: number }

export interface Io {
  stdin: TtyIn
  stdout: TtyOut
  stderr: TtyOut
  env: Record<string, string | undefined>
  cwd: string
}

/** Bad arguments: exit 2, with a hint to --help. */
export class UsageError extends Error {}

/** The request failed or the answer says no: exit 1, the message as it is. */
export class CliError extends Error {}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const
