// The stratavore CLI as a subprocess against a real daemon (embedded PGlite, the fake agent):
// the read commands with and without --json, project creation, --config, completion, and the
// exit codes. Launching, ids by prefix, kill, logs and events are in launch.test.ts.
import { spawn } from 'node:child_process'
import { realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/daemon.js'
import { startCliDaemon } from './helpers.js'

t.test('the daemon down: one line that says how to start it, exit 1', async t => {
  const port = await freePort()
  const { runCli } = await import('./helpers.js')
  const r = await runCli(['status'], { cwd: process.cwd(), env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', STRATAVORE_API_URL: `http://127.0.0.1:${port}` } })
  t.equal(r.code, 1)
  t.equal(r.stderr, `stratavore: cannot reach the daemon at http://127.0.0.1:${port} (connection refused); start it with \`npm start\` or \`stratavored\`, or point --api-url at it\n`)
  t.equal(r.stdout, '')
})

t.test('against a running daemon', async t => {
  const d = await startCliDaemon(t)
  const json = async (args: string[]) => {
    const r = await d.run([...args, '--json'])
    t.equal(r.code, 0, `${args.join(' ')} --json: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  t.test('usage errors exit 2 with a hint; help exits 0', async t => {
    const results = await Promise.all([['runners', 'a', 'b'], ['status', '--bogus'], ['kill'], ['completion', 'tcsh'], ['kill', 'x', '--timeout', 'soon'], ['demo', '--env', 'NOT_SET_HERE', '--create']].map(args => d.run(args)))
    for (const r of results) {
      t.equal(r.code, 2, r.stderr)
      t.match(r.stderr, /^stratavore: .+\n/)
      t.notMatch(r.stderr, /\n\s+at /, 'no stack')
    }
    t.match(results[0]!.stderr, /runners: unexpected argument "b"/)
    t.match(results[1]!.stderr, /Unknown option '--bogus'/)
    const help = await d.run(['--help'])
    t.equal(help.code, 0)
    t.match(help.stdout, /usage: stratavore <project>[\s\S]*Ctrl-\]/)
    t.match(help.stdout, /\n {2}token <action> \[name\|id\]\s+API tokens[\s\S]*\n {2}ui\s+the web UI[\s\S]*--token TOKEN/)
    t.match((await d.run(['help', 'kill'])).stdout, /usage: stratavore kill <runner>[\s\S]*--force/)
  })

  t.test('new, projects and status, as tables and as JSON', async t => {
    const dir = d.dir('alpha')
    const created = await d.run(['new', 'alpha', '--path', dir, '--description', 'the first'])
    t.equal(created.code, 0, created.stderr)
    t.equal(created.stdout, `created project alpha at ${realpathSync(dir)}\n`)
    const again = await d.run(['new', 'alpha', '--path', dir])
    t.equal(again.code, 1, 'a duplicate is a failed request')
    t.match(again.stderr, /^stratavore: .*alpha.*\n$/)

    const table = await d.run(['projects'])
    t.match(table.stdout, /^NAME\s+STATUS\s+RUNNERS\s+SESSIONS\s+TOKENS\s+LAST USED\s+PATH\n/)
    t.match(table.stdout, /alpha\s+idle\s+0\/0\s+0\s+0\s+-\s+\/\S+alpha/)
    t.notOk(table.stdout.includes('\u001b['), 'no color on a pipe')
    const projects = await json(['projects'])
    t.match(projects.find((p: { name: string }) => p.name === 'alpha'), { name: 'alpha', description: 'the first', status: 'idle', path: realpathSync(dir), lastAccessedAt: null, totalTokens: 0 })
    const rest = await (await fetch(`${d.url}/api/v1/projects`, { headers: { authorization: `Bearer ${d.token}` } })).json() as { projects: unknown[] }
    t.same(projects, rest.projects, '--json prints what REST returns, field for field')
    const proto = await d.run(['projects', '--output', 'proto-json'])
    t.equal(proto.code, 0, proto.stderr)
    t.match(JSON.parse(proto.stdout).find((p: { name: string }) => p.name === 'alpha'), { status: 'PROJECT_STATUS_IDLE', totalTokens: '0' }, '--output proto-json: the RPC message as proto3 JSON')
    const wrong = await d.run(['projects', '--output', 'yaml'])
    t.equal(wrong.code, 2)
    t.match(wrong.stderr, /--output must be text, json or proto-json, got "yaml"/)

    const status = await d.run(['status'])
    t.match(status.stdout, /Daemon:\s+✓ healthy/)
    t.match(status.stdout, /Active runners:\s+\d+/)
    t.match(await json(['status']), { daemon: { healthy: true, roles: ['api', 'relay', 'reconciler', 'supervisor'] }, metrics: {} })
  })

  t.test('project quota, archive and rm', async t => {
    t.equal((await d.run(['new', 'gamma', '--path', d.dir('gamma')])).code, 0)
    const quota = await d.run(['project', 'quota', 'gamma', '--max-runners', '3'])
    t.equal(quota.code, 0, quota.stderr)
    t.equal(quota.stdout, 'project gamma: at most 3 runners active at once (0 now)\n')
    t.match(await json(['project', 'quota', 'gamma', '--max-runners', '4']), { name: 'gamma', maxConcurrentRunners: 4 })
    const bad = await Promise.all([['project', 'quota', 'gamma', '--max-runners', 'lots'], ['project', 'quota', 'gamma'], ['project', 'archive', 'gamma', '--yes'], ['project', 'drop', 'gamma'], ['project', 'rm', 'gamma']].map(args => d.run(args)))
    for (const r of bad) t.equal(r.code, 2, r.stderr)
    t.match(bad[0]!.stderr, /--max-runners must be a whole number from 0 to 10000, got lots/)
    t.match(bad[3]!.stderr, /unknown action "drop" \(archive, rm, quota\)/)
    t.match(bad[4]!.stderr, /^stratavore: project rm: deleting gamma deletes its 0 runners and 0 sessions from the history; add --yes to do it\n/)

    const archived = await d.run(['project', 'archive', 'gamma'])
    t.equal(archived.code, 0, archived.stderr)
    t.match(archived.stdout, /^archived project gamma/)
    t.match((await json(['projects'])).find((p: { name: string }) => p.name === 'gamma'), { status: 'archived', archivedAt: String })
    const removed = await d.run(['project', 'rm', 'gamma', '--yes'])
    t.equal(removed.code, 0, removed.stderr)
    t.equal(removed.stdout, 'deleted project gamma\n')
    t.notOk((await json(['projects'])).some((p: { name: string }) => p.name === 'gamma'))
    const gone = await d.run(['project', 'archive', 'gamma'])
    t.equal(gone.code, 1)
    t.match(gone.stderr, /^stratavore: project not found: gamma\n$/)
  })

  t.test('--config: the API URL from daemon.http_port', async t => {
    const config = join(d.home, 'cli-config.yaml')
    writeFileSync(config, `daemon:\n  http_port: ${new URL(d.url).port}\n`)
    const r = await d.run(['status', '--config', config], { env: { STRATAVORE_API_URL: '' } })
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, new RegExp(`healthy\\s+http://127\\.0\\.0\\.1:${new URL(d.url).port}`))
  })

  t.test('sessions, resume, reconcile', async t => {
    t.same(await json(['sessions', 'alpha']), [])
    t.match((await d.run(['sessions', 'alpha'])).stderr, /no sessions in alpha/)
    const missing = await d.run(['sessions', 'nope'])
    t.equal(missing.code, 1)
    t.match(missing.stderr, /^stratavore: project not found: nope\n$/)
    const notFound = await d.run(['sessions', 'export', 'no-such-session', '--output', d.dir('export') + '/t.jsonl'])
    t.equal(notFound.code, 1)
    t.match(notFound.stderr, /^stratavore: session not found: no-such-session\n$/)
    t.equal((await d.run(['sessions', 'alpha', 'beta'])).code, 2, 'two words that are not `export <session>` are a usage error')
    const resume = await d.run(['resume', 'alpha'])
    t.equal(resume.code, 1)
    t.match(resume.stderr, /no resumable sessions in alpha/)
    t.match((await d.run(['reconcile'])).stdout, /^reconciled \d+ runners?\n/)
    t.match(await json(['reconcile']), { reconciledCount: Number, lostRunnerIds: [], failedRunnerIds: [] })
  })

  t.test('completion scripts and the names they complete', async t => {
    const bash = await d.run(['completion', 'bash'])
    t.equal(bash.code, 0)
    t.match(bash.stdout, /complete -F _stratavore stratavore/)
    t.match(bash.stdout, /attach\|kill\|pause\|logs\)/)
    t.match(bash.stdout, /budget\) .*compgen -W "set ls rm"/)
    t.match(bash.stdout, /--role\) COMPREPLY=\(\$\(compgen -W "admin operator viewer"/)
    t.match(bash.stdout, /token\) .*compgen -W "create list revoke"/)
    t.match(bash.stdout, / ui\) COMPREPLY=\(\$\(compgen -W "[^"]*--no-open/)
    const syntax = await new Promise<number | null>(resolve => {
      const sh = spawn('bash', ['-n'], { stdio: ['pipe', 'ignore', 'inherit'] })
      sh.stdin.end(bash.stdout)
      sh.once('exit', resolve)
    })
    t.equal(syntax, 0, 'bash parses the script')
    t.match((await d.run(['completion', 'zsh'])).stdout, /^#compdef stratavore[\s\S]*compdef _stratavore stratavore/)
    const fish = (await d.run(['completion', 'fish'])).stdout
    t.match(fish, /complete -c stratavore -n __fish_use_subcommand -a kill/)
    t.match(fish, /-l force -s f/)
    t.match(fish, /-n '__fish_seen_subcommand_from token' -l role -r -a 'admin operator viewer'/)
    t.match((await d.run(['__complete', 'projects'])).stdout, /^alpha$/m)
  })
})
