// The command table and argument parsing: one entry per command (usage, summary, its flags,
// how many positionals), so that --help, the parser and the completion scripts never disagree.
// Parsing is node:util parseArgs, strict, per command; global flags are accepted anywhere.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './io.js'

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { help: string, value?: string, /** The values it takes, for completion. */ choices?: string[] }
type Options = Record<string, OptionSpec>

export const GLOBAL_OPTIONS: Options = {
  'api-url': { type: 'string', value: 'URL', help: 'the daemon (default: $STRATAVORE_API_URL, else daemon.host/http_port from the config, else http://127.0.0.1:8080)' },
  config: { type: 'string', short: 'c', value: 'FILE', help: 'the daemon config file to read daemon.host and daemon.http_port (and the admin token file) from' },
  token: { type: 'string', value: 'TOKEN', help: 'the bearer token (default: $STRATAVORE_TOKEN, else the daemon\'s admin token file when it runs on this host)' },
  json: { type: 'boolean', help: 'machine-readable output: the shapes the REST API returns (same as --output json)' },
  output: { type: 'string', short: 'o', value: 'FORMAT', choices: ['text', 'json', 'proto-json'], help: 'text (the default), json, or proto-json (the RPC messages as proto3 JSON)' },
  'no-color': { type: 'boolean', help: 'no colors even on a terminal (also NO_COLOR=1)' },
  help: { type: 'boolean', short: 'h', help: 'this help, or a command\'s' },
  version: { type: 'boolean', help: 'the CLI version' },
}

const LAUNCH_OPTIONS: Options = {
  agent: { type: 'string', value: 'NAME', help: 'a configured agent (default: defaults.agent)' },
  god: { type: 'boolean', help: 'skip the agent\'s permission prompts' },
  flag: { type: 'string', multiple: true, value: 'FLAG', help: 'an extra argument for the agent CLI (repeatable)' },
  env: { type: 'string', multiple: true, value: 'K=V', help: 'an environment variable for the agent (repeatable)' },
  prompt: { type: 'string', value: 'TEXT', help: 'run headless with this prompt: print the agent\'s text, exit with its exit code' },
  output: { type: 'string', value: 'FORMAT', choices: ['text', 'stream-json'], help: 'with --prompt: text (the agent\'s words, the default) or stream-json (its stream as written)' },
  detach: { type: 'boolean', short: 'd', help: 'launch, wait until it runs, print the runner id and exit; exit 1 with the reason if it fails at start (the default when stdin is not a terminal)' },
  node: { type: 'string', value: 'NAME', help: 'run on this node (a name or id; `stratavore nodes` lists them)' },
  selector: { type: 'string', multiple: true, value: 'K=V', help: 'run on a node with this label (repeatable)' },
  'resume-after-limit': { type: 'boolean', help: 'when a usage limit pauses it, resume by itself at the reset (default: agents.<name>.resume_after_limit)' },
}

