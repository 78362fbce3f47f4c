// `stratavore budget set|ls|rm` and `pause|resume <runner>` against a real daemon: limits with
// suffixes, set twice changes the one budget, ls with its history, rm by scope; bad input is
// one line and exit 2 (usage) or 1 (refused by the daemon); a runner paused and resumed by hand.
import t from 'tap'
import { startCliDaemon, eventually } from './helpers.js'

// A daemon start and some thirty CLI runs: more than the default file timeout on a loaded machine.
t.setTimeout(600_000)

t.test('budgets and pause/resume from the CLI', async t => {
  const d = await startCliDaemon(t)
  const dir = d.dir('demo')
  t.equal((await d.run(['new', 'demo', '--path', dir])).code, 0)

  const made = await d.run(['budget', 'set', '--project', 'demo', '--period', 'day', '--limit', '2M'])
  t.equal(made.code, 0, made.stderr)
  t.match(made.stdout, /created day budget for project demo: 2(\.0)?M tokens/)
  const again = await d.run(['budget', 'set', '--project', 'demo', '--period', 'day', '--limit', '1.5k', '--warn', '50'])
  t.match(again.stdout, /^set day budget for project demo: 1\.5k tokens .*warning at 50%/i)
  const global = await d.run(['budget', 'set', '--period', 'total', '--limit', '1000000'])
  t.match(global.stdout, /created total budget for global/)
  const ls = await d.run(['budget', 'ls', '--history'])
  t.equal(ls.code, 0, ls.stderr)
  t.match(ls.stdout, /project demo\s+day\s+0\s+1\.5k/i)
  t.match(ls.stdout, /global\s+total/)
  t.match(ls.stdout, /no ended periods yet/)
  const json = JSON.parse((await d.run(['budget', 'ls', '--json'])).stdout)
  t.equal(json.budgets.length, 2)

  for (const [args, pattern, code] of [
    [['budget', 'set', '--project', 'demo', '--period', 'day', '--limit=-5'], /--limit must be a whole number/, 2],
    [['budget', 'set', '--period', 'day', '--limit', '999999999T'], /--limit must be a whole number/, 2],
    [['budget', 'set', '--project', 'demo', '--period', 'hourly', '--limit', '5'], /--period must be day, week, month or total, got "hourly"/, 2],
    [['budget', 'set', '--project', 'demo', '--agent', 'fake', '--period', 'day', '--limit', '5'], /give one of --global, --project and --agent/, 2],
    [['budget', 'set', '--project', 'nope', '--period', 'day', '--limit', '5'], /project not found: nope/, 1],
    [['budget', 'set', '--period', 'day', '--limit', '9000T'], /limit_tokens/, 1],
    [['budget', 'grow'], /unknown action "grow"/, 2],
    [['budget', 'rm', '--project', 'demo', '--period', 'week'], /there is no week budget for project demo/, 1],
  ] as const) {
    const r = await d.run([...args])
    t.equal(r.code, code, `${args.join(' ')}: exit ${code}`)
    t.match(r.stderr, pattern)
    t.equal(r.stderr.trim().split('\n')[0]!.startsWith('stratavore: '), true)
  }
  t.equal((await d.run(['budget', 'rm', '--period', 'total'])).code, 0)
  t.equal(JSON.parse((await d.run(['budget', 'ls', '--json'])).stdout).budgets.length, 1, 'nothing else changed')

  const launched = await d.run(['launch', 'demo', '--detach'])
  t.equal(launched.code, 0, launched.stderr)
  const id = /([0-9a-f]{8}-[0-9a-f-]{27})/.exec(launched.stdout)![1]!
  await eventually('the runner to run', async () => /running/.test((await d.run(['runners', 'demo'])).stdout) || undefined, 60_000)
  const paused = await d.run(['pause', id.slice(0, 13)])
  t.equal(paused.code, 0, paused.stderr)
  t.match(paused.stdout, /paused: paused/)
  const runner = async () => JSON.parse((await d.run(['runners', 'demo', '--all', '--json'])).stdout)
  await eventually('the paused runner\'s process to end', async () => {
    const rows = await runner()
    const list = Array.isArray(rows) ? rows : rows.runners
    return list.find((r: { id: string, runtimeId?: string }) => r.id === id && !r.runtimeId) ?? undefined
  }, 30_000)
  const resumed = await d.run(['resume', id.slice(0, 13)])
  t.equal(resumed.code, 0, resumed.stderr)
  t.match(resumed.stdout, /resumed: pending|resumed: starting|resumed: running/)
  const twice = await d.run(['resume', id.slice(0, 13)])
  t.equal(twice.code, 1)
  t.match(twice.stderr, /not paused/)
  t.equal((await d.run(['kill', id.slice(0, 13), '--force'])).code, 0)
  const finished = await d.run(['pause', id.slice(0, 13)])
  t.equal(finished.code, 1)
  t.match(finished.stderr, /only a runner that runs or is about to can be paused/)
})
