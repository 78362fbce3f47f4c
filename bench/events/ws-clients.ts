// WebSocket subscribers for the fan-out benchmark, in a worker thread (their own event loop,
// so a busy writer in the main thread does not delay their reads). Each frame's aggregate_id
// (the key the main thread knows a reference time for) is found without parsing the whole
// frame, and its receipt time is recorded per client, on the absolute clock
// (timeOrigin + now) that the main thread and the raw server also use.
//
// Messages from the main thread: { cmd: 'report', refs: Record<key, absMs> } → the summary
// of those keys; { cmd: 'close' }.
import { parentPort, workerData } from 'node:worker_threads'
import WebSocket from 'ws'

const { url, clients, headers } = workerData as { url: string, clients: number, headers: Record<string, string> }
const now = () => performance.timeOrigin + performance.now()
const receipts = new Map<string, Float64Array>()
const closes: Record<string, number> = {}
let frames = 0
const sockets: WebSocket[] = []

const keyOf = (text: string) => {
  const at = text.indexOf('"aggregate_id":"')
  if (at < 0) return null
  const start = at + 16
  return text.slice(start, text.indexOf('"', start))
}

const open = (index: number) => new Promise<void>((resolve, reject) => {
  const ws = new WebSocket(url, { perMessageDeflate: false, headers })
  sockets[index] = ws
  ws.once('open', () => resolve())
  ws.once('error', reject)
  ws.on('message', data => {
    const t = now()
    frames++
    const key = keyOf(data.toString())
    if (key === null) return
    let row = receipts.get(key)
    if (!row) receipts.set(key, row = new Float64Array(clients).fill(NaN))
    if (Number.isNaN(row[index]!)) row[index] = t
  })
  ws.on('close', code => { closes[code] = (closes[code] ?? 0) + 1 })
})

const percentile = (sorted: Float64Array, p: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]! : NaN

const report = (refs: Record<string, number>) => {
  const keys = Object.keys(refs)
  const latencies = new Float64Array(keys.length * clients)
  let n = 0
  let missing = 0
  let first = Infinity
  let last = -Infinity
  const missingPerClient = new Uint32Array(clients)
  for (const key of keys) {
    const row = receipts.get(key)
    for (let c = 0; c < clients; c++) {
      const t = row?.[c] ?? NaN
      if (Number.isNaN(t)) { missing++; missingPerClient[c]!++; continue }
      latencies[n++] = Math.max(0, t - refs[key]!)
      if (t < first) first = t
      if (t > last) last = t
    }
  }
  const sorted = latencies.subarray(0, n).sort()
  const round = (x: number) => Number.isFinite(x) ? Number(x.toFixed(2)) : null
  return {
    deliveries: n,
    missing,
    clients_missing_any: missingPerClient.filter(m => m > 0).length,
    first_to_last_ms: round(last - first),
    p50_ms: round(percentile(sorted, 50)),
    p90_ms: round(percentile(sorted, 90)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(n ? sorted[n - 1]! : NaN),
    closes: { ...closes },
  }
}

parentPort!.on('message', (message: { cmd: 'report', refs: Record<string, number> } | { cmd: 'close' }) => {
  if (message.cmd === 'report') parentPort!.postMessage({ report: report(message.refs), frames })
  else {
    for (const ws of sockets) ws.terminate()
    parentPort!.close()
  }
})

// Connect in waves of 100, as a fleet of dashboards would, rather than 1,000 handshakes at once.
const main = async () => {
  for (let i = 0; i < clients; i += 100) await Promise.all(Array.from({ length: Math.min(100, clients - i) }, (_, k) => open(i + k)))
  parentPort!.postMessage({ ready: true })
}
main().catch(err => parentPort!.postMessage({ error: String((err as Error)?.message ?? err) }))
