// agents.<name>.run_as: a supervisor running as root starts that agent as another user, so the
// agent (god mode included) cannot read the daemon's data dir, its node credential or its audit
// key, nor signal the daemon. Everything is settled when the supervisor starts, and a setting
// that cannot be honoured stops it with a clear line instead of running agents as root:
//
// - only root can switch users (a supervisor already running as the named user needs nothing);
// - the user and group must exist (getent, so NSS sources such as LDAP count);
// - the data dir must not be open to group or others, as Postgres insists for its own;
// - root's supplementary groups are dropped from the daemon itself: node-pty sets the child's
//   uid and gid but keeps the parent's supplementary groups (child_process clears them), and
//   root, which bypasses file permissions anyway, loses nothing by having none.
import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import type { Config, RunAs } from '../../config.js'

export interface AgentUser { uid: number, gid: number, name: string, home: string }

export type Lookup = (database: 'passwd' | 'group', key: string) => string[] | null

/** `getent <database> <key>` split on ':', or null when there is no such entry. */
export const getent: Lookup = (database, key) => {
  try {
    return execFileSync('getent', [database, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.split(':')
  } catch {
    return null
  }
}

export const resolveRunAs = (agent: string, runAs: RunAs, lookup: Lookup = getent): AgentUser => {
  const passwd = lookup('passwd', runAs.user)
  if (!passwd || passwd.length < 7) throw new Error(`agents.${agent}.run_as.user: no such user: ${runAs.user}`)
  const [name, , uid, primaryGid, , home] = passwd as [string, string, string, string, string, string]
  let gid = Number(primaryGid)
  if (runAs.group !== undefined) {
    const group = lookup('group', runAs.group)
    if (!group || group.length < 3) throw new Error(`agents.${agent}.run_as.group: no such group: ${runAs.group}`)
    gid = Number(group[2])
  }
  return { uid: Number(uid), gid, name, home }
}

// The kernel's list, not process.getgroups(), which adds the effective gid.
const supplementaryGroups = (): string => /^Groups:[ \t]*(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]?.trim() ?? ''

/**
 * The users of the agents that name run_as, by agent name; throws naming the setting when the
 * supervisor cannot honour one. `uid`: the supervisor's own (a parameter for tests).
 */
export const prepareAgentUsers = (config: Config, { uid = process.getuid?.() ?? -1, lookup = getent }: { uid?: number, lookup?: Lookup } = {}): Map<string, AgentUser> => {
  const users = new Map<string, AgentUser>()
  for (const agent of Object.values(config.agents)) {
    if (!agent.runAs) continue
    const user = resolveRunAs(agent.name, agent.runAs, lookup)
    if (uid !== 0 && uid !== user.uid) {
      throw new Error(`agents.${agent.name}.run_as: this supervisor runs as uid ${uid}, and only root can start an agent as another user (${user.name}); run the supervisor as root or remove run_as`)
    }
    if (uid === 0) users.set(agent.name, user)
  }
  if (users.size === 0) return users
  let mode: number | null = null
  try { mode = statSync(config.dataDir).mode } catch { /* made later, with mode 0700 */ }
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new Error(`agents run as other users (run_as), but the data dir ${config.dataDir} is open to them (mode ${(mode & 0o777).toString(8)}); chmod 700 it`)
  }
  try {
    process.setgroups?.([])
  } catch (err) {
    throw new Error(`agents run as other users (run_as), but this supervisor cannot drop its supplementary groups: ${(err as Error).message}`)
  }
  if (supplementaryGroups() !== '') throw new Error('agents run as other users (run_as), but this supervisor still has supplementary groups')
  return users
}
