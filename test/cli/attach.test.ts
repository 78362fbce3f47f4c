// `stratavore attach` and the smart launch's attach, driven through a real pseudo-terminal:
// scrollback on join, keystrokes to the agent, resize forwarded, Ctrl-] detaching with the
// runner left running, the runner's end ending the session (with the agent's exit code, across
// a restart), and the terminal restored (cooked mode, echo on) whichever way the CLI leaves.
import { spawn as spawnPty, type IPty } from '@lydell/node-pty'
import { realpathSync } from 'node:fs'
import t, { type Test } from 'tap'
import { CLI, eventually, startCliDaemon, type CliDaemon } from './helpers.js'

interface Session { pty: IPty, output(): string, waitFor(pattern: RegExp, what: string): Promise<void>, exited: Promise<number> }

// The CLI runs under sh, which runs `stty -a` once it returns: what that prints is the state
// the CLI left the terminal in.
const openSession = (d: CliDaemon, args: string[], cwd: string): Session => {
  const script = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${args.map(a => JSON.stringify(a)).join(' ')}; echo "CLI-EXIT=$?"; stty -a`
  const pty = spawnPty('/bin/sh', ['-c', script], { name: 'xterm', cols: 100, rows: 30, cwd, env: d.env })
  let output = ''
  pty.onData(data => { output += data })
  const exited = new Promise<number>(resolve => pty.onExit(({ exitCode }) => resolve(exitCode)))
  return {
    pty,
    output: () => output,
    exited,
    waitFor: (pattern, what) => eventually(`${what} (output so far: ${JSON.stringify(output.slice(-600))})`, async () => pattern.test(output) ? true : undefined, 45_000).then(() => {}),
  }
}

const restored = (t: Test, output: string) => {
  const stty = output.slice(output.indexOf('CLI-EXIT='))
  t.match(stty, /(^|\s)icanon(\s|$)/m, 'canonical mode is back')
  t.match(stty, /(^|\s)echo(\s|$)/m, 'echo is back')
  t.notMatch(stty, /-icanon|(^|\s)-echo(\s|$)/m, 'nothing of raw mode is left')
}

t.test('attach through a pseudo-terminal', async t => {
  const d = await startCliDaemon(t)
  const dir = d.dir('echoes')
  t.equal((await d.run(['new', 'echoes', '--path', dir])).code, 0)
  const launched = await d.run(['echoes', '--detach', '--flag=--echo'])
  t.equal(launched.code, 0, launched.stderr)
  const id = launched.stdout.trim()
  const runnerStatus = async () => (JSON.parse((await d.run(['runners', '--all', '--json'])).stdout) as Array<{ id: string, status: string }>).find(r => r.id === id)?.status

  await t.test('types, resizes, detaches with Ctrl-] and leaves the runner running', async t => {
    const s = openSession(d, ['attach', id.slice(0, 18)], dir)
    await s.waitFor(/READY/, 'the scrollback')
    await s.waitFor(/SIZE 100 30/, 'the terminal sized as the attaching one')
    s.pty.write('hi')
    await s.waitFor(/ECHO hi/, 'the keystrokes echoed by the agent')
    s.pty.resize(120, 40)
    await s.waitFor(/SIZE 120 40/, 'the resize forwarded')
    s.pty.write('\x1d')
    await s.waitFor(/CLI-EXIT=0/, 'the CLI exiting 0 on the detach key')
    await s.exited
    t.match(s.output(), /detached from runner/)
    restored(t, s.output())
    t.equal(await runnerStatus(), 'running', 'the runner keeps running')
  })

  await t.test('smart launch attaches to the one active runner; its end ends the session', async t => {
    const s = openSession(d, ['echoes'], dir)
    await s.waitFor(/attaching to runner/, 'the smart launch choosing the active runner')
    await s.waitFor(/READY/, 'the scrollback')
    s.pty.write('again')
    await s.waitFor(/ECHO again/, 'the keystrokes echoed')
    const killed = await d.run(['kill', id, '--force'])
    t.equal(killed.code, 0, killed.stderr)
    t.match(killed.stdout, /terminated|failed/)
    await s.waitFor(/CLI-EXIT=0/, 'the CLI exiting 0 when the runner ends')
    await s.exited
    t.match(s.output(), /runner \S+ (was killed by SIGKILL|exited with code)/)
    restored(t, s.output())
  })

  await t.test('several active runners: a picker on the terminal', async t => {
    const pairDir = d.dir('pair')
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const r = await d.run(['pair', '--detach', '--create', '--flag=--echo'], { cwd: pairDir })
      t.equal(r.code, 0, r.stderr)
      ids.push(r.stdout.trim())
    }
    const s = openSession(d, ['pair'], pairDir)
    await s.waitFor(/pair has 2 active runners:[\s\S]*n\) launch a new runner[\s\S]*choose \[1-2, n\]: /, 'the picker')
    s.pty.write('2\r')
    await s.waitFor(/attached to runner/, 'the attach after the choice')
    s.pty.write('picked')
    await s.waitFor(/ECHO picked/, 'the keystrokes reaching the chosen runner')
    s.pty.write('\x1d')
    await s.waitFor(/CLI-EXIT=0/, 'the detach')
    await s.exited
    restored(t, s.output())
    for (const id of ids) t.equal((await d.run(['kill', id, '--force'])).code, 0)
  })

  await t.test('an agent that fails: the CLI follows its restart and exits with its code', async t => {
    const crashDir = d.dir('crashes')
    // Up a second, then exit 2: a failure at start, restarted once, then failed as the same one.
    const s = openSession(d, ['crashes', '--create', '--flag=--after-ms', '--flag=1000', '--flag=--exit-code', '--flag=2'], crashDir)
    await s.waitFor(/CLI-EXIT=2/, 'the CLI exiting with the agent\'s code')
    await s.exited
    t.match(s.output(), /restarted \(attempt 1 of 3\): it exited with code 2 at start/, 'it followed the restart')
    t.match(s.output(), /runner \S+ failed: exited with code 2 at start: READY \(the same failure at start twice; not restarted\)/)
    restored(t, s.output())
  })

  await t.test('events on a terminal: a watching line first, Ctrl-C ends it with 0', async t => {
    const pty = spawnPty(process.execPath, [CLI, 'events', '--since', '10m', '--filter', 'nothing.*'], { name: 'xterm', cols: 100, rows: 30, cwd: d.home, env: d.env })
    let output = ''
    pty.onData(data => { output += data })
    const exited = new Promise<number>(resolve => pty.onExit(({ exitCode }) => resolve(exitCode)))
    await eventually(`the watching line (output so far: ${JSON.stringify(output)})`, async () => /watching events matching nothing\.\* since \S+Z on http:\/\/\S+ \(Ctrl-C stops\)/.test(output) ? true : undefined, 45_000)
    pty.write('\x03')
    t.equal(await exited, 0)
  })

  await t.test('an unknown project: created only after a yes, the question showing where', async t => {
    const askDir = realpathSync(d.dir('asked'))
    const no = openSession(d, ['asked', '--detach', '--flag=--echo'], askDir)
    await no.waitFor(new RegExp(`project asked does not exist\\. Create it in ${askDir}\\? \\[y/N\\] `), 'the question')
    no.pty.write('\r')
    await no.waitFor(/CLI-EXIT=1/, 'the CLI giving up on Enter (no)')
    t.match(no.output(), /project asked not created/)
    t.notOk((JSON.parse((await d.run(['projects', '--json'])).stdout) as Array<{ name: string }>).some(p => p.name === 'asked'), 'nothing created')

    const yes = openSession(d, ['asked', '--detach', '--flag=--echo'], askDir)
    await yes.waitFor(/\[y\/N\] /, 'the question')
    yes.pty.write('y\r')
    await yes.waitFor(/CLI-EXIT=0/, 'the launch after yes')
    t.match(yes.output(), new RegExp(`created project asked at ${askDir}[\\s\\S]*[0-9a-f]{8}-[0-9a-f]{4}-`))
    const runner = (JSON.parse((await d.run(['runners', 'asked', '--json'])).stdout) as Array<{ id: string, status: string }>)[0]!
    t.equal(runner.status, 'running')
    t.equal((await d.run(['kill', runner.id, '--force'])).code, 0)
  })
})