export interface CommandSpec {
  name: string
  args: string
  summary: string
  /** More lines for the command's own --help. */
  details?: string
  options: Options
  /** Positionals accepted: [min, max]. */
  arity: [number, number]
  /** What completes each positional: projects, runners, sessions need a call to the daemon. */
  completes?: Array<'project' | 'runner' | 'shell' | 'none'>
  /** Words the first positional takes (`token create|list|revoke`), for completion. */
  subcommands?: string[]
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'launch', args: '<project>', arity: [1, 1], completes: ['project'],
    summary: 'attach to the project\'s runner or launch one (also `stratavore <project>`)',
    details: 'An unknown project is created in the current directory after a yes on the terminal, or with --create; never otherwise.\nOne active runner: attach to it. Several: pick one (or --runner). None, --new or any launch flag: launch one, wait until\nit runs, attach. --detach, or stdin not a terminal: launch and print its id. Agent arguments that start with a dash go\nas --flag=--verbose. `stratavore <project>` refuses a name that is, or is one letter away from, a command (did you mean):\nuse `stratavore launch <project>` for such a project.',
    options: {
      ...LAUNCH_OPTIONS,
      create: { type: 'boolean', help: 'create the project in the current directory when it does not exist (no question asked)' },
      runner: { type: 'string', value: 'ID', help: 'attach to this runner of the project (an id or unique prefix)' },
      new: { type: 'boolean', help: 'launch a new runner even when one is active' },
    },
  },
  { name: 'status', args: '', arity: [0, 0], summary: 'the daemon and global metrics', options: {} },
  {
    name: 'runners', args: '[project]', arity: [0, 1], completes: ['project'], summary: 'active runners (all with --all)',
    options: { all: { type: 'boolean', short: 'a', help: 'also finished runners (terminated, failed)' } },
  },
  {
    name: 'inbox', args: '[project]', arity: [0, 1], completes: ['project'], summary: 'runners waiting for you (a permission, an answer), oldest first',
    details: 'Lists running runners whose agent waits for a person, with what each asks (the tool and command awaiting permission,\nthe question). --watch draws the list again on every change of activity on the live feed, until Ctrl-C.',
    options: { watch: { type: 'boolean', short: 'w', help: 'keep the list current from the event feed (Ctrl-C stops)' } },
  },
  { name: 'projects', args: '', arity: [0, 0], summary: 'projects with their runners, sessions and tokens', options: {} },
  {
    name: 'new', args: '<name>', arity: [1, 1], completes: ['none'], summary: 'create a project',
    options: {
      path: { type: 'string', short: 'p', value: 'DIR', help: 'the project directory (default: the current directory)' },
      description: { type: 'string', value: 'TEXT', help: 'a description' },
      tag: { type: 'string', multiple: true, value: 'TAG', help: 'a tag (repeatable)' },
    },
  },
  {
    name: 'project', args: '<action> <name>', arity: [2, 2], subcommands: ['archive', 'rm', 'quota'], completes: ['none', 'project'],
    summary: 'a project: `archive <name>`, `rm <name>`, `quota <name> --max-runners N`',
    details: 'archive: no new launches, the history kept. rm: delete the project with its runner and session history (refused while\na runner is active; the directory stays), after a yes on the terminal or with --yes. quota: how many runners may be\nactive at once (0 to 10000; every runner not yet terminated or failed counts).',
    options: {
      yes: { type: 'boolean', short: 'y', help: 'rm: no question asked' },
      'max-runners': { type: 'string', value: 'N', help: 'quota: runners active at once' },
    },
  },
  {
    name: 'attach', args: '<runner>', arity: [1, 1], completes: ['runner'], summary: 'the runner\'s terminal; Ctrl-] detaches and leaves it running',
    options: { 'read-only': { type: 'boolean', help: 'watch without typing (a viewer)' } },
  },
  {
    name: 'kill', args: '<runner> [runner...]', arity: [0, 1000], completes: ['runner'], summary: 'stop runners: SIGTERM, then SIGKILL after the grace',
    details: 'Names runners by id (or unique prefix), or all active runners of a project (--project), or every active runner (--all);\nthose two ask for a yes on a terminal, --yes otherwise. Says what it sent, when SIGKILL follows, and how each ended.',
    options: {
      force: { type: 'boolean', short: 'f', help: 'SIGKILL at once' },
      timeout: { type: 'string', value: 'SECONDS', help: 'grace between SIGTERM and SIGKILL (default: supervisor.stop_timeout_seconds, 10)' },
      'no-wait': { type: 'boolean', help: 'return once the stop is requested' },
      project: { type: 'string', short: 'p', value: 'PROJECT', help: 'every active runner of this project' },
      all: { type: 'boolean', short: 'a', help: 'every active runner' },
      yes: { type: 'boolean', short: 'y', help: 'do not ask before stopping several (--project, --all)' },
    },
  },
  { name: 'reconcile', args: '', arity: [0, 0], summary: 'one reconcile pass now: silent runners become lost, then failed', options: {} },
  {
    name: 'sessions', args: '<project> | export <session>', arity: [1, 2], completes: ['project', 'none'],
    summary: 'the project\'s agent sessions, most recent first; `export <session>` writes a session\'s archived transcript',
    details: 'export writes the transcript (Claude Code JSONL, Codex rollout) as the agent wrote it, up to the last heartbeat, to stdout\nor to --output FILE. A transcript past sessions.archive_max_bytes is not archived: export it on the node that ran it.',
    options: { output: { type: 'string', short: 'o', value: 'FILE', help: 'export: write the transcript to FILE instead of stdout' } },
  },
  {
    name: 'resume', args: '<project> [session] | <runner>', arity: [1, 2], completes: ['project', 'none'],
    summary: 'launch a runner resuming a session (picked when not given), or resume a paused runner',
    details: 'With one argument that names no project but a runner (an id or unique prefix), that paused runner resumes: admitted\nlike a launch (quota and budgets), it continues its conversation.',
    options: { ...LAUNCH_OPTIONS },
  },
  { name: 'pause', args: '<runner>', arity: [1, 1], completes: ['runner'], summary: 'pause a runner: its agent ends, its conversation is kept (resume <runner>)', options: {} },
  {
    name: 'budget', args: '<action> [id]', arity: [1, 2], subcommands: ['set', 'ls', 'rm'], completes: ['none', 'none'],
    summary: 'token budgets: `set --project NAME --period day --limit 2M`, `ls [--history]`, `rm <id>` (set and rm: admin)',
    details: 'Scope: --global (the default), --project NAME or --agent NAME. Periods: day, week, month (in budgets.timezone) and\ntotal. When a budget runs out, the runners in its scope pause; raised, deleted or rolled over, they resume.\nrm takes an id (or a unique prefix) or the scope and --period.',
    options: {
      global: { type: 'boolean', help: 'set, rm: the global scope (the default)' },
      project: { type: 'string', value: 'NAME', help: 'set, rm: one project\'s budget' },
      agent: { type: 'string', value: 'NAME', help: 'set, rm: one agent\'s budget (every project)' },
      period: { type: 'string', value: 'PERIOD', choices: ['day', 'week', 'month', 'total'], help: 'set, rm: day, week, month or total' },
      limit: { type: 'string', value: 'TOKENS', help: 'set: tokens per period, e.g. 500k, 2M' },
      warn: { type: 'string', value: 'PERCENT', help: 'set: budget.warning at this share of the limit (default budgets.warning_percent)' },
      history: { type: 'boolean', help: 'ls: also the ended periods and their use' },
    },
  },
  {
    name: 'notifications', args: '<action> [id]', arity: [1, 2], subcommands: ['ls', 'retry'], completes: ['none', 'none'],
    summary: 'webhook deliveries: `ls [--status dead]`, `retry <id>` (a dead one, sent again; admin)',
    details: 'ls lists the deliveries of notifications.webhooks, newest first: pending, sending, delivered, or dead (the\ndead-letter: every attempt failed). retry sends a dead delivery again, its attempts starting over.',
    options: {
      status: { type: 'string', value: 'STATUS', choices: ['pending', 'sending', 'delivered', 'dead'], help: 'ls: only deliveries in this status' },
      webhook: { type: 'string', value: 'ID', help: 'ls: only this webhook\'s deliveries' },
    },
  },
  { name: 'continue', args: '<project>', arity: [1, 1], completes: ['project'], summary: 'launch a runner continuing the project\'s latest conversation', options: { ...LAUNCH_OPTIONS } },
  {
    name: 'logs', args: '<runner>', arity: [1, 1], completes: ['runner'], summary: 'the runner\'s output (its scrollback, or what was kept when it ended), live with --follow',
    details: 'On a terminal the bytes go out as the agent wrote them; into a file or a pipe, as plain text (no escape sequences)\nunless --raw. An ended runner\'s last 64 KiB of output are kept, and how it ended goes to stderr.',
    options: {
      follow: { type: 'boolean', short: 'f', help: 'keep printing output until the runner ends (Ctrl-C stops)' },
      raw: { type: 'boolean', help: 'the bytes as written, escape sequences included, even into a file or a pipe' },
    },
  },
  {
    name: 'events', args: '', arity: [0, 0], summary: 'the live event feed, one line per event with its event_id',
    details: 'Runs until Ctrl-C. A line: time, event_id, type, project, aggregate id, actor, data. --json prints the frames of the\nWebSocket feed (GET /api/v1/events). Resume where you stopped with --after <the last event_id seen>.',
    options: {
      filter: { type: 'string', value: 'PATTERN', help: 'routing-key pattern: `*` one word, `#` any, e.g. runner.*.myproject' },
      after: { type: 'string', value: 'EVENT_ID', help: 'replay the events after this one first' },
      since: { type: 'string', value: 'DURATION', help: 'replay the events of the last 90s, 10m, 2h, 7d (or since a time, 2025-01-31T12:00:00Z) first' },
    },
  },
  {
    name: 'token', args: '<action> [name|id]', arity: [1, 2], subcommands: ['create', 'list', 'revoke'], completes: ['none', 'none'],
    summary: 'API tokens (admin only): `create <name> --role ROLE`, `list`, `revoke <id>`',
    details: 'create prints the secret once: keep it, it is shown nowhere else. Give it to the CLI elsewhere as STRATAVORE_TOKEN\n(or --token), to a browser with `stratavore ui`. Roles: viewer reads, operator also launches and stops, admin also\nmanages tokens. revoke takes an id or a unique prefix of one; the token stops working at once.',
    options: {
      role: { type: 'string', value: 'ROLE', choices: ['admin', 'operator', 'viewer'], help: 'create: admin, operator or viewer' },
      ttl: { type: 'string', value: 'DURATION', help: 'create: expire after 30m, 12h, 7d or a number of seconds (default: until revoked)' },
      description: { type: 'string', value: 'TEXT', help: 'create: what the token is for' },
      all: { type: 'boolean', short: 'a', help: 'list: revoked tokens too' },
    },
  },
  { name: 'nodes', args: '', arity: [0, 0], summary: 'nodes with their state, labels, capacity, agents and runners', options: {} },
  {
    name: 'node', args: 'join-token <action> [id]', arity: [2, 3], subcommands: ['join-token'], completes: ['none', 'none', 'none'],
    summary: 'join tokens for new hosts (admin only): `join-token create`, `join-token list`, `join-token revoke <id>`',
    details: 'create prints the token once and the command to run on the new host (stratavored supervisor --server URL --join-token TOKEN).\nIts supervisor trades the token for a node of its own; the token is spent after --uses joins and dead after --ttl.',
    options: {
      ttl: { type: 'string', value: 'DURATION', help: 'create: expire after 30m, 1h (the default), 7d or a number of seconds' },
      uses: { type: 'string', value: 'N', help: 'create: how many hosts may join with it (default 1)' },
      label: { type: 'string', multiple: true, value: 'K=V', help: 'create: a label for every node that joins with it (repeatable)' },
      all: { type: 'boolean', short: 'a', help: 'list: expired, used-up and revoked ones too' },
    },
  },
  {
    name: 'ui', args: '', arity: [0, 0], summary: 'the web UI: print its sign-in URL and open it in a browser',
    details: 'The URL holds the token this CLI uses (/?token=...): opening it signs the browser in. It is opened with xdg-open\n(with a display) or open (macOS), through a private file so the token is not on a command line.',
    options: { 'no-open': { type: 'boolean', help: 'print the URL only' } },
  },
  {
    name: 'doctor', args: '', arity: [0, 0], summary: 'check the daemon and what it depends on, one line per check (admin)',
    details: 'Here: the config, and reaching the daemon with the token. From the daemon (GET /api/v1/doctor): the database and its\nversion, migrations, the broker, the clock against the database, each agent CLI and its version, file modes, ports and\nthe audit log. Exit 1 when a check fails; --json for {ok, checks: [{name, status, detail}]}.',
    options: {},
  },
  {
    name: 'backup', args: '', arity: [0, 0], summary: 'a backup of the whole database from one snapshot, through the daemon (admin)',
    details: 'Written to FILE.partial (mode 0600), checked whole (its checksum, every table\'s rows), then renamed. It holds no audit\nkey: keep the daemon\'s audit.key (or security.audit_key_file) with it. --output - writes to stdout.',
    options: { output: { type: 'string', short: 'o', value: 'FILE', help: 'where (default: ./stratavore-<UTC time>.backup); - for stdout' } },
  },
  {
    name: 'restore', args: '<file>', arity: [1, 1], summary: 'put a backup into an empty database (the daemon stopped)',
    details: 'Reads the config as the daemon does (--config, the default files, DATABASE_URL) and restores into that database, which\nmust hold no rows, all in one transaction. A truncated, damaged or foreign file is refused before anything is written.\ngzip files are read as they are.',
    options: {},
  },
  { name: 'completion', args: 'bash|zsh|fish', arity: [1, 1], completes: ['shell'], summary: 'a shell completion script', options: {} },
  { name: 'help', args: '[command]', arity: [0, 1], completes: ['none'], summary: 'this help, or a command\'s', options: {} },
]

