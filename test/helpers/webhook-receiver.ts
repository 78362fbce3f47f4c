// A real HTTP webhook endpoint for the notification tests. It records every request that
// arrives, and counts a notification as received only once it has answered it with a 2xx (a
// request cut before its answer was never taken, as a real receiver would see it). `respond`
// decides the answer of each request: a status, or 'hold' to keep it open until released.
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

type TapTest = { teardown(fn: () => unknown): void }

export interface Arrival { path: string, headers: IncomingMessage['headers'], body: string, key: string }
export type Answer = number | 'hold'

export const startWebhookReceiver = async (t: TapTest) => {
  const arrivals: Arrival[] = []
  const received: Arrival[] = []
  const held: Array<{ arrival: Arrival, answer: (status: number) => void }> = []
  let respond: (arrival: Arrival, attempt: number) => Answer = () => 200
  const attempts = new Map<string, number>()

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c as Buffer))
    req.on('end', () => {
      const arrival: Arrival = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), key: String(req.headers['idempotency-key'] ?? '') }
      arrivals.push(arrival)
      const attempt = (attempts.get(`${arrival.path} ${arrival.key}`) ?? 0) + 1
      attempts.set(`${arrival.path} ${arrival.key}`, attempt)
      const answer = (status: number) => {
        if (res.destroyed) return
        res.statusCode = status
        res.end(status < 300 ? 'ok' : 'no', () => { if (status >= 200 && status < 300) received.push(arrival) })
      }
      const decided = respond(arrival, attempt)
      if (decided === 'hold') held.push({ arrival, answer })
      else answer(decided)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  const { port } = server.address() as AddressInfo
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    arrivals,
    received,
    held,
    /** Received at `path`, by Idempotency-Key. */
    receivedAt: (path: string) => received.filter(a => a.path === path),
    setRespond (fn: (arrival: Arrival, attempt: number) => Answer) { respond = fn },
    /** Answers every held request with `status`. */
    release (status = 200) { for (const h of held.splice(0)) h.answer(status) },
  }
}

/** Resolves once `check` holds, or rejects naming what never happened. */
export const eventually = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}
