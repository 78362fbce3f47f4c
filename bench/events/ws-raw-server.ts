// The raw baseline of the fan-out benchmark: a plain `ws` server in its own process (as the
// daemon is) that sends given frames to every client, with no database, bus, feed or Fastify.
// Driven over IPC by bench/events/ws.ts:
//   { cmd: 'steady', frames, rate }  sends one frame to all clients every 1/rate s
//   { cmd: 'burst', frames }         sends them all as fast as the sockets take them
// and answers { sent: absMs[] } (when each frame's broadcast began) once done.
import { WebSocketServer } from 'ws'

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 * 1024 })
const now = () => performance.timeOrigin + performance.now()

const broadcast = (text: string) => { for (const ws of wss.clients) ws.send(text) }

const steady = async (frames: string[], rate: number) => {
  const sent: number[] = []
  const start = performance.now()
  for (let i = 0; i < frames.length; i++) {
    await new Promise(resolve => setTimeout(resolve, Math.max(0, start + i * 1000 / rate - performance.now())))
    sent.push(now())
    broadcast(frames[i]!)
  }
  return sent
}

const burst = async (frames: string[]) => {
  const sent: number[] = []
  for (const frame of frames) {
    sent.push(now())
    broadcast(frame)
    // Let the sockets flush between frames, as the feed's page loop does between events' I/O.
    await new Promise(resolve => setImmediate(resolve))
  }
  return sent
}

wss.on('listening', () => process.send!({ port: (wss.address() as { port: number }).port }))
process.on('message', (message: { cmd: 'steady', frames: string[], rate: number } | { cmd: 'burst', frames: string[] } | { cmd: 'close' }) => {
  if (message.cmd === 'close') { wss.close(); process.exit(0) }
  const run = message.cmd === 'steady' ? steady(message.frames, message.rate) : burst(message.frames)
  void run.then(sent => process.send!({ sent }))
})
