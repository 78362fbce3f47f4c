// The one error type of Stratavore. Core code throws AppError; each surface (REST, Lex WebUI,
// workers) maps `kind` to its own vocabulary in exactly one place. `code` is stable: clients may
// switch on it, so codes are only ever added, never renamed.

export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'unavailable'
  | 'unauthenticated'
  | 'permission_denied'
  | 'internal'

export interface AppErrorInit {
  code: string
  kind: ErrorKind
  message: string
  details?: Record<string, unknown>
  cause?: unknown
}

export class AppError extends Error {
  readonly code: string
  readonly kind: ErrorKind
  readonly details?: Record<string, unknown>

  constructor (init: AppErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'AppError'
    this.code = init.code
    this.kind = init.kind
    if (init.details !== undefined) this.details = init.details
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError

const make = (code: string, kind: ErrorKind) =>
  (message: string, details?: Record<string, unknown>, cause?: unknown) =>
    new AppError({ code, kind, message, ...(details ? { details } : {}), ...(cause !== undefined ? { cause } : {}) })

// The catalogue. Named constructors keep messages consistent across surfaces.
export const errors = {
  invalidArgument: make('INVALID_ARGUMENT', 'invalid_argument'),
  invalidProjectPath: (path: string, reason: string) =>
    make('INVALID_PROJECT_PATH', 'invalid_argument')(`invalid project path ${JSON.stringify(path)}: ${reason}`, { path }),
  invalidEnvironment: (name: string, reason: string) =>
    make('INVALID_ENVIRONMENT', 'invalid_argument')(`environment variable ${JSON.stringify(name)} ${reason}`, { name }),
  // What a launch may carry is the agent's to decide (agents.<name>.launch_env, allow_flags);
  // the flag is quoted redacted, since a refused flag may still hold a credential.
  environmentNotAllowed: (name: string, agent: string, allowed: readonly string[]) =>
    make('ENVIRONMENT_NOT_ALLOWED', 'invalid_argument')(
      `environment variable ${JSON.stringify(name)} may not be set for agent ${JSON.stringify(agent)}; agents.${agent}.launch_env allows ${allowed.length ? allowed.join(', ') : 'none'}`,
      { name, agent }),
  flagNotAllowed: (flag: string, index: number, agent: string, allowed: readonly string[]) =>
    make('FLAG_NOT_ALLOWED', 'invalid_argument')(
      `flag ${JSON.stringify(flag)} (flags[${index}]) is not allowed for agent ${JSON.stringify(agent)}; agents.${agent}.allow_flags allows ${allowed.length ? allowed.join(', ') : 'no flags'}`,
      { flag, index, agent }),
  projectPathNotAllowed: (path: string, reason: string) =>
    make('PROJECT_PATH_NOT_ALLOWED', 'invalid_argument')(`project path ${JSON.stringify(path)} is not allowed: ${reason}`, { path }),
  unknownAgent: (agent: string, known: string[]) =>
    make('UNKNOWN_AGENT', 'invalid_argument')(`unknown agent ${JSON.stringify(agent)}; configured agents: ${known.join(', ') || 'none'}`, { agent, known }),
  invalidCursor: () => make('INVALID_CURSOR', 'invalid_argument')('invalid pagination cursor'),

  projectNotFound: (name: string) => make('PROJECT_NOT_FOUND', 'not_found')(`project not found: ${name}`, { name }),
  runnerNotFound: (id: string) => make('RUNNER_NOT_FOUND', 'not_found')(`runner not found: ${id}`, { id }),
  sessionNotFound: (id: string) => make('SESSION_NOT_FOUND', 'not_found')(`session not found: ${id}`, { id }),

  projectExists: (name: string) => make('PROJECT_EXISTS', 'already_exists')(`project already exists: ${name}`, { name }),
  projectPathTaken: (path: string, owner: string) =>
    make('PROJECT_PATH_TAKEN', 'already_exists')(`path ${path} already belongs to project ${owner}`, { path, project: owner }),

  projectArchived: (name: string) => make('PROJECT_ARCHIVED', 'failed_precondition')(`project is archived: ${name}`, { name }),
  projectHasActiveRunners: (name: string, active: number) =>
    make('PROJECT_HAS_ACTIVE_RUNNERS', 'failed_precondition')(`project ${name} has ${active} active runner(s); stop them first`, { name, active }),
  // A session is one conversation: a second runner on it would interleave two processes'
  // writes to one transcript. The live runner is named so that a client can attach instead.
  sessionHasLiveRunner: (id: string, runnerId: string) =>
    make('SESSION_HAS_LIVE_RUNNER', 'failed_precondition')(`session ${id} is live in runner ${runnerId}: attach to it instead of resuming`, { id, runnerId }),
  sessionNotResumable: (id: string, agent: string, reason: string) =>
    make('SESSION_NOT_RESUMABLE', 'failed_precondition')(`session ${id} (agent ${agent}) cannot be resumed: ${reason}`, { id, agent }),
  sessionNotInProject: (id: string, project: string, owner: string) =>
    make('SESSION_NOT_IN_PROJECT', 'invalid_argument')(`session ${id} belongs to project ${owner}, not ${project}`, { id, project: owner }),
  sessionAgentMismatch: (id: string, agent: string, sessionAgent: string) =>
    make('SESSION_AGENT_MISMATCH', 'invalid_argument')(`session ${id} is a conversation of agent ${sessionAgent}; agent ${agent} cannot resume it`, { id, agent, sessionAgent }),
  transcriptNotArchived: (id: string) =>
    make('TRANSCRIPT_NOT_ARCHIVED', 'not_found')(`session ${id} has no archived transcript`, { id }),
  transcriptOverArchiveLimit: (id: string, bytes: number, limit: number) =>
    make('TRANSCRIPT_OVER_ARCHIVE_LIMIT', 'failed_precondition')(
      `the transcript of session ${id} grew past the archive limit (${bytes} bytes read, sessions.archive_max_bytes ${limit}) and is not archived; it stays on the node that ran it`,
      { id, bytes, limit }),
  runnerNotActive: (id: string, status: string) =>
    make('RUNNER_NOT_ACTIVE', 'failed_precondition')(`runner not active: ${id} is ${status}`, { id, status }),

  runnerNotPausable: (id: string, status: string) =>
    make('RUNNER_NOT_PAUSABLE', 'failed_precondition')(`runner ${id} is ${status}: only a runner that runs or is about to can be paused`, { id, status }),
  runnerNotPaused: (id: string, status: string) =>
    make('RUNNER_NOT_PAUSED', 'failed_precondition')(`runner ${id} is ${status}, not paused: there is nothing to resume`, { id, status }),
  runnerStillStopping: (id: string) =>
    make('RUNNER_STILL_STOPPING', 'failed_precondition')(`runner ${id} is paused but its process has not ended yet; retry shortly`, { id }),
  deliveryNotFound: (id: string) => make('DELIVERY_NOT_FOUND', 'not_found')(`notification delivery not found: ${id}`, { id }),
  deliveryNotDead: (id: string, status: string) =>
    make('DELIVERY_NOT_DEAD', 'failed_precondition')(`notification delivery ${id} is ${status}: only a dead delivery can be retried`, { id, status }),
  budgetNotFound: (id: string) => make('BUDGET_NOT_FOUND', 'not_found')(`budget not found: ${id}`, { id }),
  budgetExists: (scope: string, period: string, id: string) =>
    make('BUDGET_EXISTS', 'already_exists')(`a ${period} budget for ${scope} already exists (${id}); set it with its id or without create`, { scope, period, id }),
  runnerFinished: (id: string, status: string) =>
    make('RUNNER_FINISHED', 'failed_precondition')(`runner ${id} has finished (${status}): there is no terminal to attach to`, { id, status }),
  runnerNotStarted: (id: string, status: string) =>
    make('RUNNER_NOT_STARTED', 'failed_precondition')(`runner ${id} is ${status}: its process is not running yet; retry shortly`, { id, status }),
  nodeUnreachable: (runnerId: string, nodeId: string | null) =>
    make('NODE_UNREACHABLE', 'unavailable')(`the supervisor of runner ${runnerId} cannot be reached${nodeId ? ` (node ${nodeId})` : ''}`, { runnerId, nodeId }),

  quotaExceeded: (project: string, active: number, limit: number) =>
    make('QUOTA_EXCEEDED', 'resource_exhausted')(`quota exceeded: ${active}/${limit} runners active in project ${project}`, { project, active, limit }),
  budgetExhausted: (scope: string, used: number, limit: number) =>
    make('BUDGET_EXHAUSTED', 'resource_exhausted')(`token budget exhausted for ${scope}: ${used}/${limit} tokens used`, { scope, used, limit }),

  // The live event feed: a client too far behind must reload its state rather than replay.
  resyncRequired: (reason: string) => make('RESYNC_REQUIRED', 'failed_precondition')(`resync required: ${reason}`),
  feedOverflow: (limit: number) =>
    make('FEED_OVERFLOW', 'resource_exhausted')(`more than ${limit} live events arrived while the replay was still running`, { limit }),

  // Unknown, expired, already used or another node's: a node learns nothing more from the refusal.
  tunnelSessionNotFound: () => make('TUNNEL_SESSION_NOT_FOUND', 'not_found')('no tunnel session of this node waits under that id (unknown, expired or used)'),
  nodeNotFound: (id: string) => make('NODE_NOT_FOUND', 'not_found')(`node not found: ${id}`, { id }),
  nodeUnauthenticated: (id: string) =>
    make('NODE_UNAUTHENTICATED', 'unauthenticated')(`node ${id}: the credential is missing or wrong`, { id }),
  // Some runners' heartbeats were refused: the runner was finished or restarted elsewhere, so
  // the reporting supervisor must kill those processes. The other heartbeats were recorded.
  heartbeatFenced: (fenced: string[], accepted: string[]) =>
    make('HEARTBEAT_FENCED', 'failed_precondition')(`${fenced.length} runner(s) no longer run here; kill their processes`, { fenced, accepted }),

  // A node credential speaks for its own node alone.
  nodeNotYours: (id: string) =>
    make('NODE_CREDENTIAL_MISMATCH', 'permission_denied')(`this node credential does not speak for node ${id}`, { id }),
  // A remote supervisor's report about a runner it does not hold: one another node runs now.
  runnerNotYours: (id: string) =>
    make('RUNNER_NOT_YOURS', 'permission_denied')(`runner ${id} is not assigned to this node`, { id }),
  sessionNotYours: (id: string) =>
    make('SESSION_NOT_YOURS', 'permission_denied')(`session ${id} belongs to no runner of this node`, { id }),
  // A report about a runner that moved on (a newer generation, maybe on another node): the
  // reporting node must stop that process.
  runnerFenced: (id: string, generation: number, current: number) =>
    make('RUNNER_FENCED', 'failed_precondition')(`runner ${id} has moved on (generation ${current}, reported ${generation}); stop its process`, { id, generation, current }),
  nodeNameTaken: (name: string) => make('NODE_NAME_TAKEN', 'already_exists')(`a node is already named ${name}`, { name }),
  // Placement found no node for a launch: `nodes` says why, node by node.
  noNodeFits: (reason: string, nodes: Array<{ node: string, reason: string }>) =>
    make('NO_NODE_FITS', 'failed_precondition')(`no node can take this runner: ${reason}`, { nodes }),

  // Join tokens. A presented token that cannot be used changes nothing; the message says why
  // (whoever presents it holds the secret, so its state is theirs to know).
  joinTokenInvalid: () => make('JOIN_TOKEN_INVALID', 'unauthenticated')('the join token is not valid: ask an admin for one (stratavore node join-token create)'),
  joinTokenExpired: () => make('JOIN_TOKEN_EXPIRED', 'unauthenticated')('the join token has expired: ask an admin for a new one'),
  joinTokenRevoked: () => make('JOIN_TOKEN_REVOKED', 'unauthenticated')('the join token was revoked'),
  joinTokenUsedUp: () => make('JOIN_TOKEN_USED_UP', 'unauthenticated')('the join token has no uses left: ask an admin for a new one'),
  joinTokenNotFound: (id: string) => make('JOIN_TOKEN_NOT_FOUND', 'not_found')(`join token not found: ${id}`, { id }),
  // On the joining host: the control plane's refusal, under the stable code it answered with.
  joinRefused: (server: string, reason: string, code: string) =>
    new AppError({ code, kind: 'unauthenticated', message: `could not join the control plane at ${server}: ${reason}`, details: { server } }),

  // Authentication and authorization. Messages never repeat the credential.
  unauthenticated: (reason: string) => make('UNAUTHENTICATED', 'unauthenticated')(reason),
  permissionDenied: (role: string, needed: string) =>
    make('PERMISSION_DENIED', 'permission_denied')(`this needs the ${needed} role; the credential has ${role}`, { role, needed }),
  forbiddenOrigin: (origin: string) =>
    make('FORBIDDEN_ORIGIN', 'permission_denied')(`requests from origin ${JSON.stringify(origin)} are not allowed`, { origin }),
  tooManyConnections: (reason: string) => make('TOO_MANY_CONNECTIONS', 'resource_exhausted')(reason),
  rateLimited: (limit: number, retryAfterSeconds: number) =>
    make('RATE_LIMITED', 'resource_exhausted')(`more than ${limit} requests a minute with this credential (security.rate_limit_per_minute): retry in ${retryAfterSeconds} s`, { limit, retryAfterSeconds }),
  tokenNotFound: (id: string) => make('TOKEN_NOT_FOUND', 'not_found')(`token not found: ${id}`, { id }),
  tokenNameTaken: (name: string) => make('TOKEN_NAME_TAKEN', 'already_exists')(`a live token is already named ${name}`, { name }),

  // Every pooled connection is busy and requests are queuing for one (said by the health check
  // without waiting for a connection itself).
  databaseSaturated: (inFlight: number, poolSize: number, oldestMs: number) =>
    make('DATABASE_SATURATED', 'unavailable')(`the database is saturated: ${inFlight} operations in flight on ${poolSize} connections, the oldest for ${oldestMs} ms; retry shortly`, { inFlight, poolSize, oldestMs }),

  // Backup and restore (src/adapters/backup): the file is not a whole Stratavore backup, or the
  // database it would go into cannot take it. Nothing is written in either case.
  backupInvalid: (file: string, reason: string) =>
    make('BACKUP_INVALID', 'invalid_argument')(`${file} is not a usable Stratavore backup: ${reason}`, { file }),
  restoreTargetNotEmpty: (what: string) =>
    make('RESTORE_TARGET_NOT_EMPTY', 'failed_precondition')(`${what}; restore only goes into an empty database and data dir`),
  backupSchemaMismatch: (reason: string) => make('BACKUP_SCHEMA_MISMATCH', 'failed_precondition')(reason),

  // A daemon port it cannot bind: a setting to change, named with its variable.
  portUnavailable: (port: number, host: string, reason: string, fix: { key: string, variable: string, to: string }, cause?: unknown) =>
    make('PORT_UNAVAILABLE', 'unavailable')(`cannot listen on ${host}:${port}: ${reason}; set ${fix.key} (or ${fix.variable}) to ${fix.to}`, { port, host, key: fix.key }, cause),
  unavailable: make('UNAVAILABLE', 'unavailable'),
  internal: make('INTERNAL', 'internal'),
}
