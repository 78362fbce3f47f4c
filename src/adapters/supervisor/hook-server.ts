// The supervisor's hook channel: where an agent CLI's hooks report what the agent is doing
// (Claude Code's `type: "http"` hooks, Codex's notify script, Gemini CLI's command hooks,
// Stratavore's OpenCode plugin). Loopback only, one URL and one
// secret per runner process: a hook holding one runner's secret cannot report for another, and
// a runner whose process has ended is told so (410). It answers at once, before anything is
// written, so a hook never holds the agent up; the write happens behind (activity-reporter.ts).
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { ActivitySignal } from '../../core/runners/activity.js'
import type { Log } from '../../core/ports.js'
import { bearerToken } from '../system/bearer-token.js'
import { claudeHookSignal, codexNotifySignal, geminiHookSignal, opencodePluginSignal } from '../agents/activity-signals.js'

/** A hook payload larger than this is refused (413): Claude's PostToolUse carries tool output. */
export const HOOK_MAX_BYTES = 1024 * 1024

const PATH = /^\/v1\/runners\/([0-9a-f-]{36})\/hooks\/(claude|codex|gemini|opencode)$/
// Secrets of ended runners, so a late hook gets 410 rather than 401; bounded.
const ENDED_REMEMBERED = 4096

export type HookFlavour = 'claude' | 'codex' | 'gemini' | 'opencode'

export interface HookChannel {
  url: string
  token: string
  close(): void
}

export interface HookServer {
  url: string
  /** A channel for one runner process; its signals go to `deliver` until close(). */
  open(runnerId: string, flavour: HookFlavour, deliver: (signal: ActivitySignal) => void): HookChannel
  close(): Promise<void>
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex')

const SIGNAL_OF: Record<HookFlavour, (payload: Record<string, unknown>) => ActivitySignal | null> = {
  claude: claudeHookSignal,
  codex: codexNotifySignal,
  gemini: geminiHookSignal,
  opencode: opencodePluginSignal,
}
// The field every payload of the flavour has: without it the body is no hook payload.
const REQUIRED_FIELD: Record<HookFlavour, string> = { claude: 'hook_event_name', codex: 'type', gemini: 'hook_event_name', opencode: 'type' }

interface Open { runnerId: string, flavour: HookFlavour, deliver: (signal: ActivitySignal) => void }

export const startHookServer = async ({ host = '127.0.0.1', port = 0, log }: { host?: string, port?: number, log: Log }): Promise<HookServer> => {
  const channels = new Map<string, Open>()
  const ended = new Map<string, string>()

  const answer = (res: ServerResponse, status: number, body: Record<string, unknown>) => {
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(body))
  }

  const readBody = (req: IncomingMessage): Promise<Buffer | 'too_large'> => new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > HOOK_MAX_BYTES) return resolve('too_large')
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > HOOK_MAX_BYTES) { req.removeAllListeners('data'); req.resume(); resolve('too_large') } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const match = PATH.exec(new URL(req.url ?? '/', 'http://hooks').pathname)
    if (!match) return answer(res, 404, { error: 'not found: hooks post to /v1/runners/{id}/hooks/{claude|codex|gemini|opencode}' })
    if (req.method !== 'POST') return answer(res, 405, { error: 'hooks are POSTed' })
    const [, runnerId, flavour] = match as unknown as [string, string, HookFlavour]
    const token = bearerToken(req.headers.authorization)
    if (!token) return answer(res, 401, { error: 'missing the runner\'s hook secret (Authorization: Bearer)' })
    const key = digest(token)
    const channel = channels.get(key)
    if (!channel) {
      const endedRunner = ended.get(key)
      if (endedRunner === runnerId) return answer(res, 410, { error: `runner ${runnerId} has ended here: its hooks change nothing` })
      return answer(res, 401, { error: 'unknown hook secret' })
    }
    if (channel.runnerId !== runnerId) return answer(res, 403, { error: 'this hook secret belongs to another runner' })
    if (channel.flavour !== flavour) return answer(res, 400, { error: `runner ${runnerId} reports through /hooks/${channel.flavour}` })
    const body = await readBody(req)
    if (body === 'too_large') return answer(res, 413, { error: `hook payload larger than ${HOOK_MAX_BYTES} bytes` })
    let payload: unknown
    try { payload = JSON.parse(body.toString('utf8')) } catch { return answer(res, 400, { error: 'hook payload is not JSON' }) }
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return answer(res, 400, { error: 'hook payload must be a JSON object' })
    const required = REQUIRED_FIELD[flavour]
    if (typeof (payload as Record<string, unknown>)[required] !== 'string') return answer(res, 400, { error: `hook payload lacks the string field ${required}` })
    // Answered first: the agent waits on this response, and must never wait on the database.
    const signal = SIGNAL_OF[flavour](payload as Record<string, unknown>)
    answer(res, 200, {})
    if (signal) channel.deliver(signal)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(err => {
      log.debug({ err }, 'hook request failed')
      if (!res.headersSent) answer(res, 400, { error: 'unreadable hook request' })
    })
  })
  // A hook that stalls mid-request holds nothing for long.
  server.requestTimeout = 10_000
  server.headersTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const bound = server.address() as { port: number }
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}`

  return {
    url: base,
    open (runnerId, flavour, deliver) {
      const token = randomBytes(32).toString('base64url')
      const key = digest(token)
      channels.set(key, { runnerId, flavour, deliver })
      return {
        url: `${base}/v1/runners/${runnerId}/hooks/${flavour}`,
        token,
        close () {
          if (!channels.delete(key)) return
          ended.set(key, runnerId)
          if (ended.size > ENDED_REMEMBERED) ended.delete(ended.keys().next().value!)
        },
      }
    },
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
}
