// Domain objects to the Lex WebUI's shapes (shared/contracts/lex-webui.md): camelCase runners
// and projects, snake_case sessions, "" for unknown times, every listed field present.
import type { PullRequest } from '../../core/fleet/fleet-service.js'
import type { Project } from '../../core/projects/project.js'
import type { Runner, RunnerStatus } from '../../core/runners/runner.js'
import { redactEnvironment, redactFlags } from '../../core/secrets.js'
import { toActivityDto } from '../rest/mappers.js'
import type { Session } from '../../core/sessions/session.js'
import type { DaemonStatus, GlobalMetrics } from '../../core/status/status-service.js'

const time = (d: Date | null) => d ? d.toISOString() : ''

// The app knows five statuses; the richer ones map onto the nearest it can show.
const WEBUI_STATUS: Record<RunnerStatus, 'pending' | 'running' | 'paused' | 'terminated' | 'failed'> = {
  pending: 'pending',
  starting: 'pending',
  running: 'running',
  paused: 'paused',
  stopping: 'running',
  lost: 'failed',
  terminated: 'terminated',
  failed: 'failed',
}

export const toWebuiRunner = (r: Runner) => ({
  id: r.id,
  runtimeType: r.runtimeType,
  runtimeId: r.runtimeId,
  nodeId: r.nodeId ?? '',
  projectName: r.projectName,
  projectPath: r.projectPath,
  status: WEBUI_STATUS[r.status],
  flags: redactFlags(r.flags),
  capabilities: r.capabilities,
  environment: redactEnvironment(r.environment),
  sessionId: r.sessionId ?? '',
  conversationMode: r.conversationMode,
  tokensUsed: r.tokensUsed,
  cpuPercent: r.cpuPercent,
  memoryMb: r.memoryMb,
  restartAttempts: r.restartAttempts,
  maxRestartAttempts: r.maxRestartAttempts,
  startedAt: time(r.startedAt),
  lastHeartbeat: time(r.lastHeartbeat),
  heartbeatTtlSeconds: r.heartbeatTtlSeconds,
  ...(r.terminatedAt ? { terminatedAt: time(r.terminatedAt) } : {}),
  ...(r.exitCode !== null ? { exitCode: r.exitCode } : {}),
  createdAt: time(r.createdAt),
  updatedAt: time(r.updatedAt),
  agent: r.agent,
  activity: toActivityDto(r.activity),
})

export const toWebuiProject = (p: Project) => ({
  name: p.name,
  path: p.path,
  status: p.status,
  description: p.description,
  tags: p.tags,
  totalRunners: p.totalRunners,
  activeRunners: p.activeRunners,
  totalSessions: p.totalSessions,
  totalTokens: p.totalTokens,
  createdAt: time(p.createdAt),
  lastAccessedAt: time(p.lastAccessedAt),
  ...(p.archivedAt ? { archivedAt: time(p.archivedAt) } : {}),
  updatedAt: time(p.updatedAt),
})

export const toWebuiSession = (s: Session) => ({
  id: s.id,
  runner_id: s.runnerId ?? '',
  project_name: s.projectName,
  started_at: time(s.startedAt),
  ...(s.endedAt ? { ended_at: time(s.endedAt) } : {}),
  ...(s.lastMessageAt ? { last_message_at: time(s.lastMessageAt) } : {}),
  message_count: s.messageCount,
  tokens_used: s.tokensUsed,
  resumable: s.resumable,
  ...(s.resumedFrom ? { resumed_from: s.resumedFrom } : {}),
  ...(s.summary ? { summary: s.summary } : {}),
  created_at: time(s.createdAt),
})

export const toWebuiDaemon = (d: DaemonStatus) => ({
  daemonId: d.id,
  hostname: d.hostname,
  version: d.version,
  startedAt: time(d.startedAt),
  lastHeartbeat: time(d.lastHeartbeat),
  healthy: d.healthy,
})

export const toWebuiMetrics = (m: GlobalMetrics) => ({ ...m })

export const toWebuiMetricsSnake = (m: GlobalMetrics) => ({
  active_runners: m.activeRunners,
  active_projects: m.activeProjects,
  total_sessions: m.totalSessions,
  tokens_used: m.tokensUsed,
  token_limit: m.tokenLimit,
})

export const toWebuiPullRequest = (pr: PullRequest) => ({
  repo: pr.repo,
  number: pr.number,
  title: pr.title,
  author: pr.author,
  created_at: pr.createdAt,
  draft: pr.draft,
  assignees: pr.assignees,
  url: pr.url,
})
