// Who may call what: the one table every REST route, WebSocket and RPC method declares
// against (deny by default). `public` needs no credential; a role admits that role and the
// roles above it (admin ⊇ operator ⊇ viewer), `node` only a supervisor's node credential
// (src/core/auth/principal.ts). buildApp refuses to start with an /api/ route that has no
// entry here, and test/api/access-policy.test.ts walks every entry with every role.
import type { Role } from '../core/auth/principal.js'

export type Access = Role | 'public'

/** REST and WebSocket routes, by `METHOD url` as Fastify registers them. */
export const ROUTE_ACCESS: Readonly<Record<string, Access>> = {
  'GET /api/v1/health': 'public',

  'GET /api/v1/projects': 'viewer',
  'GET /api/v1/projects/:name': 'viewer',
  'POST /api/v1/projects': 'operator',
  'DELETE /api/v1/projects/:name': 'operator',
  'POST /api/v1/projects/:name/archive': 'operator',
  'PUT /api/v1/projects/:name/quota': 'operator',

  'GET /api/v1/runners': 'viewer',
  'GET /api/v1/runners/:id': 'viewer',
  'GET /api/v1/runners/:id/output': 'viewer',
  'GET /api/v1/inbox': 'viewer',
  'POST /api/v1/runners': 'operator',
  'POST /api/v1/runners/:id/stop': 'operator',
  'POST /api/v1/runners/:id/pause': 'operator',
  'POST /api/v1/runners/:id/resume': 'operator',
  // A viewer attaches read-only; writing needs operator (checked by the route itself).
  'GET /api/v1/runners/:id/attach': 'viewer',

  'GET /api/v1/sessions': 'viewer',
  'GET /api/v1/sessions/:id': 'viewer',
  // A transcript holds every tool's full output (files read, commands' results), more than a
  // viewer is shown of a terminal: exported by those who may run agents.
  'GET /api/v1/sessions/:id/transcript': 'operator',

  // Budgets hold operators' launches to a spend: only an admin may change them.
  'GET /api/v1/budgets': 'viewer',
  'GET /api/v1/budgets/history': 'viewer',
  'GET /api/v1/budgets/:id': 'viewer',
  'POST /api/v1/budgets': 'admin',
  'PUT /api/v1/budgets/:id': 'admin',
  'DELETE /api/v1/budgets/:id': 'admin',

  'GET /api/v1/events': 'viewer',
  'GET /api/v1/audit/verify': 'viewer',
  // The whole database: token hashes, transcripts, every project's history.
  'GET /api/v1/backup': 'admin',
  // Paths, versions, the host's agent CLIs.
  'GET /api/v1/doctor': 'admin',

  'POST /api/v1/nodes/:id/heartbeats': 'node',
  // A node that dials out: its control socket, and each terminal it relays (its own sessions only).
  'GET /api/v1/nodes/tunnel': 'node',
  'GET /api/v1/nodes/tunnel/:session': 'node',
  'GET /api/v1/nodes': 'viewer',
  'GET /api/v1/nodes/join-tokens': 'admin',
  'POST /api/v1/nodes/join-tokens': 'admin',
  'DELETE /api/v1/nodes/join-tokens/:id': 'admin',
  // The join token in the body is the credential (rate-limited per address: PUBLIC_RATE_LIMITED).
  'POST /api/v1/nodes/join': 'public',

  // Deliveries carry every event's data; retrying one makes a request to an operator's endpoint.
  'GET /api/v1/notifications/deliveries': 'admin',
  'POST /api/v1/notifications/deliveries/:id/retry': 'admin',
  'GET /api/v1/notifications/webhooks': 'admin',

  'GET /api/v1/tokens': 'admin',
  'POST /api/v1/tokens': 'admin',
  'DELETE /api/v1/tokens/:id': 'admin',

  // The Lex WebUI's routes (shared/contracts/lex-webui.md).
  'GET /api/v1/status': 'viewer',
  'GET /api/v1/metrics': 'viewer',
  'POST /api/v1/reconcile': 'operator',
  'GET /api/v1/fleet/prs': 'viewer',
  'GET /api/v1/runners/list': 'viewer',
  'GET /api/v1/runners/get': 'viewer',
  'POST /api/v1/runners/launch': 'operator',
  'POST /api/v1/runners/stop': 'operator',
  'GET /api/v1/projects/list': 'viewer',
  'GET /api/v1/projects/get': 'viewer',
  'POST /api/v1/projects/create': 'operator',
  'POST /api/v1/projects/delete': 'operator',
  'GET /api/v1/sessions/list': 'viewer',
  'GET /api/v1/sessions/get': 'viewer',
}

