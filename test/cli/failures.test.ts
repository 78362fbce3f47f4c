// A failed runner says why, through the CLI as a user runs it (a real daemon, the fake agent):
// --detach waits and exits 1 with the reason, a failure at start is tried twice and not four
// times, headless runs exit with the agent's code and show its repeated failure once, logs are
// plain text into a pipe (--raw for the bytes) and kept once the runner has ended, the runners
// table says why, and kill says what it sent and when it escalated, for several runners at once.
import t from 'tap'
import { backendName, createScratchDatabase, testDatabaseUrl } from '../helpers/database.js'
import { startCliDaemon } from './helpers.js'

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}/
const fake = (...args: string[]) => args.map(a => `--flag=${a}`)

t.test(`failures through the CLI on ${backendName()}`, async t => {
  // The kept output (bytea) and the reasons are read back on both backends.
  const d = await startCliDaemon(t, { env: testDatabaseUrl() ? { DATABASE_URL: await createScratchDatabase(t) } : {} })
  const dir = d.dir('broken')
  t.equal((await d.run(['new', 'broken', '--path', dir])).code, 0)
  const json = async (args: string[]) => {
    const r = await d.run([...args, '--json'])
    t.equal(r.code, 0, `${args.join(' ')} --json: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  await t.test('--detach: a failure at start exits 1 with the reason; logs keep its output, plain or raw', async t => {
    const launched = await d.run(['broken', '-d', ...fake('--tail', '\x1b[31mError:\x1b[0m Not logged in · Please run /login', '--exit-code', '1')])
    t.equal(launched.code, 1, 'the launch failed')
    const reason = 'exited with code 1 at start: Error: Not logged in · Please run /login (the same failure at start twice; not restarted)'
    t.match(launched.stderr, `failed: ${reason}`)
    const id = UUID.exec(launched.stderr)![0]
    t.match(await json(['runners', 'broken', '--all']), [{ id, status: 'failed', exitCode: 1, restartAttempts: 1, reason }])

    const plain = await d.run(['logs', id])
    t.equal(plain.code, 0, plain.stderr)
    t.equal(plain.stdout, 'READY\nError: Not logged in · Please run /login\n', 'plain text into a pipe: no escapes, said once')
    t.match(plain.stderr, `failed: ${reason}`)
    const raw = await d.run(['logs', id, '--raw'])
    t.match(raw.stdout, '\x1b[31mError:\x1b[0m Not logged in', '--raw: the bytes as written')

    const table = await d.run(['runners', 'broken', '--all'])
    t.match(table.stdout, /REASON/)
    t.match(table.stdout, /exited with code 1 at start: Error: Not logged in/)
  })

  await t.test('--prompt: the agent\'s exit code; its repeated failure is shown once', async t => {
    const run = await d.run(['broken', '--prompt', 'hello', ...fake('--tail', 'no such model', '--exit-code', '2')])
    t.equal(run.code, 2, 'the agent\'s exit code')
    t.equal(run.stdout, 'READY\nno such model\n', 'two lives, one account')
    t.match(run.stderr, /restarted \(attempt 1 of 3\): it exited with code 2 at start: no such model/)
    t.match(run.stderr, /failed: exited with code 2 at start: no such model \(the same failure at start twice; not restarted\)/)
    const ok = await d.run(['broken', '--prompt', 'hello', ...fake('--exit-code', '0')])
    t.equal(ok.code, 0, ok.stderr)
    t.equal(ok.stdout, 'READY\n')
  })

  await t.test('kill: several ids, SIGTERM then SIGKILL after the grace, said as it happens', async t => {
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const launched = await d.run(['broken', '-d', ...fake('--ignore-sigterm')])
      t.equal(launched.code, 0, launched.stderr)
      ids.push(launched.stdout.trim())
    }
    t.match(ids, [UUID, UUID], '--detach waited until each ran, then printed its id')
    const killed = await d.run(['kill', ...ids])
    t.equal(killed.code, 0, killed.stderr)
    for (const id of ids) {
      t.match(killed.stderr, `runner ${id.slice(0, 13)}: SIGTERM sent; SIGKILL in 2s if it has not exited by then`)
      t.match(killed.stderr, `runner ${id.slice(0, 13)}: still running 2s after SIGTERM; SIGKILL sent`)
      t.match(killed.stdout, `runner ${id} terminated (stopped: SIGTERM did not end it; SIGKILL after the 2s grace)`)
    }
  })

  await t.test('kill --project and --all: a yes is needed, --yes gives it', async t => {
    const launched = await d.run(['broken', '-d'])
    t.equal(launched.code, 0, launched.stderr)
    const refused = await d.run(['kill', '--all'])
    t.equal(refused.code, 2)
    t.match(refused.stderr, 'kill: this would stop 1 runner of every project; add --yes to confirm')
    t.equal((await d.run(['kill', launched.stdout.trim(), '--project', 'broken'])).code, 2, 'ids and --project do not go together')
    const stopped = await d.run(['kill', '--project', 'broken', '--yes', '--force'])
    t.equal(stopped.code, 0, stopped.stderr)
    t.match(stopped.stderr, 'SIGKILL sent')
    t.match(stopped.stdout, `runner ${launched.stdout.trim()} terminated (stopped: SIGKILL (forced))`)
  })
})
