// (b) supervisor memory per idle runner. The supervisor runs in a child process of its own
// (memory-child.ts), so nothing of this benchmark's process (the other measurements, the
// database on PGlite) is counted. On Postgres the child gets a scratch database made here; on
// PGlite it has its own in-memory database, as the embedded default has, so its figure
// includes the rows the database holds for the runners.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildParams } from './memory-child.js'
import { openBenchDatabase, type Backend } from './rig.js'
import { mib, round } from './stats.js'

interface Usage { rss: number, heap_used: number, heap_total: number, external: number, array_buffers: number }
interface ChildResult { baseline: Usage, loaded: Usage, after_stop: Usage, agents_rss_total: number, live_when_loaded: number, running_after_ms: number }
type ChildMessage = { ok: true, result: ChildResult } | { ok: false, error: string }

const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url))
const REPO = fileURLToPath(new URL('../../', import.meta.url))

const runChild = (params: ChildParams, timeoutMs: number): Promise<ChildResult> => new Promise((resolve, reject) => {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  // Its output is diagnostics only: keep stdout clean for this benchmark's JSON.
  child.stdout!.pipe(process.stderr)
  child.stderr!.pipe(process.stderr)
  let settled = false
  const timer = setTimeout(() => { if (!settled) { settled = true; child.kill('SIGKILL'); reject(new Error(`memory child gave no result in ${timeoutMs} ms`)) } }, timeoutMs)
  child.on('message', (message: ChildMessage) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    if (message.ok) resolve(message.result)
    else reject(new Error(`memory child failed: ${message.error}`))
  })
  child.once('exit', code => {
    clearTimeout(timer)
    if (!settled) { settled = true; reject(new Error(`memory child exited with code ${code} and no result`)) }
  })
  child.send(params)
})

export interface MemoryOptions { backend: Backend, adminUrl: string | null, count: number, warmup: number, heartbeatSeconds: number, projects: number }

export const measureMemory = async ({ backend, adminUrl, count, warmup, heartbeatSeconds, projects }: MemoryOptions) => {
  // On Postgres the scratch database is made and dropped here; the child only connects to it.
  const scratch = backend === 'postgres' ? await openBenchDatabase('postgres', adminUrl) : null
  try {
    const r = await runChild({ url: scratch?.url ?? null, count, warmup, heartbeatSeconds, projects }, 240_000)
    const per = (key: keyof Usage, from: Usage, to: Usage) => (to[key] - from[key]) / count
    const view = (u: Usage) => ({ rss_mib: mib(u.rss), heap_used_mib: mib(u.heap_used), heap_total_mib: mib(u.heap_total), external_mib: mib(u.external), array_buffers_mib: mib(u.array_buffers) })
    return {
      runners: count,
      live_when_loaded: r.live_when_loaded,
      running_after_ms: r.running_after_ms,
      includes_embedded_database: backend === 'pglite',
      baseline: view(r.baseline),
      loaded: view(r.loaded),
      after_stop: view(r.after_stop),
      per_runner_kib: {
        rss: round(per('rss', r.baseline, r.loaded) / 1024),
        heap_used: round(per('heap_used', r.baseline, r.loaded) / 1024),
        external: round(per('external', r.baseline, r.loaded) / 1024),
      },
      retained_after_stop_per_runner_kib: {
        rss: round(per('rss', r.baseline, r.after_stop) / 1024),
        heap_used: round(per('heap_used', r.baseline, r.after_stop) / 1024),
      },
      // Not counted above: the agents are separate processes.
      agents_rss_per_runner_kib: round(r.agents_rss_total / count / 1024),
    }
  } finally {
    await scratch?.close().catch(() => {})
  }
}
