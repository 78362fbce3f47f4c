// Open pull requests across the configured fleet of repositories, for the Lex WebUI. Results
// are cached for a while; a repository that fails is skipped; when every repository fails and
// a cached answer exists, the stale answer is better than none.
import { errors } from '../errors.js'
import type { Clock } from '../ports.js'

export interface PullRequest {
  repo: string
  number: number
  title: string
  author: string
  createdAt: string
  draft: boolean
  assignees: string[]
  url: string
}

export interface PullRequestSource { listOpen(repo: string): Promise<PullRequest[]> }

export interface FleetSnapshot { prs: PullRequest[], cachedAt: Date }

export const createFleetService = ({ source, repos, cacheSeconds, clock, onRepoError }: {
  source: PullRequestSource | null
  repos: string[]
  cacheSeconds: number
  clock: Clock
  onRepoError: (repo: string, err: unknown) => void
}) => {
  let cache: FleetSnapshot | null = null
  let inFlight: Promise<FleetSnapshot> | null = null

  const fetchAll = async (): Promise<FleetSnapshot> => {
    const results = await Promise.allSettled(repos.map(repo => source!.listOpen(repo)))
    results.forEach((r, i) => { if (r.status === 'rejected') onRepoError(repos[i]!, r.reason) })
    if (results.every(r => r.status === 'rejected') && cache) return cache
    const prs = results.flatMap(r => r.status === 'fulfilled' ? r.value : [])
    cache = { prs, cachedAt: clock.now() }
    return cache
  }

  return {
    configured: () => source !== null && repos.length > 0,

    async openPullRequests ({ refresh }: { refresh: boolean }): Promise<FleetSnapshot> {
      if (!source || repos.length === 0) throw errors.unavailable('no fleet is configured: set github.token and github.fleet_repos')
      const fresh = cache && clock.now().getTime() - cache.cachedAt.getTime() < cacheSeconds * 1000
      if (fresh && !refresh) return cache!
      // Concurrent callers share one round of requests.
      inFlight ??= fetchAll().finally(() => { inFlight = null })
      return inFlight
    },
  }
}

export type FleetService = ReturnType<typeof createFleetService>
