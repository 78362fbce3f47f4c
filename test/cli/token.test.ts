// The CLI's credentials against a real daemon: the admin token found on the daemon's host with
// no flag, --token and STRATAVORE_TOKEN winning over it, the one-line refusals (a wrong, missing
// or revoked token; a role too small, over RPC and over the attach WebSocket), the token
// commands' round trip, and `stratavore ui`'s sign-in URL (and how it is opened).
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startCliDaemon } from './helpers.js'

t.test('credentials and tokens', async t => {
  const d = await startCliDaemon(t)
  const oneLine = (stderr: string) => stderr.split('\n').filter(Boolean).length === 1 && stderr.startsWith('stratavore: ')
  const create = async (name: string, role: string, extra: string[] = []) => {
    const r = await d.run(['token', 'create', name, '--role', role, ...extra])
    t.equal(r.code, 0, r.stderr)
    return { id: /^id:\s+(\S+)$/m.exec(r.stdout)![1]!, secret: /^secret:\s+(\S+)$/m.exec(r.stdout)![1]!, result: r }
  }

  t.test('on the daemon\'s host the CLI finds the admin token with no flag', async t => {
    t.notOk('STRATAVORE_TOKEN' in d.env, 'no token in the environment')
    t.equal(statSync(join(d.dataDir, 'admin.token')).mode & 0o777, 0o600)
    const r = await d.run(['status'])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, /Daemon:\s+✓ healthy/)
  })

  t.test('a wrong token: one line saying it was refused and where it came from, exit 1', async t => {
    const wrong = `stv_${'x'.repeat(43)}`
    const [fromEnv, fromFlag, garbled] = await Promise.all([
      d.run(['status'], { env: { STRATAVORE_TOKEN: wrong } }),
      d.run(['status', '--token', wrong]),
      d.run(['status', '--token', 'has a\nnewline']),
    ])
    for (const [r, from] of [[fromEnv, 'STRATAVORE_TOKEN'], [fromFlag, '--token']] as const) {
      t.equal(r.code, 1)
      t.ok(oneLine(r.stderr), r.stderr)
      t.match(r.stderr, `stratavore: the daemon at ${d.url} refused the token from ${from} (the token is not valid: unknown, expired or revoked); pass a valid one with --token or STRATAVORE_TOKEN`)
      t.notOk(r.stderr.includes(wrong), 'the token is not printed')
      t.equal(r.stdout, '')
    }
    t.equal(garbled.code, 2)
    t.match(garbled.stderr, /^stratavore: --token: not a token/)
    t.notOk(garbled.stderr.includes('newline'), 'not quoted')
  })

  t.test('no token at all: one line saying how to get one', async t => {
    const elsewhere = d.dir('other-data')
    const r = await d.run(['projects'], { env: { STRATAVORE_DATA_DIR: elsewhere } })
    t.equal(r.code, 1)
    t.ok(oneLine(r.stderr), r.stderr)
    t.match(r.stderr, `stratavore: the daemon at ${d.url} needs a token and none was found: pass --token, set STRATAVORE_TOKEN, or run stratavore on the daemon's host (there is no admin token at ${join(elsewhere, 'admin.token')} here)`)
  })

  t.test('create, list, use and revoke a token', async t => {
    const { id, secret, result } = await create('ci-bot', 'operator', ['--ttl', '2h', '--description', 'the CI'])
    t.match(result.stdout, /^name:\s+ci-bot$/m)
    t.match(result.stdout, /^role:\s+operator$/m)
    t.match(result.stdout, /^expires:\s+in 1h5\dm$/m)
    t.match(result.stderr, /shown this once/)

    const [list, json] = await Promise.all([d.run(['token', 'list']), d.run(['token', 'list', '--json'])])
    t.equal(list.code, 0, list.stderr)
    t.match(list.stdout, /^ID\s+NAME\s+ROLE\s+EXPIRES\s+REVOKED\s+CREATED BY\s+CREATED\s+DESCRIPTION\n/)
    t.match(list.stdout, new RegExp(`${id.slice(0, 8)}\\S*\\s+ci-bot\\s+operator\\s+in 1h5\\dm\\s+-\\s+admin\\s+\\d+s ago\\s+the CI`))
    t.notOk(list.stdout.includes(secret), 'the list never shows a secret')
    t.match(JSON.parse(json.stdout), [{ id, name: 'ci-bot', role: 'operator', createdBy: 'admin', description: 'the CI' }])
    t.notOk(json.stdout.includes(secret))

    // STRATAVORE_TOKEN wins over the admin token file; --token wins over STRATAVORE_TOKEN.
    const [asBot, notAdmin, flagFirst] = await Promise.all([
      d.run(['reconcile'], { env: { STRATAVORE_TOKEN: secret } }),
      d.run(['token', 'list'], { env: { STRATAVORE_TOKEN: secret } }),
      d.run(['token', 'list', '--token', d.token], { env: { STRATAVORE_TOKEN: secret } }),
    ])
    t.equal(asBot.code, 0, asBot.stderr)
    t.equal(notAdmin.code, 1)
    t.equal(notAdmin.stderr, 'stratavore: permission denied: this needs the admin role and the token from STRATAVORE_TOKEN has operator; use a token with the admin role (an admin makes one with `stratavore token create <name> --role admin`)\n')
    t.equal(flagFirst.code, 0, '--token first')

    const revoked = await d.run(['token', 'revoke', id.slice(0, 13)])
    t.equal(revoked.code, 0, revoked.stderr)
    t.equal(revoked.stdout, `revoked token ci-bot (${id})\n`)
    const [after, live, all] = await Promise.all([d.run(['status'], { env: { STRATAVORE_TOKEN: secret } }), d.run(['token', 'list']), d.run(['token', 'list', '--all'])])
    t.equal(after.code, 1)
    t.match(after.stderr, /^stratavore: the daemon at \S+ refused the token from STRATAVORE_TOKEN \(the token is not valid: unknown, expired or revoked\)/)
    t.notMatch(live.stdout, /ci-bot/, 'gone from the list')
    t.match(all.stdout, /ci-bot\s+operator\s+in 1h5\dm\s+\d+s ago\s+admin/)
  })

  t.test('token usage errors', async t => {
    const cases: Array<[string[], RegExp]> = [
      [['token', 'create', 'x'], /--role is required/],
      [['token', 'create', 'x', '--role', 'root'], /--role must be admin, operator or viewer/],
      [['token', 'create', 'x', '--role', 'viewer', '--ttl', 'soon'], /--ttl must be a duration/],
      [['token', 'list', '--role', 'viewer'], /token list: --role is not one of its flags/],
      [['token', 'revoke'], /token revoke: missing <id>/],
      [['token', 'rotate'], /token: unknown action "rotate"/],
    ]
    const results = await Promise.all(cases.map(([args]) => d.run(args)))
    cases.forEach(([args, message], i) => {
      t.equal(results[i]!.code, 2, `${args.join(' ')}: ${results[i]!.stderr}`)
      t.match(results[i]!.stderr, message)
    })
    t.match((await d.run(['token', 'revoke', 'ffffffff'])).stderr, /^stratavore: token not found: ffffffff\n$/)
  })

  t.test('a viewer cannot launch, nor type into a runner', async t => {
    const dir = d.dir('guarded')
    const [{ secret }, created] = await Promise.all([create('watcher', 'viewer'), d.run(['new', 'guarded', '--path', dir])])
    t.equal(created.code, 0, created.stderr)
    const launch = await d.run(['guarded', '--detach'], { env: { STRATAVORE_TOKEN: secret } })
    t.equal(launch.code, 1)
    t.equal(launch.stderr, 'stratavore: permission denied: this needs the operator role and the token from STRATAVORE_TOKEN has viewer; use a token with the operator role (an admin makes one with `stratavore token create <name> --role operator`)\n')

    // The attach WebSocket carries the credential too: a viewer asking for the keyboard gets 403.
    const launched = await d.run(['guarded', '--detach', '--flag=--echo'])
    t.equal(launched.code, 0, launched.stderr)
    const id = launched.stdout.trim()
    const attach = await d.run(['attach', id], { env: { STRATAVORE_TOKEN: secret } })
    t.equal(attach.code, 1)
    t.ok(oneLine(attach.stderr), attach.stderr)
    t.match(attach.stderr, /^stratavore: permission denied: this needs the operator role and the token from STRATAVORE_TOKEN has viewer; `stratavore attach --read-only` watches; use a token/)
    t.equal((await d.run(['kill', id, '--force'])).code, 0)
  })

  t.test('ui: the sign-in URL for the CLI\'s token', async t => {
    const r = await d.run(['ui'])
    t.equal(r.code, 0, r.stderr)
    t.equal(r.stdout, `${d.url}/?token=${encodeURIComponent(d.token)}\n`)
    t.match(r.stderr, /open this URL to sign in/)
    t.notMatch(r.stderr, /opening/, 'no display here: nothing opened')
    const res = await fetch(r.stdout.trim(), { redirect: 'manual' })
    t.equal(res.status, 303)
    t.equal(res.headers.get('location'), '/')
    t.match(res.headers.get('set-cookie'), /^stv_session=[^;]+;.*HttpOnly/i)

    const refused = await d.run(['ui'], { env: { STRATAVORE_TOKEN: `stv_${'y'.repeat(43)}` } })
    t.equal(refused.code, 1, 'a token the daemon refuses gives no URL')
    t.equal(refused.stdout, '')
  })

  t.test('ui with a display: the browser gets a private file, the token stays off the command line', { skip: process.platform !== 'linux' && 'xdg-open is the Linux opener' }, async t => {
    const bin = d.dir('fake-bin')
    const runtime = d.dir('runtime')
    chmodSync(runtime, 0o700)
    const argsFile = join(d.home, 'xdg-open.args')
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(argsFile)}\n`, { mode: 0o755 })
    const r = await d.run(['ui'], { env: { DISPLAY: ':0', XDG_RUNTIME_DIR: runtime, PATH: `${bin}:${d.env.PATH}` } })
    t.equal(r.code, 0, r.stderr)
    t.match(r.stderr, /opening it in your browser \(xdg-open\)/)
    const opened = await waitForFile(argsFile)
    t.equal(opened, `${join(runtime, 'stratavore', 'open-ui.html')}\n`)
    t.notOk(opened.includes(d.token))
    const page = opened.trim()
    t.equal(statSync(page).mode & 0o777, 0o600)
    t.match(readFileSync(page, 'utf8'), `url=${d.url}/?token=${encodeURIComponent(d.token)}`)

    mkdirSync(join(d.home, 'empty-bin'))
    const missing = await d.run(['ui'], { env: { DISPLAY: ':0', XDG_RUNTIME_DIR: runtime, PATH: join(d.home, 'empty-bin') } })
    t.equal(missing.code, 0, 'not opening is no failure')
    t.match(missing.stderr, /not opened in a browser: xdg-open is not installed/)
  })
})

// The opener runs detached: the CLI may exit before it has written.
const waitForFile = async (path: string): Promise<string> => {
  for (let i = 0; ; i++) {
    try { return readFileSync(path, 'utf8') } catch (err) { if (i > 200) throw err }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
