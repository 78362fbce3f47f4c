// `stratavore doctor [--json]`: one line per check, exit 1 when any fails. The CLI checks what
// it can see from here (its config, reaching the daemon with its token); everything about the
// daemon's host (database, migrations, broker, clock, agent CLIs, file modes, ports, the audit
// log) comes from the daemon, GET /api/v1/doctor (admin), since the CLI may run elsewhere and,
// with the embedded database, cannot open it while the daemon runs.
import type { DoctorCheck } from '../../adapters/doctor/doctor-check.js'
import { daemonDown, networkReason } from '../client.js'
import { stringValue, type Command, type CommandContext } from '../context.js'
import { paint, printJson } from '../format.js'

// The daemon's audit check may walk tens of thousands of rows.
const DOCTOR_TIMEOUT_MS = 90_000

const configCheck = async (c: CommandContext): Promise<DoctorCheck> => {
  const { loadConfig } = await import('../../config.js')
  try {
    const config = loadConfig({ env: c.io.env, readSecretFiles: false, ...(stringValue(c, 'config') !== undefined ? { configPath: stringValue(c, 'config') } : {}) })
    return { name: 'config', status: 'ok', detail: config.configFile ? `${config.configFile} loads` : 'no file: the defaults' }
  } catch (err) {
    return { name: 'config', status: 'fail', detail: (err as Error).message }
  }
}

const daemonChecks = async (c: CommandContext): Promise<DoctorCheck[]> => {
  const { baseUrl, credential } = c.api
  const headers: Record<string, string> = credential.token === null ? {} : { authorization: `Bearer ${credential.token}` }
  let res: Response
  try {
    res = await fetch(`${baseUrl}/api/v1/doctor`, { headers, signal: AbortSignal.timeout(DOCTOR_TIMEOUT_MS) })
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message
    const reason = networkReason(err) ?? ((err as Error).name === 'TimeoutError' ? 'no answer in time' : cause ?? (err as Error).message)
    return [{ name: 'daemon', status: 'fail', detail: daemonDown(baseUrl, reason) }]
  }
  const body = await res.json().catch(() => ({})) as { checks?: DoctorCheck[], detail?: string, code?: string }
  const from = credential.token === null ? 'no token' : `the token from ${credential.from}`
  if (res.status === 401) return [{ name: 'daemon', status: 'fail', detail: `${baseUrl} refused ${from}; pass an admin token with --token or STRATAVORE_TOKEN` }]
  if (res.status === 403) return [{ name: 'daemon', status: 'fail', detail: `${baseUrl}: the doctor needs the admin role, and ${from} lacks it` }]
  if (!res.ok || !Array.isArray(body.checks)) {
    return [{ name: 'daemon', status: 'fail', detail: `${baseUrl} answered ${res.status}${body.detail ? `: ${body.detail}` : ''}` }]
  }
  return [{ name: 'daemon', status: 'ok', detail: `${baseUrl} answers` }, ...body.checks]
}

const COLORS = { ok: 'green', warn: 'yellow', fail: 'red' } as const

export const doctor: Command = async c => {
  const checks = [await configCheck(c), ...await daemonChecks(c)]
  const ok = checks.every(check => check.status !== 'fail')
  if (c.out.json) printJson(c.out, { ok, checks })
  else {
    const width = Math.max(...checks.map(check => check.name.length))
    c.out.print(checks.map(check => `${paint(c.out, COLORS[check.status], check.status.padEnd(4))} ${check.name.padEnd(width)}  ${check.detail}`).join('\n'))
  }
  return ok ? 0 : 1
}
