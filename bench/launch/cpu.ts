// Where the CPU went during a measured window, so a slow variant can be told apart as
// "Node-bound" or "Postgres-bound" from the JSON alone:
// - the server thread's event-loop utilization (1.0 = the API thread never waited);
// - this process's CPU (server thread + load worker + libuv) per launch;
// - the CPU of the Postgres backends serving the scratch database per launch, read from
//   /proc/<pid>/stat. Only possible when Postgres runs on this machine (it does in CI);
//   null otherwise.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import postgres from 'postgres'

let ticksPerSecond: number | undefined
const clockTicks = () => {
  if (ticksPerSecond === undefined) {
    try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { ticksPerSecond = 100 }
  }
  return ticksPerSecond
}

/** utime+stime of a Postgres process in ms, or null when it is not a local postgres. */
const processCpuMs = (pid: number): number | null => {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') return null
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields from #3 (state) on
    return (Number(fields[11]) + Number(fields[12])) * 1000 / clockTicks() // #14 utime, #15 stime
  } catch {
    return null
  }
}

interface Mark { at: number, elu: EventLoopUtilization, cpu: NodeJS.CpuUsage, pg: Map<number, number> | null }

export interface WindowCpu {
  server_event_loop_utilization: number
  node_process_cpu_ms_per_launch: number | null
  postgres_cpu_ms_per_launch: number | null
  postgres_backends: number | null
}

/** Samples the CPU counters of one variant; `mark()` at the window's start and end. */
export const cpuMeter = (adminUrl: string, databaseName: string) => {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, idle_timeout: 5 })
  const backendCpu = async (): Promise<Map<number, number> | null> => {
    try {
      const rows = await admin<Array<{ pid: number }>>`select pid from pg_stat_activity where datname = ${databaseName}`
      const out = new Map<number, number>()
      for (const { pid } of rows) {
        const ms = processCpuMs(pid)
        if (ms === null) return null
        out.set(pid, ms)
      }
      return out
    } catch {
      return null
    }
  }
  const mark = async (): Promise<Mark> => {
    const at = performance.now()
    const elu = performance.eventLoopUtilization()
    const cpu = process.cpuUsage()
    return { at, elu, cpu, pg: await backendCpu() }
  }
  return {
    mark,
    summarize (start: Mark, end: Mark, launches: number): WindowCpu {
      const elu = performance.eventLoopUtilization(end.elu, start.elu)
      const cpuMs = ((end.cpu.user - start.cpu.user) + (end.cpu.system - start.cpu.system)) / 1000
      let pgMs: number | null = null
      if (start.pg && end.pg) {
        pgMs = 0
        // A backend that appeared during the window counts from zero; one that left is lost,
        // which the pool (idle_timeout far above the window) makes rare.
        for (const [pid, ms] of end.pg) pgMs += ms - (start.pg.get(pid) ?? 0)
      }
      const per = (ms: number | null) => ms === null || launches === 0 ? null : Number((ms / launches).toFixed(3))
      return {
        server_event_loop_utilization: Number(elu.utilization.toFixed(3)),
        node_process_cpu_ms_per_launch: per(cpuMs),
        postgres_cpu_ms_per_launch: per(pgMs),
        postgres_backends: end.pg?.size ?? null,
      }
    },
    close: () => admin.end({ timeout: 5 }),
  }
}

export type CpuMeter = ReturnType<typeof cpuMeter>
