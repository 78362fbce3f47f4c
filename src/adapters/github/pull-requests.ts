// GitHub's REST API as a PullRequestSource: open pull requests of one repository.
import { errors } from '../../core/errors.js'
import type { PullRequest, PullRequestSource } from '../../core/fleet/fleet-service.js'

interface GithubPull {
  number: number
  title: string
  user: { login: string } | null
  created_at: string
  draft?: boolean
  assignees?: Array<{ login: string }> | null
  html_url: string
}

export const createGithubPullRequests = ({ apiUrl, token, timeoutMs = 10_000 }: { apiUrl: string, token: string, timeoutMs?: number }): PullRequestSource => ({
  async listOpen (repo) {
    const url = `${apiUrl.replace(/\/$/, '')}/repos/${repo}/pulls?state=open&per_page=100`
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'stratavore' },
      signal: AbortSignal.timeout(timeoutMs),
    })
    if (!res.ok) throw errors.unavailable(`GitHub answered ${res.status} for ${repo}`)
    const pulls = await res.json() as GithubPull[]
    if (!Array.isArray(pulls)) throw errors.unavailable(`GitHub sent an unexpected body for ${repo}`)
    return pulls.map((p): PullRequest => ({
      repo,
      number: p.number,
      title: p.title,
      author: p.user?.login ?? '',
      createdAt: p.created_at,
      draft: p.draft ?? false,
      assignees: (p.assignees ?? []).map(a => a.login),
      url: p.html_url,
    }))
  },
})
