// A WebSocket client of GET /api/v1/runners/{id}/attach that collects what it receives, for
// tests: the text frames parsed, the binary output as one growing string.
import { WebSocket } from 'ws'

export interface AttachClient {
  socket: WebSocket
  frames: Array<Record<string, unknown>>
  output(): string
  closed: Promise<{ code: number, reason: string }>
  /** Resolves when the output (or a text frame) satisfies `test`; rejects after timeoutMs. */
  waitFor(test: (c: AttachClient) => boolean, what: string, timeoutMs?: number): Promise<void>
}

export const openAttach = async (url: string, headers: Record<string, string> = {}): Promise<AttachClient> => {
  const socket = new WebSocket(url, { headers })
  const frames: Array<Record<string, unknown>> = []
  let output = ''
  const closed = new Promise<{ code: number, reason: string }>(resolve => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  const client: AttachClient = {
    socket,
    frames,
    output: () => output,
    closed,
    async waitFor (test, what, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      while (!test(client)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output so far: ${JSON.stringify(output.slice(-500))}, frames: ${JSON.stringify(frames)}`)
        await new Promise(resolve => setTimeout(resolve, 25))
      }
    },
  }
  socket.on('message', (data, isBinary) => {
    if (isBinary) output += Buffer.from(data as Buffer).toString('utf8')
    else frames.push(JSON.parse(data.toString()) as Record<string, unknown>)
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
    socket.once('unexpected-response', (_req, res) => reject(new Error(`attach refused: HTTP ${res.statusCode}`)))
  })
  return client
}