/** RPC methods, by `<service type name>/<method>`. */
export const RPC_ACCESS: Readonly<Record<string, Access>> = {
  'stratavore.v1.ProjectService/CreateProject': 'operator',
  'stratavore.v1.ProjectService/GetProject': 'viewer',
  'stratavore.v1.ProjectService/ListProjects': 'viewer',
  'stratavore.v1.ProjectService/ArchiveProject': 'operator',
  'stratavore.v1.ProjectService/DeleteProject': 'operator',
  'stratavore.v1.ProjectService/SetQuota': 'operator',

  'stratavore.v1.RunnerService/LaunchRunner': 'operator',
  'stratavore.v1.RunnerService/GetRunner': 'viewer',
  'stratavore.v1.RunnerService/ListRunners': 'viewer',
  'stratavore.v1.RunnerService/StopRunner': 'operator',
  'stratavore.v1.RunnerService/WatchRunnerOutput': 'viewer',
  'stratavore.v1.RunnerService/PauseRunner': 'operator',
  'stratavore.v1.RunnerService/ResumeRunner': 'operator',

  'stratavore.v1.BudgetService/ListBudgets': 'viewer',
  'stratavore.v1.BudgetService/GetBudget': 'viewer',
  'stratavore.v1.BudgetService/ListBudgetHistory': 'viewer',
  'stratavore.v1.BudgetService/CreateBudget': 'admin',
  'stratavore.v1.BudgetService/UpdateBudget': 'admin',
  'stratavore.v1.BudgetService/DeleteBudget': 'admin',

  'stratavore.v1.SessionService/ListSessions': 'viewer',
  'stratavore.v1.SessionService/GetSession': 'viewer',
  'stratavore.v1.SessionService/ExportSessionTranscript': 'operator',

  'stratavore.v1.SystemService/GetStatus': 'viewer',
  'stratavore.v1.SystemService/GetMetrics': 'viewer',
  'stratavore.v1.SystemService/Reconcile': 'operator',
  'stratavore.v1.SystemService/Health': 'public',
  'stratavore.v1.SystemService/VerifyAuditLog': 'viewer',

  'stratavore.v1.EventService/WatchEvents': 'viewer',

  'stratavore.v1.NodeService/ReportHeartbeats': 'node',
  'stratavore.v1.NodeService/ListNodes': 'viewer',
  'stratavore.v1.NodeService/CreateJoinToken': 'admin',
  'stratavore.v1.NodeService/ListJoinTokens': 'admin',
  'stratavore.v1.NodeService/RevokeJoinToken': 'admin',
  'stratavore.v1.NodeService/JoinNode': 'public',

  // A remote supervisor's calls: its node's credential only, and only about its own runners
  // (src/core/supervisor/supervision-service.ts).
  'stratavore.v1.SupervisionService/RegisterSupervisor': 'node',
  'stratavore.v1.SupervisionService/ClaimRunners': 'node',
  'stratavore.v1.SupervisionService/ListAssignedRunners': 'node',
  'stratavore.v1.SupervisionService/BeginStarts': 'node',
  'stratavore.v1.SupervisionService/RestartRunner': 'node',
  'stratavore.v1.SupervisionService/ReportStarted': 'node',
  'stratavore.v1.SupervisionService/ReportExited': 'node',
  'stratavore.v1.SupervisionService/ReportSession': 'node',
  'stratavore.v1.SupervisionService/ReportPausedStopped': 'node',
  'stratavore.v1.SupervisionService/ResetRestartAttempts': 'node',
  'stratavore.v1.SupervisionService/ReportUsage': 'node',
  'stratavore.v1.SupervisionService/ReportActivity': 'node',
  'stratavore.v1.SupervisionService/ReportUsageLimit': 'node',
  'stratavore.v1.SupervisionService/ReleaseNode': 'node',
  'stratavore.v1.SupervisionService/GetTranscriptPosition': 'node',
  'stratavore.v1.SupervisionService/AppendTranscript': 'node',
  'stratavore.v1.SupervisionService/ResetTranscript': 'node',
  'stratavore.v1.SupervisionService/ReadTranscript': 'node',

  'stratavore.v1.TokenService/CreateToken': 'admin',
  'stratavore.v1.TokenService/ListTokens': 'admin',
  'stratavore.v1.TokenService/RevokeToken': 'admin',
}

/**
 * Public routes and methods that still count against security.rate_limit_per_minute, keyed by
 * the client's address: they take a secret in the body, so guessing one must be slow.
 */
export const PUBLIC_RATE_LIMITED: ReadonlySet<string> = new Set([
  'POST /api/v1/nodes/join',
  'stratavore.v1.NodeService/JoinNode',
])
