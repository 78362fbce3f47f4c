// The stratavore CLI: parse, pick the command, run it, turn every failure into one line on
// stderr and an exit code (0 ok, 1 the request failed, 2 usage). It reads nothing global:
// the entry (bin/stratavore.mjs) passes argv, the environment and the streams in.
import { commandNamed, commandUsage, parse, usage, type Parsed } from './args.js'
import { createApi, describeError, resolveApiUrl, DEFAULT_API_URL, type Api } from './client.js'
import { launch, newProject, resume, continueProject } from './commands/launch.js'
import { projects, runners, sessions, status } from './commands/read.js'
import { attach, events, kill, logs, reconcile } from './commands/runner.js'
import { completionScript } from './completion.js'
import type { Command } from './context.js'
import { createOut, shortIdLength, ACTIVE_STATUSES } from './format.js'
import { EXIT, UsageError, type Io } from './io.js'
import { listAllRunners } from './runners.js'
import { VERSION } from '../version.js'

const HANDLERS: Record<string, Command> = {
  launch, status, runners, projects, new: newProject, attach, kill, reconcile, sessions, resume, continue: continueProject, logs, events,
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
      await completeNames(createApi(await resolveApiUrl({}, io.env)), argv[1], s => io.stdout.write(s))
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

  let baseUrl = DEFAULT_API_URL
  try {
    baseUrl = await resolveApiUrl({ apiUrl: values['api-url'] as string | undefined, config: values.config as string | undefined }, io.env)
    const api = createApi(baseUrl)
    const out = createOut(io, { json: values.json === true, noColor: values['no-color'] === true })
    return await HANDLERS[command.name]!({ api, io, out, args: positionals, values })
  } catch (err) {
    return fail(describeError(err, baseUrl), err instanceof UsageError ? EXIT.usage : EXIT.failed)
  }
}
