// Runners as the CLI finds them: every page of a listing, and an id from a unique prefix
// (with or without the dashes), the way docker and git take short ids.
import type { Runner } from '../gen/stratavore/v1/runner_pb.js'
import type { Api } from './client.js'
import { CliError } from './io.js'

const PAGE = 500
// Enough for any laptop or team history; past it the listing says it stopped.
const MAX_PAGES = 40
const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const listAllRunners = async (api: Api, project?: string): Promise<Runner[]> => {
  const runners: Runner[] = []
  let cursor: string | undefined
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await api.runners.listRunners({ limit: PAGE, ...(project ? { project } : {}), ...(cursor ? { cursor } : {}) })
    runners.push(...res.runners)
    cursor = res.nextCursor
    if (!cursor) break
  }
  return runners
}

const compact = (s: string) => s.toLowerCase().replaceAll('-', '')

/** The one runner whose id starts with `prefix`; NotFound/ambiguity as a CliError naming the candidates. */
export const resolveRunner = async (api: Api, prefix: string): Promise<Runner> => {
  if (FULL_ID.test(prefix)) return (await api.runners.getRunner({ id: prefix })).runner!
  const wanted = compact(prefix)
  if (!/^[0-9a-f]+$/.test(wanted)) throw new CliError(`runner not found: ${prefix} (ids are hexadecimal)`)
  const matches = (await listAllRunners(api)).filter(r => compact(r.id).startsWith(wanted))
  if (matches.length === 1) return matches[0]!
  if (matches.length === 0) throw new CliError(`runner not found: ${prefix}`)
  const shown = matches.slice(0, 5).map(r => r.id).join(', ')
  throw new CliError(`runner id prefix ${prefix} is ambiguous: it matches ${matches.length} runners (${shown}${matches.length > 5 ? ', …' : ''}); give more characters`)
}
