// The stratavore CLI: parse, pick the command, run it, turn every failure into one line on
// stderr and an exit code (0 ok, 1 the request failed, 2 usage). It reads nothing global:
// the entry (bin/stratavore.mjs) passes argv, the environment and the streams in.
import { commandNamed, commandUsage, parse, usage, type Parsed } from './args.js'
import type { Api, ServiceName, TargetFlags } from './client.js'
import type { Command } from './context.js'
import type { Credential } from './credentials.js'
import type { OutputFormat } from './format.js'
import { EXIT, UsageError, type Io } from './io.js'
import { VERSION } from '../version.js'

// Each command's module is imported when it runs, with only the RPC services it calls (none
// named: all of them): a command loads what it uses and nothing else, which is most of what
// keeps `stratavore runners` fast (bench/cli).
interface Handler { load: () => Promise<Command>, services?: ServiceName[] }
const HANDLERS: Record<string, Handler> = {
  launch: { load: () => import('./commands/launch.js').then(m => m.launch) },
  new: { load: () => import('./commands/launch.js').then(m => m.newProject), services: ['projects'] },
  // A project's session when its one argument names a project, else the paused runner it names.
  resume: { load: () => import('./commands/budget.js').then(m => m.resumeEither) },
  continue: { load: () => import('./commands/launch.js').then(m => m.continueProject) },
  status: { load: () => import('./commands/read.js').then(m => m.status), services: ['system'] },
  runners: { load: () => import('./commands/read.js').then(m => m.runners), services: ['runners'] },
  inbox: { load: () => import('./commands/inbox.js').then(m => m.inbox), services: ['runners', 'events'] },
  projects: { load: () => import('./commands/read.js').then(m => m.projects), services: ['projects'] },
  sessions: { load: () => import('./commands/read.js').then(m => m.sessions), services: ['projects', 'sessions'] },
  project: { load: () => import('./commands/project.js').then(m => m.project), services: ['projects'] },
  attach: { load: () => import('./commands/runner.js').then(m => m.attach) },
  reconcile: { load: () => import('./commands/runner.js').then(m => m.reconcile), services: ['system'] },
  events: { load: () => import('./commands/events.js').then(m => m.events), services: ['events'] },
  token: { load: () => import('./commands/token.js').then(m => m.token), services: ['tokens'] },
  ui: { load: () => import('./commands/ui.js').then(m => m.ui), services: ['system'] },
  kill: { load: () => import('./commands/kill.js').then(m => m.kill) },
  logs: { load: () => import('./commands/logs.js').then(m => m.logs) },
  backup: { load: () => import('./commands/backup.js').then(m => m.backup) },
  restore: { load: () => import('./commands/backup.js').then(m => m.restore) },
  doctor: { load: () => import('./commands/doctor.js').then(m => m.doctor) },
  nodes: { load: () => import('./commands/nodes.js').then(m => m.nodes) },
  node: { load: () => import('./commands/nodes.js').then(m => m.node) },
  pause: { load: () => import('./commands/budget.js').then(m => m.pause), services: ['runners'] },
  budget: { load: () => import('./commands/budget.js').then(m => m.budget), services: ['budgets'] },
  notifications: { load: () => import('./commands/notifications.js').then(m => m.notifications), services: [] },
}

/** The daemon's URL and the credential for it, from the flags, the environment and the config (loaded once, if at all). */
const connect = async (flags: TargetFlags, env: Io['env'], services?: ServiceName[]): Promise<Api> => {
  const [{ createApi, daemonConfig, resolveApiUrl }, { resolveCredential }] = await Promise.all([import('./client.js'), import('./credentials.js')])
  const config = daemonConfig(flags, env)
  const baseUrl = await resolveApiUrl(flags, env, config)
  return createApi(baseUrl, await resolveCredential(flags, env, baseUrl, config), services)
}

/** `stratavore __complete projects|runners`: names for the completion scripts; silent on any failure. */
const completeNames = async (api: Api, what: string | undefined, write: (s: string) => void) => {
  if (what === 'projects') {
    write((await api.projects.listProjects({})).projects.map(p => `${p.name}\n`).join(''))
  } else if (what === 'runners') {
    const [{ listAllRunners }, { ACTIVE_STATUSES, shortIdLength }] = await Promise.all([import('./runners.js'), import('./format.js')])
    const all = await listAllRunners(api)
    const length = shortIdLength(all.map(r => r.id))
    write(all.filter(r => ACTIVE_STATUSES.has(r.status)).map(r => `${r.id.slice(0, length)}\n`).join(''))
  }
}

export const main = async (argv: string[], io: Io): Promise<number> => {
  const fail = (message: string, code: number) => { io.stderr.write(`stratavore: ${message}\n`); return code }
  if (argv[0] === '__complete') {
    try {
      await completeNames(await connect({}, io.env, ['projects', 'runners']), argv[1], s => io.stdout.write(s))
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
      const { completionScript } = await import('./completion.js')
      io.stdout.write(completionScript(positionals[0]!))
      return EXIT.ok
    } catch (err) {
      return fail((err as Error).message, EXIT.usage)
    }
  }

  let target: { baseUrl: string, credential: Credential } | undefined
  try {
    const handler = HANDLERS[command.name]!
    const [run, { createOut }] = await Promise.all([handler.load(), import('./format.js')])
    const api = await connect({ apiUrl: values['api-url'] as string | undefined, config: values.config as string | undefined, token: values.token as string | undefined }, io.env, handler.services)
    target = api
    const format = (values.output as OutputFormat | undefined) ?? (values.json ? 'json' : 'text')
    const out = createOut(io, { format, noColor: values['no-color'] === true })
    return await run({ api, io, out, args: positionals, values })
  } catch (err) {
    const { describeError, DEFAULT_API_URL } = await import('./client.js')
    return fail(describeError(err, target ?? { baseUrl: DEFAULT_API_URL, credential: { token: null, missing: 'not resolved' } }), err instanceof UsageError ? EXIT.usage : EXIT.failed)
  }
}
