// A runner's shim: a small process of its own that holds the agent's terminal (or pipes), so the
// agent outlives the supervisor that started it (as containerd-shim and conmon do). It is
// started detached (a session of its own), reads its spec from stdin, spawns the agent with
// spawn-agent.ts, keeps the output rings, and serves one supervisor at a time on a Unix socket
// (shim-protocol.ts). A supervisor that dies and comes back reconnects and carries on.
//
// When the agent exits the shim writes the exit (and the output's tail) to its exit file, tells
// the connected supervisor, and waits for COLLECT, at most collectGraceMs; the exit file stays
// until a supervisor has recorded it. A shim whose socket has been removed can no longer be
// found by anyone: it stops its agent and ends. A shim left without a supervisor for longer than
// unattendedStopMs stops its agent too: by then the control plane has handed its runner to
// another node (or failed it), and an agent left running would be that conversation twice.
//
// Bundled by shim-launcher.ts into one module (plain Node, no TypeScript loader), so it starts
// fast and stays small. It must never write to stdout or stderr after it is ready: the reader
// may be gone (stderr goes to a log file).
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { spawnAgentProcess } from '../spawn-agent.js'
import { createScrollback } from '../scrollback.js'
import type { AgentProcess } from '../types.js'
import {
  createFrameReader, FrameType, jsonFrame, offsetOf, OUTPUT_STREAM, outputFrame, SHIM_PROTOCOL_VERSION, STDOUT_STREAM,
  type Hello, type ShimExit, type Welcome,
} from './shim-protocol.js'

export interface ShimSpec {
  runnerId: string
  generation: number
  secret: string
  socketPath: string
  exitPath: string
  argv: string[]
  cwd: string
  env: Record<string, string>
  terminal: boolean
  scrollbackBytes: number
  user?: { uid: number, gid: number }
  collectGraceMs: number
  /** With no supervisor connected this long, the agent is stopped (SIGTERM, SIGKILL after stopGraceMs); 0: never. */
  unattendedStopMs: number
  stopGraceMs: number
  meta: unknown
}

/** What the shim writes when its agent has exited; read by the next supervisor. */
export interface ShimExitRecord { runnerId: string, generation: number, pid: number, startedAt: number, exit: ShimExit, output: string, meta: unknown }

const ORPHAN_CHECK_MS = 5000
const HELLO_TIMEOUT_MS = 5000
const EXIT_OUTPUT_BYTES = 64 * 1024

