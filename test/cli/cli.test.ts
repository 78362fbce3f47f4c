// The stratavore CLI as a subprocess against a real daemon (embedded PGlite, the fake agent):
// every read command with and without --json, project creation and the smart launch from the
// current directory, --detach, runner id prefixes, kill, completion, and the exit codes.
import { spawn } from 'node:child_process'
import { realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/daemon.js'
import { CLI, startCliDaemon } from './helpers.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/

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
    const results = await Promise.all([['runners', 'a', 'b'], ['status', '--bogus'], ['kill'], ['completion', 'tcsh'], ['kill', 'x', '--timeout', 'soon'], ['demo', '--env', 'NOT_SET_HERE']].map(args => d.run(args)))
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
    t.match(projects.find((p: { name: string }) => p.name === 'alpha'), { name: 'alpha', description: 'the first', status: 'PROJECT_STATUS_IDLE', path: realpathSync(dir) })

    const status = await d.run(['status'])
    t.match(status.stdout, /Daemon:\s+✓ healthy/)
    t.match(status.stdout, /Active runners:\s+\d+/)
    t.match(await json(['status']), { daemon: { healthy: true, roles: ['api', 'relay', 'reconciler', 'supervisor'] }, metrics: {} })
  })

  t.test('--config: the API URL from daemon.http_port', async t => {
    const config = join(d.home, 'cli-config.yaml')
    writeFileSync(config, `daemon:\n  http_port: ${new URL(d.url).port}\n`)
    const r = await d.run(['status', '--config', config], { env: { STRATAVORE_API_URL: '' } })
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, new RegExp(`healthy\\s+http://127\\.0\\.0\\.1:${new URL(d.url).port}`))
  })

  t.test('smart launch from the current directory, detached on a non-terminal stdin; ids by prefix; kill', async t => {
    const dir = d.dir('fresh')
    const first = await d.run(['fresh', '--flag=--echo'], { cwd: dir })
    t.equal(first.code, 0, first.stderr)
    t.match(first.stderr, `created project fresh at ${realpathSync(dir)}`)
    const id = first.stdout.trim()
    t.match(id, UUID, 'stdout is the runner id alone')
    t.match((await json(['projects'])).find((p: { name: string }) => p.name === 'fresh'), { path: realpathSync(dir), activeRunners: 1 })

    const second = await d.run(['fresh', '--detach', '--env', 'GREETING=hi', '--god'], { cwd: dir })
    t.equal(second.code, 0, second.stderr)
    t.notMatch(second.stderr, /created project/, 'an existing project is used')
    const other = second.stdout.trim()

    const listed = await json(['runners', 'fresh'])
    t.same(listed.map((r: { id: string }) => r.id).sort(), [id, other].sort())
    t.match(listed.find((r: { id: string }) => r.id === other), { status: 'RUNNER_STATUS_RUNNING', god: true, environment: { GREETING: 'hi' } })
    const table = await d.run(['runners', 'fresh'])
    t.match(table.stdout, /^ID\s+PROJECT\s+AGENT\s+STATUS\s+UPTIME/)
    const shortIds = table.stdout.split('\n').slice(1).filter(Boolean).map(line => line.split(/\s+/)[0]!)
    t.equal(shortIds.length, 2)

    // UUIDv7 ids launched within a minute share their first 8 digits.
    const ambiguous = await d.run(['kill', id.slice(0, 8)])
    t.equal(ambiguous.code, 1)
    t.match(ambiguous.stderr, /ambiguous: it matches \d+ runners/)
    const unknown = await d.run(['kill', 'ffffffff'])
    t.equal(unknown.code, 1)
    t.match(unknown.stderr, /^stratavore: runner not found: ffffffff\n$/)

    const shortOfFirst = shortIds.find(s => id.startsWith(s))!
    const killed = await d.run(['kill', shortOfFirst])
    t.equal(killed.code, 0, killed.stderr)
    t.match(killed.stdout, new RegExp(`runner ${id} terminated`), 'the short id from the table names the runner; SIGTERM ended it')
    const forced = await json(['kill', other.replaceAll('-', '').slice(0, 28), '--force'])
    t.match(forced, { id: other, status: /RUNNER_STATUS_(TERMINATED|FAILED)/, stopForce: true })
    const twice = await d.run(['kill', id])
    t.equal(twice.code, 1)
    t.match(twice.stderr, /already ended/)

    t.match((await d.run(['runners', 'fresh'])).stderr, /no active runners in fresh \(2 finished: --all shows them\)/)
    t.equal((await json(['runners', 'fresh', '--all'])).length, 2)
  })

  t.test('logs: the scrollback, then with --follow live output until the runner ends', async t => {
    const dir = d.dir('chatty')
    const launched = await d.run(['chatty', '--env', 'GREETING=hello', '--flag=--print-env', '--flag=GREETING', '--flag=--echo'], { cwd: dir })
    t.equal(launched.code, 0, launched.stderr)
    const id = launched.stdout.trim()
    const scrollback = await d.run(['logs', id.slice(0, 30)])
    t.equal(scrollback.code, 0, scrollback.stderr)
    t.match(scrollback.stdout, /ENV GREETING=hello[\s\S]*READY/, 'the variable reached the agent; the scrollback ends the command')

    const child = spawn(process.execPath, [CLI, 'logs', id, '--follow'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', b => { out += b })
    child.stderr.on('data', b => { err += b })
    const exited = new Promise<number | null>(resolve => child.once('exit', resolve))
    for (let i = 0; !out.includes('READY') && i < 100; i++) await new Promise(resolve => setTimeout(resolve, 100))
    t.match(out, /READY/, 'following starts with the scrollback')
    t.equal((await d.run(['kill', id, '--force'])).code, 0)
    t.equal(await exited, 0, 'the runner ending ends --follow')
    t.match(err, /runner \S+ (was killed by SIGKILL|exited with code)/)
    const ended = await d.run(['logs', id])
    t.equal(ended.code, 1, 'a finished runner has no terminal to read')
    t.match(ended.stderr, /^stratavore: .+\n$/)
  })

  t.test('sessions, resume, reconcile', async t => {
    t.same(await json(['sessions', 'alpha']), [])
    t.match((await d.run(['sessions', 'alpha'])).stderr, /no sessions in alpha/)
    const missing = await d.run(['sessions', 'nope'])
    t.equal(missing.code, 1)
    t.match(missing.stderr, /^stratavore: project not found: nope\n$/)
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
    t.match(bash.stdout, /attach\|kill\|logs\)/)
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
    t.match((await d.run(['__complete', 'projects'])).stdout, /^alpha$/m)
  })

  t.test('events: the live feed as JSON lines until Ctrl-C', async t => {
    const child = spawn(process.execPath, [CLI, 'events', '--json', '--filter', 'project.created.#'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', b => { out += b })
    const exited = new Promise<number | null>(resolve => child.once('exit', resolve))
    // The feed starts when the stream is open; creating projects until one shows avoids a race.
    for (let i = 0; !out.includes('"project.created"') && i < 100; i++) {
      await d.run(['new', `feed${i}`, '--path', d.dir(`feed${i}`)])
    }
    child.kill('SIGINT')
    t.equal(await exited, 0)
    const first = JSON.parse(out.split('\n')[0]!)
    t.match(first, { routingKey: /^project\.created\.feed\d+$/, event: { type: 'project.created', aggregate_type: 'project' } })
  })
})