export const commandNamed = (name: string) => COMMANDS.find(c => c.name === name)

// Names that are commands in other builds or soon (and `version`, which people type): a word
// equal to one, or one edit away from one, is a mistyped command rather than a project to create.
const OTHER_COMMAND_NAMES = ['doctor', 'backup', 'restore', 'budget', 'notifications', 'pause', 'resume', 'sessions', 'version']

/** Edits (insert, delete, substitute, swap two neighbours) from a to b, stopping once past `limit`. */
const editDistance = (a: string, b: string, limit: number): number => {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/**
 * For `stratavore <word>` where the word is no command of this build: the command it looks like
 * (itself when it is one elsewhere), or undefined for a word that can only be a project.
 */
export const lookalikeCommand = (word: string): string | undefined => {
  const lower = word.toLowerCase()
  const names = [...new Set([...COMMANDS.map(c => c.name), ...OTHER_COMMAND_NAMES])]
  return names.find(n => n === lower) ?? names.find(n => editDistance(lower, n, 1) <= 1)
}

const flagLine = (name: string, o: OptionSpec) => {
  const head = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`
  return `  ${head.padEnd(26)} ${o.help}`
}

export const DETACH_KEY_HELP = 'Attached, Ctrl-] (0x1d) detaches: the runner keeps running. Ctrl-C goes to the agent.'

export const usage = (): string => `usage: stratavore <project> [flags]          smart launch: attach to the project's runner or launch one
       stratavore <command> [args] [flags]

Commands:
${COMMANDS.map(c => `  ${`${c.name} ${c.args}`.padEnd(26)} ${c.summary}`).join('\n')}

Flags of every command:
${Object.entries(GLOBAL_OPTIONS).map(([n, o]) => flagLine(n, o)).join('\n')}

Runner ids may be shortened to any unique prefix. ${DETACH_KEY_HELP}
Exit codes: 0 ok, 1 the request failed, 2 usage error. \`stratavore <command> --help\` for its flags.
`

export const commandUsage = (c: CommandSpec): string => `usage: stratavore ${c.name} ${c.args}${c.name === 'launch' ? '\n       stratavore <project>' : ''}

${c.summary}
${c.details ? `\n${c.details}\n` : ''}${Object.keys(c.options).length ? `\nFlags:\n${Object.entries(c.options).map(([n, o]) => flagLine(n, o)).join('\n')}\n` : ''}
Flags of every command: ${Object.keys(GLOBAL_OPTIONS).map(n => `--${n}`).join(', ')}
`

export interface Parsed {
  command: CommandSpec
  /** True when the command was not named: `stratavore <project>`. */
  implicit: boolean
  positionals: string[]
  values: Record<string, string | boolean | string[] | undefined>
}

// The long options that take a value, of any command: the first pass must skip their values to
// find the command word (`stratavore --agent fake myproject` names myproject, not fake).
const VALUE_FLAGS = new Set(COMMANDS.flatMap(c => Object.entries({ ...GLOBAL_OPTIONS, ...c.options }).filter(([, o]) => o.type === 'string').map(([n]) => `--${n}`)))
VALUE_FLAGS.add('-c')

const findCommandWord = (argv: string[]): number => {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!
    if (token === '--') return i + 1 < argv.length ? i + 1 : -1
    if (VALUE_FLAGS.has(token)) { i++; continue }
    if (!token.startsWith('-') || token === '-') return i
  }
  return -1
}

const stripHelp = ({ help: _help, value: _value, choices: _choices, ...o }: OptionSpec) => o

/** Parses argv (without node and the script); throws UsageError with the reason. */
export const parse = (argv: string[]): Parsed => {
  const at = findCommandWord(argv)
  const word = at === -1 ? undefined : argv[at]
  const named = word === undefined ? undefined : commandNamed(word)
  const lookalike = named || word === undefined ? undefined : lookalikeCommand(word)
  if (lookalike !== undefined) {
    const hint = `(a project by that name: stratavore launch ${word})`
    throw new UsageError(commandNamed(lookalike) && lookalike !== word
      ? `unknown command ${JSON.stringify(word)}: did you mean ${lookalike}? ${hint}`
      : `${JSON.stringify(word)} is not a command of this stratavore ${hint}`)
  }
  const command = named ?? commandNamed(word === undefined ? 'help' : 'launch')!
  const rest = named ? [...argv.slice(0, at), ...argv.slice(at + 1)] : argv
  const options = Object.fromEntries(Object.entries({ ...GLOBAL_OPTIONS, ...command.options }).map(([n, o]) => [n, stripHelp(o)]))
  let parsed
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(`${command.name === 'help' ? '' : `${command.name}: `}${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`)
  }
  const values = parsed.values as Parsed['values']
  const positionals = parsed.positionals
  for (const [name, option] of Object.entries({ ...GLOBAL_OPTIONS, ...command.options })) {
    const given = values[name]
    if (option.choices && typeof given === 'string' && !option.choices.includes(given)) {
      throw new UsageError(`${command.name}: --${name} must be ${option.choices.slice(0, -1).join(', ')} or ${option.choices.at(-1)}, got ${JSON.stringify(given)}`)
    }
  }
  if (values.json && values.output !== undefined && values.output !== 'json') throw new UsageError(`${command.name}: --json and --output ${values.output} disagree`)
  if (!values.help && !values.version) {
    const [min, max] = command.arity
    if (positionals.length < min) throw new UsageError(`${command.name}: missing ${command.args.split(' ')[positionals.length]}`)
    if (positionals.length > max) throw new UsageError(`${command.name}: unexpected argument ${JSON.stringify(positionals[max])}`)
  }
  return { command, implicit: !named && word !== undefined, positionals, values }
}
