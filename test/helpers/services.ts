// Stops and starts the machine's shared RabbitMQ and Postgres for the fault tests (test/faults,
// run alone by `npm run test:faults`, never inside `npm test`). Each stop registers a teardown
// that brings the service back even when the test fails half-way, so one broken test cannot
// leave the machine without a broker or a database.
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { promisify } from 'node:util'
import amqp from 'amqplib'
import postgres from 'postgres'

const run = promisify(execFile)
type TapTest = { teardown(fn: () => unknown): void, comment(...args: unknown[]): void }

const sh = async (file: string, args: string[], timeoutMs = 60_000) => {
  try {
    const { stdout } = await run(file, args, { timeout: timeoutMs })
    return stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`)
  }
}

/** Resolves once `probe` succeeds, or rejects naming `what` after `timeoutMs`. */
const until = async (what: string, probe: () => Promise<unknown>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try { await probe(); return } catch (err) { last = err }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${(last as Error)?.message ?? last}`)
}

export const rabbit = (url: string) => {
  const accepts = async () => {
    const conn = await amqp.connect(url)
    conn.on('error', () => {})
    await conn.close()
  }
  const api = {
    /** Stops the RabbitMQ application (the Erlang node stays up, durable queues are kept). */
    async stop (t: TapTest) {
      t.teardown(() => api.start().catch(err => t.comment(`could not restart RabbitMQ: ${(err as Error).message}`)))
      await sh('rabbitmqctl', ['stop_app'])
    },
    /** Starts it again (a no-op when it runs) and waits until it accepts AMQP connections. */
    async start () {
      await sh('rabbitmqctl', ['start_app'])
      await until(`RabbitMQ at ${url} to accept connections`, accepts, 60_000)
    },
  }
  return api
}

/** The local Debian cluster behind the test URL (there is one: /etc/postgresql/<version>). */
export const pgCluster = () => {
  const versions = readdirSync('/etc/postgresql').filter(v => /^\d+$/.test(v))
  if (versions.length !== 1) throw new Error(`expected one Postgres version in /etc/postgresql, found ${versions.join(', ') || 'none'}`)
  return { version: versions[0]!, name: 'main' }
}

export const pg = (adminUrl: string) => {
  const { version, name } = pgCluster()
  const ctl = (action: string, ...extra: string[]) => sh('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, action, ...extra], 120_000)
  const accepts = async () => {
    const sql = postgres(adminUrl, { max: 1, connect_timeout: 2, onnotice: () => {} })
    try { await sql`select 1` } finally { await sql.end({ timeout: 1 }) }
  }
  const api = {
    /** Fast shutdown: open sessions are terminated, as in a crash of the database host. */
    async stop (t: TapTest) {
      t.teardown(() => api.start().catch(err => t.comment(`could not restart Postgres: ${(err as Error).message}`)))
      await ctl('stop', '-m', 'fast')
    },
    /** Starts it unless it runs, then waits until it answers queries. */
    async start () {
      const status = await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, 'status']).then(() => 'online', () => 'down')
      if (status === 'down') await ctl('start')
      await until(`Postgres at ${new URL(adminUrl).host} to answer`, accepts, 60_000)
    },
    accepts,
  }
  return api
}