const readStdin = async () => {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as ShimSpec
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const serve = (spec: ShimSpec, agent: AgentProcess) => {
  const startedAt = Date.now()
  const stdoutRing = createScrollback(spec.scrollbackBytes)
  const outputRing = createScrollback(spec.scrollbackBytes)
  // Bytes each stream has carried since the start: the offset of the next byte.
  const totals: [number, number] = [0, 0]
  let client: Socket | null = null
  let exit: ShimExit | null = null
  let unattendedTimer: NodeJS.Timeout | null = null
  let stoppedUnattended = false

  const send = (frame: Buffer) => { if (client && !client.destroyed) client.write(frame) }
  const output = (chunk: Buffer) => {
    outputRing.append(chunk)
    send(outputFrame(OUTPUT_STREAM, totals[0], chunk))
    totals[0] += chunk.length
  }
  agent.onOutput(output)
  agent.onStdoutLine(line => {
    const bytes = Buffer.from(`${line}\n`)
    stdoutRing.append(bytes)
    send(outputFrame(STDOUT_STREAM, totals[1], bytes))
    totals[1] += bytes.length
  })

  const end = () => {
    server.close()
    try { unlinkSync(spec.socketPath) } catch { /* already gone */ }
    process.exit(0)
  }

  const attended = (yes: boolean) => {
    if (unattendedTimer) clearTimeout(unattendedTimer)
    unattendedTimer = null
    if (yes || spec.unattendedStopMs <= 0 || exit) return
    unattendedTimer = setTimeout(() => {
      stoppedUnattended = true
      console.error(`no supervisor for ${spec.unattendedStopMs / 1000}s: stopping the agent (pid ${agent.pid})`)
      void agent.stop(spec.stopGraceMs)
    }, spec.unattendedStopMs)
  }

  const welcome = (socket: Socket, hello: Hello) => {
    if (client && client !== socket) client.destroy()
    client = socket
    attended(true)
    const size = agent.size()
    const answer: Welcome = { pid: agent.pid, terminal: agent.terminal, cols: size.cols, rows: size.rows, startedAt, meta: spec.meta, exit }
    socket.write(jsonFrame(FrameType.welcome, answer))
    const rings = [outputRing, stdoutRing] as const
    for (const stream of [OUTPUT_STREAM, STDOUT_STREAM] as const) {
      const missed = offsetOf(totals[stream], rings[stream].snapshot(), hello.from[stream] ?? 0)
      if (missed.length > 0) socket.write(outputFrame(stream, totals[stream] - missed.length, missed))
    }
    if (exit) socket.write(jsonFrame(FrameType.exit, exit))
  }

  const server = createServer(socket => {
    let authenticated = false
    const helloTimer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS)
    socket.on('error', () => socket.destroy())
    socket.on('close', () => {
      clearTimeout(helloTimer)
      if (client === socket) { client = null; attended(false) }
    })
    const read = createFrameReader((type, payload) => {
      if (!authenticated) {
        const hello = type === FrameType.hello ? JSON.parse(payload.toString('utf8')) as Hello : null
        if (!hello || hello.version !== SHIM_PROTOCOL_VERSION || hello.runnerId !== spec.runnerId || hello.generation !== spec.generation ||
          typeof hello.secret !== 'string' || !sameSecret(hello.secret, spec.secret)) return socket.destroy()
        authenticated = true
        clearTimeout(helloTimer)
        return welcome(socket, hello)
      }
      if (type === FrameType.input) agent.write(payload)
      else if (type === FrameType.resize) {
        const { cols, rows } = JSON.parse(payload.toString('utf8')) as { cols: number, rows: number }
        agent.resize(cols, rows)
      } else if (type === FrameType.stop) void agent.stop((JSON.parse(payload.toString('utf8')) as { timeoutMs: number }).timeoutMs)
      else if (type === FrameType.collect && exit) end()
    })
    socket.on('data', (chunk: Buffer) => {
      try { read(chunk) } catch { socket.destroy() }
    })
  })
  // Only this user may connect: the socket is 0600 in a 0700 directory.
  process.umask(0o177)
  try { unlinkSync(spec.socketPath) } catch { /* none left over */ }
  server.listen(spec.socketPath)
  // Counted from the start too: a supervisor that died while launching never connects.
  attended(false)

  const orphanCheck = setInterval(() => {
    try { statSync(spec.socketPath) } catch {
      clearInterval(orphanCheck)
      void agent.stop(0).then(end)
    }
  }, ORPHAN_CHECK_MS)

  void agent.exited.then(status => {
    exit = status
    attended(true)
    // Said where the next supervisor and anyone attaching look: the runner's last output.
    if (stoppedUnattended) output(Buffer.from(`\r\n[stratavore] no supervisor for ${spec.unattendedStopMs / 1000}s: the runner's shim stopped this agent\r\n`))
    // The orphan check stays: a shim waiting for a collection nobody can make ends early too.
    const record: ShimExitRecord = {
      runnerId: spec.runnerId, generation: spec.generation, pid: agent.pid, startedAt, exit: status, meta: spec.meta,
      output: outputRing.snapshot().subarray(-EXIT_OUTPUT_BYTES).toString('base64'),
    }
    const temporary = `${spec.exitPath}.${randomBytes(4).toString('hex')}`
    try {
      writeFileSync(temporary, JSON.stringify(record), { mode: 0o600 })
      renameSync(temporary, spec.exitPath)
    } catch (err) {
      console.error(`could not write the exit file: ${(err as Error).message}`)
    }
    send(jsonFrame(FrameType.exit, status))
    setTimeout(end, spec.collectGraceMs)
  })
  return server
}

const main = async () => {
  // A detached shim belongs to no terminal; a supervisor's death must not end it.
  for (const signal of ['SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.on(signal, () => {})
  process.on('uncaughtException', err => { console.error(`shim: ${err.stack ?? err.message}`) })
  const spec = await readStdin()
  let agent: AgentProcess
  try {
    agent = spawnAgentProcess({ argv: spec.argv, cwd: spec.cwd, env: spec.env, terminal: spec.terminal, scrollbackBytes: spec.scrollbackBytes, ...(spec.user ? { user: spec.user } : {}) })
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`)
    process.exit(1)
  }
  const server = serve(spec, agent)
  server.once('listening', () => {
    process.stdout.end(`${JSON.stringify({ pid: agent.pid })}\n`)
  })
  server.once('error', err => {
    process.stdout.write(`${JSON.stringify({ error: `could not listen on ${spec.socketPath}: ${err.message}` })}\n`)
    void agent.stop(0).then(() => process.exit(1))
  })
}

await main()
