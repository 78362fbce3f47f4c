// The load generator. Runs in a worker thread so that its event loop does not queue behind the
// server's (both still share the machine's cores with Postgres, as in CI).
// N closed-loop clients over one keep-alive agent: each sends POST /api/v1/runners, waits for
// the answer, sends the next. Projects go round-robin. A warm-up, then a measured window:
// a request counts in the window when it *completes* inside it. Clients issue nothing after
// the window ends; every request has a timeout, so the run is bounded in time.
import { Agent, request } from 'node:http'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'

export interface LoadParams {
  url: string
  /** Sent with every request (the credential). */
  headers: Record<string, string>
  projects: string[]
  agent: string
  clients: number
  warmupMs: number
  durationMs: number
  requestTimeoutMs: number
}

export interface LoadResult {
  /** Latencies (ms) of the 2xx answers that completed inside the measured window. */
  latencies: Float64Array
  /** Completions (2xx) per second of the measured window. */
  perSecond: number[]
  windowMs: number
  /** Non-2xx answers and transport failures inside the window, keyed by status or error code. */
  errors: Record<string, number>
  warmup: { ok: number, errors: Record<string, number> }
  /** Every 2xx over the whole run (warm-up, window and drain), to check against the database. */
  totalOk: number
  errorSamples: string[]
  /** This thread's event-loop utilization in the window: near 1.0 means the client was the limit. */
  clientEventLoopUtilization: number
}

/** Sent to the parent when the measured window opens and closes, so it can sample CPU. */
export interface PhaseMessage { phase: 'window-start' | 'window-end' }

interface Answer { status: number, body: string }

const run = async (notify: (m: PhaseMessage) => void, { url, headers, projects, agent, clients, warmupMs, durationMs, requestTimeoutMs }: LoadParams): Promise<LoadResult> => {
  const target = new URL('/api/v1/runners', url)
  const keepAlive = new Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients })
  const bodies = projects.map(project => Buffer.from(JSON.stringify({ project, agent })))

  const post = (body: Buffer) => new Promise<Answer>((resolve, reject) => {
    const req = request(target, {
      method: 'POST',
      agent: keepAlive,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': body.length },
    }, res => {
      const status = res.statusCode ?? 0
      const chunks: Buffer[] = []
      // Keep only the bodies of failures; the others are drained and dropped.
      res.on('data', (chunk: Buffer) => { if (status >= 300) chunks.push(chunk) })
      res.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.setTimeout(requestTimeoutMs, () => req.destroy(Object.assign(new Error('request timeout'), { code: 'ETIMEDOUT' })))
    req.on('error', reject)
    req.end(body)
  })

  const start = performance.now()
  const windowStart = start + warmupMs
  const windowEnd = windowStart + durationMs
  const latencies: number[] = []
  const perSecond = new Array<number>(Math.ceil(durationMs / 1000)).fill(0)
  const errors: Record<string, number> = {}
  const warmup = { ok: 0, errors: {} as Record<string, number> }
  const errorSamples: string[] = []
  let totalOk = 0
  let next = 0
  let eluStart: EventLoopUtilization | undefined
  let eluEnd: EventLoopUtilization | undefined
  const opened = setTimeout(() => { eluStart = performance.eventLoopUtilization(); notify({ phase: 'window-start' }) }, warmupMs)
  const closed = setTimeout(() => { eluEnd = performance.eventLoopUtilization(); notify({ phase: 'window-end' }) }, warmupMs + durationMs)

  const client = async () => {
    while (performance.now() < windowEnd) {
      const body = bodies[next++ % bodies.length]!
      const sent = performance.now()
      let key: string | null
      try {
        const answer = await post(body)
        key = answer.status >= 200 && answer.status < 300 ? null : String(answer.status)
        if (key && errorSamples.length < 5) errorSamples.push(`${answer.status} ${answer.body.slice(0, 300)}`)
      } catch (err) {
        key = (err as NodeJS.ErrnoException).code ?? 'ERROR'
        if (errorSamples.length < 5) errorSamples.push(`${key} ${(err as Error).message}`)
      }
      const done = performance.now()
      if (key === null) totalOk++
      if (done < windowStart) {
        if (key === null) warmup.ok++
        else warmup.errors[key] = (warmup.errors[key] ?? 0) + 1
      } else if (done < windowEnd) {
        if (key === null) {
          latencies.push(done - sent)
          const second = Math.floor((done - windowStart) / 1000)
          perSecond[second] = (perSecond[second] ?? 0) + 1
        } else {
          errors[key] = (errors[key] ?? 0) + 1
        }
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: clients }, client))
  } finally {
    keepAlive.destroy()
  }
  // The timers fire at the window's edges unless the event loop was late; make sure both ran.
  await new Promise(resolve => setTimeout(resolve, Math.max(0, windowEnd - performance.now()) + 1))
  clearTimeout(opened)
  clearTimeout(closed)
  const clientElu = eluStart && eluEnd ? performance.eventLoopUtilization(eluEnd, eluStart).utilization : NaN
  return {
    latencies: Float64Array.from(latencies), perSecond, windowMs: durationMs, errors, warmup, totalOk, errorSamples,
    clientEventLoopUtilization: Number(clientElu.toFixed(3)),
  }
}

if (parentPort) {
  const port = parentPort
  run(message => port.postMessage(message), workerData as LoadParams).then(
    result => port.postMessage({ ok: true, result }, [result.latencies.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) }),
  )
}
