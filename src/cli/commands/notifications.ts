// `stratavore notifications ls [--status dead] [--webhook ID]` and `stratavore notifications
// retry <id>`: the webhook deliveries over REST (GET /api/v1/notifications/deliveries, admin),
// the dead-letter among them, and sending a dead one again.
import { daemonDown, networkReason } from '../client.js'
import { stringValue, type Command, type CommandContext } from '../context.js'
import { paint, printJson, table } from '../format.js'
import { CliError, UsageError } from '../io.js'

const STATUSES = ['pending', 'sending', 'delivered', 'dead']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const COLORS = { pending: 'yellow', sending: 'yellow', delivered: 'green', dead: 'red' } as const

interface Delivery { id: string, webhookId: string, type: string, routingKey: string, status: keyof typeof COLORS, attempts: number, lastError: string | null, createdAt: string }

const request = async (c: CommandContext, method: 'GET' | 'POST', path: string): Promise<Record<string, unknown>> => {
  const { baseUrl, credential } = c.api
  const headers: Record<string, string> = credential.token === null ? {} : { authorization: `Bearer ${credential.token}` }
  let res: Response
  try {
    res = await fetch(`${baseUrl}${path}`, { method, headers, signal: AbortSignal.timeout(30_000) })
  } catch (err) {
    throw new CliError(daemonDown(baseUrl, networkReason(err) ?? (err as Error).message))
  }
  const body = await res.json().catch(() => ({})) as Record<string, unknown>
  if (res.status === 401) throw new CliError(`${baseUrl} refused ${credential.token === null ? 'the request without a token' : `the token from ${credential.from}`}; pass an admin token with --token or STRATAVORE_TOKEN`)
  if (res.status === 403) throw new CliError('notifications need the admin role, and this token lacks it')
  if (!res.ok) throw new CliError(String(body.detail ?? `${baseUrl} answered ${res.status}`))
  return body
}

const ls = async (c: CommandContext) => {
  const status = stringValue(c, 'status')
  if (status !== undefined && !STATUSES.includes(status)) throw new UsageError(`notifications ls: --status must be ${STATUSES.join(', ')}, got ${JSON.stringify(status)}`)
  const query = new URLSearchParams()
  if (status) query.set('status', status)
  const webhook = stringValue(c, 'webhook')
  if (webhook) query.set('webhook', webhook)
  const { deliveries } = await request(c, 'GET', `/api/v1/notifications/deliveries${query.size ? `?${query}` : ''}`) as { deliveries: Delivery[] }
  if (c.out.json) { printJson(c.out, { deliveries }); return 0 }
  if (deliveries.length === 0) { c.out.note(status ? `no ${status} deliveries` : 'no deliveries'); return 0 }
  c.out.print(table(c.out, [{ header: 'ID' }, { header: 'WEBHOOK' }, { header: 'TYPE' }, { header: 'STATUS' }, { header: 'ATTEMPTS' }, { header: 'CREATED' }, { header: 'LAST ERROR' }],
    deliveries.map(d => [d.id, d.webhookId, d.type, paint(c.out, COLORS[d.status], d.status), String(d.attempts), d.createdAt.replace(/\.\d+Z$/, 'Z'), (d.lastError ?? '').slice(0, 60)])))
  return 0
}

const retry = async (c: CommandContext, id: string | undefined) => {
  if (id === undefined || !UUID.test(id)) throw new UsageError('notifications retry: give the delivery id (from notifications ls --status dead)')
  const { delivery } = await request(c, 'POST', `/api/v1/notifications/deliveries/${id}/retry`) as { delivery: Delivery }
  if (c.out.json) { printJson(c.out, { delivery }); return 0 }
  c.out.print(`delivery ${delivery.id} to ${delivery.webhookId} is pending again: it is sent on the next pass`)
  return 0
}

export const notifications: Command = async c => {
  const [action, id] = c.args as [string, string | undefined]
  if (action === 'ls') {
    if (id !== undefined) throw new UsageError(`notifications ls: unexpected argument ${JSON.stringify(id)}`)
    return ls(c)
  }
  if (action === 'retry') return retry(c, id)
  throw new UsageError(`notifications: unknown action ${JSON.stringify(action)}; use ls or retry`)
}
