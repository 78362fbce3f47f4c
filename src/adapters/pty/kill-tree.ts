// Finding and killing everything a runner started, so a stopped or finished runner leaves
// nothing behind (reliability-and-performance.md F10, S8: "no orphaned grandchildren"). The
// process group catches most of it; these catch what left the group with setsid or setpgid:
// a tree walk while the leader lives, a snapshot taken before SIGTERM (the leader may die and
// orphan them before the SIGKILL), and an environment tag for orphans nobody saw.
//
// A pid is only signalled when its start time matches what we saw, so a reused pid is safe.
import { childrenByParent, findTaggedProcesses, readProcEntry, readProcTable, treeOf } from './proc-table.js'

/** pid → start time (clock ticks after boot). */
export type ProcessIdentities = Map<number, number>

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  // kill(-0) and kill(-1) mean "our own group" and "everything we may signal".
  if (!Number.isInteger(pgid) || pgid <= 1) return
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: the group is empty. EPERM cannot happen for our own children.
  }
}

/** The leader's descendants now, with their start times (the leader itself excluded). */
export function descendantsOf(leaderPid: number, leaderStartTicks: number): ProcessIdentities {
  const found: ProcessIdentities = new Map()
  const table = readProcTable()
  const leader = table.get(leaderPid)
  if (!leader || leader.startTicks !== leaderStartTicks) return found
  for (const pid of treeOf(leaderPid, childrenByParent(table)).slice(1)) {
    found.set(pid, table.get(pid)!.startTicks)
  }
  return found
}

function isSameProcess(pid: number, startTicks: number): boolean {
  const entry = readProcEntry(pid)
  return entry !== undefined && !entry.zombie && entry.startTicks === startTicks
}

export function killIdentified(processes: ProcessIdentities): void {
  for (const [pid, startTicks] of processes) {
    if (pid <= 1 || pid === process.pid || !isSameProcess(pid, startTicks)) continue
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Exited meanwhile.
    }
  }
}

/**
 * SIGKILL to the group, to the given processes and to every process carrying the tag. Resolves
 * when they are gone (exited, or zombies waiting for a parent that is not us) or after
 * `settleMs`, whichever is first, so that "stopped" means nothing of the tree runs any more.
 */
export async function killEverything(options: {
  pgid: number
  known: ProcessIdentities
  tag: string
  notBeforeTicks: number
  settleMs?: number
}): Promise<void> {
  signalGroup(options.pgid, 'SIGKILL')
  const targets: ProcessIdentities = new Map(options.known)
  killIdentified(targets)
  for (const [pid, startTicks] of await killTagged(options.tag, options.notBeforeTicks)) targets.set(pid, startTicks)
  await waitGone(targets, options.settleMs ?? 2000)
}

/** SIGKILL to every process (but this one) carrying `tag` in its environment; returns whom it signalled. */
export async function killTagged(tag: string, notBeforeTicks: number): Promise<ProcessIdentities> {
  const tagged: ProcessIdentities = new Map()
  for (const pid of await findTaggedProcesses(tag, notBeforeTicks)) {
    if (pid === process.pid) continue
    const entry = readProcEntry(pid)
    if (entry) tagged.set(pid, entry.startTicks)
  }
  killIdentified(tagged)
  return tagged
}

async function waitGone(processes: ProcessIdentities, settleMs: number): Promise<void> {
  const deadline = Date.now() + settleMs
  let alive = [...processes]
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 10))
    alive = alive.filter(([pid, startTicks]) => isSameProcess(pid, startTicks))
  }
}
