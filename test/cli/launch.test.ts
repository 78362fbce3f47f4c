// Runners through the CLI, as a subprocess against a real daemon (embedded PGlite, the fake
// agent): the smart launch creating a project from the current directory, --detach (and a
// stdin that is not a terminal), --env/--god/--flag reaching the runner, ids by unique and
// ambiguous prefix, kill and --force, logs with and without --follow, and the event feed.
import { spawn } from 'node:child_process'
import { realpathSync } from 'node:fs'
import t from 'tap'
import { CLI, eventually, startCliDaemon } from './helpers.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('runners through the CLI', async t => {
  const d = await startCliDaemon(t)
  /** Runs a command that runs until Ctrl-C (events) until its stdout satisfies `done`, then stops it; resolves with stdout. */
  const watchUntil = async (args: string[], done: (out: string) => boolean) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', b => { out += b })
    child.stderr.on('data', b => { err += b })
    const exited = new Promise<number | null>(resolve => child.once('exit', resolve))
    await eventually(`stratavore ${args.join(' ')} to print what is wanted (stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)})`, async () => done(out) || child.exitCode !== null ? true : undefined, 60_000)
    child.kill('SIGINT')
    t.equal(await exited, 0, `${args.join(' ')}: Ctrl-C ends it with 0`)
    t.notMatch(err, /watching/, 'no watching line when stderr is not a terminal')
    return out
  }
  const json = async (args: string[]) => {
    const r = await d.run([...args, '--json'])
    t.equal(r.code, 0, `${args.join(' ')} --json: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  t.test('a project is created only when asked; a name like a command is refused before any call', async t => {
    const dir = d.dir('surprise')
    const unknown = await d.run(['surprise', '--flag=--echo'], { cwd: dir })
    t.equal(unknown.code, 1)
    t.equal(unknown.stderr, `stratavore: project not found: surprise; create it in ${realpathSync(dir)} with \`stratavore surprise --create\`, or elsewhere with \`stratavore new surprise --path DIR\`\n`)
    const typos = await Promise.all([['stauts'], ['doctr', '--json'], ['kil', 'x'], ['Runners'], ['backups', '--create']].map(args => d.run(args, { cwd: dir })))
    for (const r of typos) {
      t.equal(r.code, 2, r.stderr)
      t.notMatch(r.stderr, /\n\s+at /, 'no stack')
    }
    t.equal(typos[0]!.stderr, 'stratavore: unknown command "stauts": did you mean status? (a project by that name: stratavore launch stauts)\nRun `stratavore --help` for usage.\n')
    t.match(typos[1]!.stderr, /did you mean doctor\?/, 'doctor is a command now; one edit from it is refused')
    t.match(typos[2]!.stderr, /did you mean kill\?/)
    t.match(typos[3]!.stderr, /did you mean runners\?/)
    t.match(typos[4]!.stderr, /"backups" is not a command|did you mean backup/)
    const names = (await json(['projects'])).map((p: { name: string }) => p.name)
    t.same(names.filter((n: string) => ['surprise', 'stauts', 'doctr', 'kil', 'Runners', 'backups'].includes(n)), [], 'nothing was created')
  })

  t.test('smart launch from the current directory, detached on a non-terminal stdin; ids by prefix; kill', async t => {
    const dir = d.dir('fresh')
    const first = await d.run(['fresh', '--create', '--flag=--echo'], { cwd: dir })
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
    t.match(listed.find((r: { id: string }) => r.id === other), { status: 'running', god: true, environment: { GREETING: 'hi' }, generation: Number, exitCode: null })
    const table = await d.run(['runners', 'fresh'])
    t.match(table.stdout, /^ID\s+PROJECT\s+AGENT\s+STATUS\s+ACTIVITY\s+UPTIME/)
    const shortIds = table.stdout.split('\n').slice(1).filter(Boolean).map(line => line.split(/\s+/)[0]!)
    t.equal(shortIds.length, 2)

    // UUIDv7 ids launched close together share their first digits (the 8th flips every 65 s).
    let shared = 8
    while (id.slice(0, shared) !== other.slice(0, shared)) shared--
    const ambiguous = await d.run(['kill', id.slice(0, shared)])
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
    t.match(forced, { id: other, status: /^(terminated|failed)$/, stopForce: true })
    const twice = await d.run(['kill', id])
    t.equal(twice.code, 1)
    t.match(twice.stderr, /already ended/)

    t.match((await d.run(['runners', 'fresh'])).stderr, /no active runners in fresh \(2 finished: --all shows them\)/)
    t.equal((await json(['runners', 'fresh', '--all'])).length, 2)
  })

  t.test('logs: the scrollback, then with --follow live output until the runner ends', async t => {
    const dir = d.dir('chatty')
    const launched = await d.run(['chatty', '--create', '--env', 'GREETING=hello', '--flag=--print-env', '--flag=GREETING', '--flag=--echo'], { cwd: dir })
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
    t.equal(ended.code, 0, ended.stderr)
    t.match(ended.stdout, /ENV GREETING=hello[\s\S]*READY/, 'a finished runner\'s output was kept')
    t.match(ended.stderr, /^runner \S+ terminated: stopped/, 'and how it ended goes to stderr')
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
    t.match(first, { routing_key: /^project\.created\.feed\d+$/, type: 'project.created', aggregate_type: 'project', seq: Number, event_id: UUID })

    // --since replays what happened, one line per event with the event_id that --after takes.
    const name = first.aggregate_id as string
    const replayed = await watchUntil(['events', '--since', '1h', '--filter', 'project.created.#'], out => out.includes(`  ${name}  ${name}  `))
    const line = replayed.split('\n').find(l => l.includes(`  ${name}  ${name}  `))!
    t.match(line, /^\S+Z {2}[0-9a-f-]{36} {2}project\.created\s+feed\d+ {2}feed\d+ {2}\S+/, 'time, event_id, type, project, aggregate, actor')
    const eventId = line.split('  ')[1]!
    t.equal(eventId, first.event_id, 'the id --json gives')
    t.equal((await d.run(['new', 'feedlater', '--path', d.dir('feedlater')])).code, 0)
    const after = await watchUntil(['events', '--after', eventId, '--filter', 'project.created.#', '--json'], out => out.includes('"feedlater"'))
    t.notOk(after.includes(eventId), '--after starts after that event')
    const bad = await Promise.all([['events', '--since', 'soon'], ['events', '--since', '1h', '--after', eventId]].map(args => d.run(args)))
    for (const r of bad) t.equal(r.code, 2, r.stderr)
    t.match(bad[0]!.stderr, /--since must be a duration like 90s, 10m, 2h, 7d or a time/)
  })
})
