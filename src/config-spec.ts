// The known configuration keys: their types, bounds and defaults. config.ts reads the YAML
// file and the environment against this table; a key that is not here is a typo and stops the
// daemon, with the key named.
import { MAX_BUDGET_TOKENS } from './core/budgets/budget.js'
import { RELAY_FAULT_POINTS } from './core/events/outbox-relay.js'

export type Leaf =
  | { type: 'string', default: string, pattern?: RegExp, secret?: boolean }
  | { type: 'int', default: number, min: number, max: number }
  | { type: 'bool', default: boolean }
  | { type: 'enum', default: string, values: readonly string[] }
  | { type: 'list', default: string[], pattern?: RegExp }

export interface SpecTree { [key: string]: Leaf | SpecTree }

type LeafOf<T extends Leaf['type']> = Extract<Leaf, { type: T }>
const str = (def: string, extra: { pattern?: RegExp, secret?: boolean } = {}): LeafOf<'string'> => ({ type: 'string', default: def, ...extra })
const int = (def: number, min: number, max: number): LeafOf<'int'> => ({ type: 'int', default: def, min, max })
const port = (def: number): LeafOf<'int'> => int(def, 1, 65535)
const bool = (def: boolean): LeafOf<'bool'> => ({ type: 'bool', default: def })
const oneOf = (def: string, values: readonly string[]): LeafOf<'enum'> => ({ type: 'enum', default: def, values })
const list = (pattern?: RegExp): LeafOf<'list'> => ({ type: 'list', default: [], ...(pattern ? { pattern } : {}) })
const secret = (def = ''): LeafOf<'string'> => str(def, { secret: true })
const seconds = (def: number, max = 86_400) => int(def, 1, max)

// The scrollback reaches a viewer as one frame: whoever reads the attach channel must take this much.
export const MAX_SCROLLBACK_BYTES = 16 * 1024 * 1024

