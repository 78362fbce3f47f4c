// CPU and memory of each runner's whole process tree, for heartbeats. The old system reported
// the wrapper's own CPU and memory, not the agent's (original-go-system.md §14.2 item 5); an
// agent's work happens in its children (node, git, ripgrep, language servers), so the tree is
// what counts. One call reads /proc once for all roots: the supervisor samples ~1000 runners
// per heartbeat, and a per-runner walk would read the table a thousand times.
//
// Memory is the sum of resident set sizes, so pages shared between the tree's processes count
// more than once; it is an upper bound, good for spotting growth, not for billing.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { childrenByParent, readProcTable, treeOf, type ProcEntry } from './proc-table.js'
import type { ProcessTreeSample } from './types.js'

export interface SystemUnits {
  /** USER_HZ: the unit of the tick counts in /proc/<pid>/stat. */
  clockTicksPerSecond: number
  pageSizeBytes: number
}

let cachedUnits: SystemUnits | undefined

/**
 * Asks getconf once per daemon (no shell; two short execs at first use). Node exposes neither
 * value: os has no sysconf, and deriving them from /proc/self files races with our own
 * allocations. When getconf is missing (a minimal image) the Linux defaults are right on x86-64
 * and arm64: USER_HZ is fixed at 100 in the kernel ABI there, and pages are 4 KiB unless the
 * kernel was built for 16 or 64 KiB pages.
 */
export function systemUnits(): SystemUnits {
  if (cachedUnits) return cachedUnits
  const ask = (name: string, fallback: number): number => {
    try {
      const value = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim())
      return Number.isInteger(value) && value > 0 ? value : fallback
    } catch {
      return fallback
    }
  }
  cachedUnits = { clockTicksPerSecond: ask('CLK_TCK', 100), pageSizeBytes: ask('PAGESIZE', 4096) }
  return cachedUnits
}

export interface ProcessTreeSampler {
  /**
   * One sample per root pid that exists; unknown or exited pids are absent. CPU is the tree's
   * ticks since this root's previous sample over the time between them; on a root's first
   * sample it is the average since the root started. Roots not asked for are forgotten.
   */
  sample(rootPids: number[]): Map<number, ProcessTreeSample>
}

interface Previous {
  startTicks: number
  ticks: number
  atMs: number
}

export interface ProcessTreeSamplerOptions {
  units?: SystemUnits
  /** For tests: the table to read and the clock; default /proc and performance.now(). */
  readTable?: () => Map<number, ProcEntry>
  nowMs?: () => number
  /** Seconds since boot, for a root's first sample; default /proc/uptime. */
  uptimeSeconds?: () => number
}

export function createProcessTreeSampler(options: ProcessTreeSamplerOptions = {}): ProcessTreeSampler {
  const units = options.units ?? systemUnits()
  const readTable = options.readTable ?? readProcTable
  const nowMs = options.nowMs ?? (() => performance.now())
  const uptimeSeconds = options.uptimeSeconds ?? readUptimeSeconds
  let previous = new Map<number, Previous>()

  return {
    sample(rootPids) {
      const result = new Map<number, ProcessTreeSample>()
      const next = new Map<number, Previous>()
      if (rootPids.length === 0) {
        previous = next
        return result
      }
      const table = readTable()
      const children = childrenByParent(table)
      const atMs = nowMs()
      let uptime: number | undefined
      for (const root of rootPids) {
        const rootEntry = table.get(root)
        if (!rootEntry || result.has(root)) continue
        let ticks = 0
        let rssPages = 0
        const tree = treeOf(root, children)
        for (const pid of tree) {
          const entry = table.get(pid)!
          ticks += entry.ticks
          rssPages += entry.rssPages
        }
        const before = previous.get(root)
        let cpuSeconds: number
        let elapsedSeconds: number
        // Same pid and start time: the same process, so the delta means something.
        if (before && before.startTicks === rootEntry.startTicks) {
          // A child that exited but is not reaped yet takes its ticks away until its parent
          // waits for it; a negative delta is that, not negative work.
          cpuSeconds = Math.max(0, ticks - before.ticks) / units.clockTicksPerSecond
          elapsedSeconds = (atMs - before.atMs) / 1000
        } else {
          uptime ??= uptimeSeconds()
          cpuSeconds = ticks / units.clockTicksPerSecond
          elapsedSeconds = uptime - rootEntry.startTicks / units.clockTicksPerSecond
        }
        next.set(root, { startTicks: rootEntry.startTicks, ticks, atMs })
        result.set(root, {
          cpuPercent: elapsedSeconds > 0 ? round2((cpuSeconds / elapsedSeconds) * 100) : 0,
          memoryMb: round2((rssPages * units.pageSizeBytes) / (1024 * 1024)),
          processes: tree.length,
        })
      }
      previous = next
      return result
    },
  }
}

function readUptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
}

function round2(value: number): number {
  return Math.round(value * 100) / 100
}
