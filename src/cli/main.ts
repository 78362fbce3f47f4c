// The stratavore CLI: parse, pick the command, run it, turn every failure into one line on
// stderr and an exit code (0 ok, 1 the request failed, 2 usage). It reads nothing global:
// the entry (bin/stratavore.mjs) passes argv, the environment and the streams in.
import { commandNamed, commandUsage, parse, usage, type Parsed } from './args.js'
import { createApi, daemonConfig, describeError, resolveApiUrl, DEFAULT_API_URL, type Api, type TargetFlags } from './client.js'
import { backup, restore } from './commands/backup.js'
import { doctor } from './commands/doctor.js'
import { launch, newProject, resume, continueProject } from './commands/launch.js'
import { projects, runners, sessions, status } from './commands/read.js'
import { kill } from './commands/kill.js'
import { logs } from './commands/logs.js'
import { attach, events, reconcile } from './commands/runner.js'
import { node, nodes } from './commands/nodes.js'
import { token } from './commands/token.js'
import { ui } from './commands/ui.js'
import { completionScript } from './completion.js'
import type { Command } from './context.js'
import { resolveCredential, type Credential } from './credentials.js'
import { createOut, shortIdLength, ACTIVE_STATUSES } from './format.js'
import { EXIT, UsageError, type Io } from './io.js'
import { listAllRunners } from './runners.js'
import { VERSION } from '../version.js'

const HANDLERS: Record<string, Command> = {
  launch, status, runners, projects, new: newProject, attach, kill, reconcile, sessions, resume, continue: continueProject, logs, events, token, ui, backup, restore, doctor, nodes, node,
}

/** The daemon's URL and the credential for it, from the flags, the environment and the config (loaded once, if at all). */
const connect = async (flags: TargetFlags, env: Io['env']): Promise<Api> => {
  const config = daemonConfig(flags, env)
  const baseUrl = await resolveApiUrl(flags, env, config)
  return createApi(baseUrl, await resolveCredential(flags, env, baseUrl, config))
}

/** `stratavore __complete projects|runners`: names for the completion scripts; silent on any failure. */
const completeNames = async (api: Api, what: string | undefined, write: (s: string) => void) => {
  if (what === 'projects') {
    write((await api.projects.listProjects({})).projects.map(p => `${p.name}\n`).join(''))
  } else if (what === 'runners') {
    const all = await listAllRunners(api)
    const length = shortIdLength(all.map(r => r.id))
    write(all.filter(r => ACTIVE_STATUSES.has(r.status)).map(r => `${r.id.slice(0, length)}\n`).join(''))
  }
}

export const main = async (argv: string[], io: Io): Promise<number> => {
  const fail = (message: string, code: number) => { io.stderr.write(`stratavore: ${message}\n`); return code }
  if (argv[0] === '__complete') {
    try {
      await completeNames(await connect({}, io.env), argv[1], s => io.stdout.write(s))
    } catch { /* completion offers nothing rather than an error in the middle of a command line */ }
    return EXIT.ok
  }

  let parsed: Parsed
  try {
    parsed = parse(argv)
  } catch (err) {
    return fail(`${(err as Error).message}\nRun \`stratavore --help\` for usage.`, EXIT.usage)
  }
  const { command, positionals, values } = parsed
  if (values.version) { io.stdout.write(`stratavore ${VERSION}\n`); return EXIT.ok }
  if (command.name === 'help' || values.help) {
    const topic = command.name === 'help' ? positionals[0] : command.name
    const spec = topic === undefined ? undefined : commandNamed(topic)
    if (topic !== undefined && !spec) return fail(`help: unknown command ${JSON.stringify(topic)}`, EXIT.usage)
    io.stdout.write(spec && !(parsed.implicit && values.help) ? commandUsage(spec) : usage())
    return EXIT.ok
  }
  if (command.name === 'completion') {
    try {
      io.stdout.write(completionScript(positionals[0]!))
      return EXIT.ok
    } catch (err) {
      return fail((err as Error).message, EXIT.usage)
    }
  }

  let target: { baseUrl: string, credential: Credential } = { baseUrl: DEFAULT_API_URL, credential: { token: null, missing: 'not resolved' } }
  try {
    const api = await connect({ apiUrl: values['api-url'] as string | undefined, config: values.config as string | undefined, token: values.token as string | undefined }, io.env)
    target = api
    const out = createOut(io, { json: values.json === true, noColor: values['no-color'] === true })
    return await HANDLERS[command.name]!({ api, io, out, args: positionals, values })
  } catch (err) {
    return fail(describeError(err, target), err instanceof UsageError ? EXIT.usage : EXIT.failed)
  }
}