export const CONFIG_SPEC = {
  database: {
    driver: oneOf('pglite', ['pglite', 'postgres']),
    // One statement, or one whole transaction with its wait for a pooled connection (Postgres).
    query_timeout_ms: int(5_000, 100, 600_000),
    postgresql: {
      host: str('localhost'),
      port: port(5432),
      database: str('stratavore'),
      user: str('stratavore'),
      password: secret(),
      password_file: str(''),
      sslmode: oneOf('prefer', ['disable', 'prefer', 'require', 'verify-full']),
      max_conns: int(20, 1, 500),
    },
  },
  docker: {
    rabbitmq: {
      enabled: bool(false),
      host: str('localhost'),
      port: port(5672),
      user: str('guest'),
      password: secret('guest'),
      password_file: str(''),
      vhost: str('/'),
      exchange: str('stratavore.events', { pattern: /^[A-Za-z0-9._-]{1,127}$/ }),
      publisher_confirms: bool(true),
    },
    prometheus: {
      enabled: bool(true),
      host: str('127.0.0.1'),
      port: port(9091),
      // A bearer token /metrics asks for; empty: none (fine on loopback, where it listens by default).
      token: secret(),
      token_file: str(''),
      // How often the daemon holding the fleet-metrics lease reads the fleet's gauges from the
      // database; a scrape serves the last reading and never queries (README, Metrics).
      refresh_interval_seconds: seconds(15, 3600),
    },
  },
  daemon: {
    host: str('127.0.0.1'),
    http_port: port(8080),
    grpc_port: port(50051),
    // TLS for the HTTP port (HTTPS, and so WSS): PEM files, both or neither.
    tls_cert_file: str(''),
    tls_key_file: str(''),
    // TLS for the gRPC port: PEM files, both or neither; without them it serves cleartext h2c.
    grpc_tls_cert_file: str(''),
    grpc_tls_key_file: str(''),
    // With it, the gRPC port takes only clients whose certificate this CA (PEM) signed (mTLS).
    grpc_client_ca_file: str(''),
    // A non-loopback daemon.host without TLS on a port is refused unless this says it is meant.
    allow_insecure_bind: bool(false),
    heartbeat_interval_seconds: seconds(10, 3600),
    reconcile_interval_seconds: seconds(30, 3600),
    // After a usage limit resets, the first runner of an account resumes alone; the rest follow this long after it.
    limit_resume_stagger_seconds: seconds(30, 3600),
    // How long a lost runner may stay silent after its TTL before it is declared failed.
    lost_grace_seconds: seconds(300, 86_400),
    shutdown_timeout_seconds: seconds(30, 3600),
    data_dir: str('~/.local/share/stratavore'),
    body_limit_bytes: int(262_144, 1024, 16 * 1024 * 1024),
    cors_origins: list(/^(\*|https?:\/\/[^\s/]+)$/),
    // Host headers served besides the loopback names, daemon.host and public_url's host (DNS
    // rebinding defence); `*` serves any (behind a proxy that checks it).
    allowed_hosts: list(/^(\*|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/),
    // The URL browsers use to reach this daemon when it is not http://<host>:<http_port>.
    public_url: str('', { pattern: /^$|^https?:\/\/[^\s/]+\/?$/ }),
  },
  supervisor: {
    // This host's node: its name (default: the hostname) and how many runners it takes.
    node_name: str('', { pattern: /^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/ }),
    capacity: int(60, 1, 10_000),
    // This node's labels as key=value (a launch's nodeSelector matches them), e.g. [zone=eu, gpu=yes].
    labels: list(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}=[A-Za-z0-9._-]{0,63}$/),
    // On start, run each configured agent's command with --version (2 s each, in parallel) to
    // report its version; off: report the agents found on PATH without versions.
    detect_agent_versions: bool(true),
    // The attach channel the API dials (WebSocket); port 0 picks a free one at start.
    listen_host: str('127.0.0.1'),
    listen_port: int(0, 0, 65535),
    // What the API should dial when it is not listen_host:port (NAT, containers), e.g. ws://10.0.0.5:7070.
    advertise_url: str('', { pattern: /^$|^wss?:\/\/\S+$/ }),
    // Bytes of terminal output kept per runner for viewers who attach late.
    scrollback_bytes: int(262_144, 4096, MAX_SCROLLBACK_BYTES),
    // Restarts back off exponentially from base to cap; a runner up this long is healthy again.
    restart_backoff_base_ms: int(1000, 10, 600_000),
    restart_backoff_cap_ms: int(60_000, 10, 3_600_000),
    healthy_after_seconds: seconds(60, 86_400),
    // An exit this soon after a start is a failure at start; the same one twice is not retried (0: off).
    start_failure_window_seconds: int(10, 0, 3600),
    stop_timeout_seconds: seconds(10, 3600),
    // A graceful stop of this supervisor ends its agents; then their runners are either recorded
    // as stopped, or handed back unassigned (resuming their conversations) for any node to take.
    // keep (needs shim): its agents are left running in their shims for the next supervisor on
    // this host to adopt, so an upgrade or restart interrupts none of them.
    on_shutdown: oneOf('handover', ['handover', 'stop', 'keep']),
    // A supervisor that talks only to the API (no database or broker settings on this host):
    // the control plane's URL, e.g. https://stratavore.example.com. With it, `stratavored
    // supervisor` trades a join token (supervisor.join_token_file, or --join-token) for a node
    // credential kept in <data_dir>/node-identity.json (0600), and uses that from then on.
    server_url: str('', { pattern: /^$|^https?:\/\/[^\s/]+\/?$/ }),
    join_token_file: str(''),
    // How the API reaches this node's attach channel. tunnel: the node opens a connection to the
    // API (server_url) and attach comes back through it, so no inbound port is needed (behind NAT);
    // dial: the API dials listen_host:listen_port (or advertise_url). auto: tunnel with server_url, else dial.
    attach_via: oneOf('auto', ['auto', 'tunnel', 'dial']),
    // Each runner's terminal is held by a small process of its own (a shim) under
    // <data_dir>/shims, so agents outlive this supervisor: a restart, crash or upgrade takes the
    // running agents back (same pid, scrollback, token counting) instead of restarting them.
    // false: agents are this process's children and end with it (restarted with resume).
    shim: bool(true),
  },
  sessions: {
    // Bytes of one session's transcript (Claude JSONL, Codex rollout) the supervisor archives
    // into the database, compressed, so the session can be resumed on any node. A transcript
    // that grows past it is no longer archived (its chunks are dropped) and resumes only on the
    // node whose disk holds it; 0 archives none.
    archive_max_bytes: int(64 * 1024 * 1024, 0, 1024 * 1024 * 1024),
  },
  relay: {
    // Rows claimed and published per transaction (the confirm window).
    batch_size: int(200, 1, 5000),
    // How often a relay looks for due rows when no NOTIFY woke it.
    poll_interval_ms: int(1000, 50, 60_000),
  },
  debug: {
    // Crash tests only: the relay kills its own process (SIGKILL) at this point of a pass.
    fault_point: oneOf('', ['', ...RELAY_FAULT_POINTS]),
  },
  // system.alert.<severity> events (README, Alerts), evaluated by every reconciler pass.
  alerts: {
    enabled: bool(true),
    // runner_failures fires when this many runners failed within the window; 0: never.
    runner_failures: int(3, 0, 1_000_000),
    runner_failures_window_seconds: seconds(600, 86_400),
    // outbox_lag fires when a due outbox row has waited this long; 0: never.
    outbox_lag_seconds: int(300, 0, 86_400),
  },
  // Webhooks (notifications.webhooks: the file only, config-notifications.ts) and how they are sent.
  notifications: {
    // A runner waiting for a person this long is reminded once (runner.activity.reminder); 0: never.
    remind_after_seconds: int(900, 0, 7 * 86_400),
    // One request's deadline; a request still running then counts as a failed attempt.
    timeout_ms: int(10_000, 100, 120_000),
    // Requests in flight per webhook at most, so a slow endpoint holds only its own.
    concurrency: int(4, 1, 64),
    // Attempts before a delivery is dead (kept, listed, retried by hand).
    max_attempts: int(10, 1, 100),
    // Backoff between attempts: base * 2^(attempt-1), ±20% jitter, never past the cap.
    retry_base_ms: int(1_000, 10, 3_600_000),
    retry_cap_ms: int(600_000, 10, 86_400_000),
  },
  observability: {
    log_level: oneOf('info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    log_format: oneOf('auto', ['auto', 'json', 'pretty']),
    // A request that takes longer is logged at warn (with `slow: true`); others at debug.
    slow_request_ms: int(1_000, 1, 600_000),
  },
  defaults: {
    agent: str('claude', { pattern: /^[a-z0-9][a-z0-9_-]{0,31}$/ }),
  },
  budgets: {
    // An IANA zone: the days, weeks (from Monday) and months of budgets made from now on.
    timezone: str('UTC', { pattern: /^[A-Za-z0-9_+\-/]{1,64}$/ }),
    // A budget's default warning share (budget.warning), in percent of its limit.
    warning_percent: int(80, 1, 100),
    // Global budgets in tokens made at start when none exists for the period (0: none).
    global: {
      day: int(0, 0, MAX_BUDGET_TOKENS),
      week: int(0, 0, MAX_BUDGET_TOKENS),
      month: int(0, 0, MAX_BUDGET_TOKENS),
      total: int(0, 0, MAX_BUDGET_TOKENS),
    },
  },
  webui: {
    dir: str(''),
  },
  security: {
    // The admin token's file; empty: <data_dir>/admin.token, created on first start.
    admin_token_file: str(''),
    // How long a browser stays signed in after opening /?token=.
    session_ttl_seconds: seconds(43_200, 30 * 86_400),
    // Open WebSockets (event feed and attach): in total, and per token (or signed-in browser).
    max_websockets: int(4096, 1, 1_000_000),
    max_websockets_per_token: int(1024, 1, 1_000_000),
    // Requests per credential (or, without one, per client address) per minute, REST, WebSocket
    // and RPC together; 0: no limit. 1,000 a second sustained: above what bench/launch drives
    // with one token, far below what a runaway client would send. Health is never limited.
    rate_limit_per_minute: int(60_000, 0, 100_000_000),
    // The audit log's HMAC keys. audit_key_file (lines `key_id=secret`; the first signs, the
    // rest verify older rows) wins over the inline key; with neither, the daemon generates one
    // in its data dir.
    audit_key_file: str(''),
    audit_key: secret(),
    audit_key_id: str('k1', { pattern: /^[A-Za-z0-9._-]{1,64}$/ }),
    // How often the API process records the head of every audit chain in
    // <data_dir>/audit-checkpoints.jsonl (and an audit.checkpoint event), when the log moved; 0: never.
    audit_checkpoint_interval_seconds: int(60, 0, 86_400),
    // Directories projects may live under (realpaths compared); empty: the daemon user's home.
    project_roots: list(/^(~|~\/.*|\/.*)$/),
  },
  github: {
    token: secret(),
    token_file: str(''),
    api_url: str('https://api.github.com', { pattern: /^https?:\/\/\S+$/ }),
    fleet_repos: list(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/),
    cache_seconds: seconds(120),
  },
} satisfies SpecTree

// Every `password`/`token` key has a `_file` twin whose contents win when it is set.
export const SECRET_FILE_TWINS: Array<[secretPath: string, filePath: string]> = [
  ['database.postgresql.password', 'database.postgresql.password_file'],
  ['docker.rabbitmq.password', 'docker.rabbitmq.password_file'],
  ['github.token', 'github.token_file'],
  ['docker.prometheus.token', 'docker.prometheus.token_file'],
]

export const AGENT_KINDS = ['claude', 'codex', 'gemini', 'aider', 'opencode', 'generic'] as const
export type AgentKind = typeof AGENT_KINDS[number]
// The CLIs that resume a conversation by its id (agent-clis.md): a session of another kind
// (aider keeps a chat file, a generic program nothing) cannot be resumed.
export const RESUMABLE_AGENT_KINDS: ReadonlySet<AgentKind> = new Set(['claude', 'codex', 'gemini', 'opencode'])
export const AGENT_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/

// The CLIs as their packages install them; `generic` has no default and needs a command.
export const DEFAULT_AGENT_COMMANDS: Record<Exclude<AgentKind, 'generic'>, string[]> = {
  claude: ['claude'],
  codex: ['codex'],
  gemini: ['gemini'],
  aider: ['aider'],
  opencode: ['opencode'],
}

export const isLeaf = (node: Leaf | SpecTree): node is Leaf => typeof (node as Leaf).type === 'string' && 'default' in node

/** Every leaf with its dotted path, e.g. ['daemon.http_port', {...}]. */
export const leaves = (tree: SpecTree = CONFIG_SPEC, prefix = ''): Array<[string, Leaf]> =>
  Object.entries(tree).flatMap(([key, node]) => isLeaf(node) ? [[`${prefix}${key}`, node]] : leaves(node, `${prefix}${key}.`))

/** STRATAVORE_DAEMON_HTTP_PORT for daemon.http_port. */
export const envNameOf = (path: string) => `STRATAVORE_${path.replaceAll('.', '_').toUpperCase()}`

/** The variable of every key: STRATAVORE_DAEMON_HTTP_PORT → daemon.http_port. */
export const ENV_KEYS: ReadonlyMap<string, string> = new Map(leaves().map(([path]) => [envNameOf(path), path]))

// The namespace of each top-level section, `agents` included (set in the file only): a
// variable in one of these that names no key is a typo. Other STRATAVORE_* variables
// (STRATAVORE_DATA_DIR, the CLI's STRATAVORE_API_URL, the tags agents are given, test and bench
// knobs) are not configuration keys.
export const ENV_SECTION_PREFIXES = [...Object.keys(CONFIG_SPEC), 'agents'].map(section => `${envNameOf(section)}_`)

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    previous = current
  }
  return previous[b.length]!
}

/**
 * The known variable a mistyped one most likely meant, or null: the nearest within three edits
 * (`..._DAEMON_HTTP_PROT`), else the one variable of the same section that ends like it
 * (`..._DATABASE_HOST` for `..._DATABASE_POSTGRESQL_HOST`).
 */
export const closestEnvName = (name: string): string | null => {
  const known = [...ENV_KEYS.keys()]
  const [nearest] = known.map(k => [k, editDistance(name, k)] as const).filter(([, d]) => d <= 3).sort((x, y) => x[1] - y[1])
  if (nearest) return nearest[0]
  const prefix = ENV_SECTION_PREFIXES.find(p => name.startsWith(p))
  const endingLikeIt = prefix ? known.filter(k => k.startsWith(prefix) && k.endsWith(`_${name.slice(prefix.length)}`)) : []
  return endingLikeIt.length === 1 ? endingLikeIt[0]! : null
}
