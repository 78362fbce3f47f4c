// `stratavore ui`: the web UI's sign-in URL (`<api url>/?token=<token>`, which swaps the token
// for a session cookie) for the token this CLI uses, printed, and opened in a browser where
// there is one, as Jupyter does. Not opening is never a failure: the URL is on stdout.
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { flagValue, type Command } from '../context.js'
import { credentialMissing } from '../credentials.js'
import { printJson } from '../format.js'
import { CliError } from '../io.js'

export const signInUrl = (baseUrl: string, token: string) => `${baseUrl}/?token=${encodeURIComponent(token)}`

/** What opens a file in the user's browser here; null without a display to show it on. */
export const opener = (platform: NodeJS.Platform, env: Record<string, string | undefined>): string | null => {
  if (platform === 'darwin') return 'open'
  if (platform === 'win32') return null
  return env.DISPLAY || env.WAYLAND_DISPLAY ? 'xdg-open' : null
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, ch => `&#${ch.charCodeAt(0)};`)

// The token must not ride on the opener's command line, which every user of the host can read
// (ps, /proc): the browser gets a file only this user can read that redirects to the URL.
// It stays (the browser reads it after we exit): in $XDG_RUNTIME_DIR, emptied at logout, and
// overwritten by the next `stratavore ui`; else in a fresh private temporary directory.
const redirectFile = (env: Record<string, string | undefined>, url: string): string => {
  let dir: string
  if (env.XDG_RUNTIME_DIR) {
    dir = join(env.XDG_RUNTIME_DIR, 'stratavore')
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } else {
    dir = mkdtempSync(join(tmpdir(), 'stratavore-ui-'))
  }
  const path = join(dir, 'open-ui.html')
  const href = escapeHtml(url)
  writeFileSync(path, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=${href}"><title>Stratavore</title></head>
<body><p>Signing in to <a href="${href}">Stratavore</a>…</p></body></html>
`, { mode: 0o600 })
  chmodSync(path, 0o600)
  return path
}

/** Starts the opener and leaves it; resolves whether it started. */
const open = (command: string, file: string, env: Record<string, string | undefined>) => new Promise<boolean>(resolve => {
  const child = spawn(command, [file], { detached: true, stdio: 'ignore', env })
  child.once('spawn', () => { child.unref(); resolve(true) })
  child.once('error', () => resolve(false))
})

export const ui: Command = async c => {
  const { api, io, out } = c
  const credential = api.credential
  if (credential.token === null) throw new CliError(`the web UI needs a token and ${credentialMissing(credential)}`)
  // A URL that cannot sign in is no use: the daemon says first whether it takes the token.
  await api.system.getStatus({})
  const url = signInUrl(api.baseUrl, credential.token)
  if (out.json) printJson(out, { url })
  else {
    out.note(`open this URL to sign in to the web UI (it holds the token from ${credential.from}: keep it to yourself):`)
    out.print(url)
  }
  const command = flagValue(c, 'no-open') ? null : opener(process.platform, io.env)
  if (command === null) return 0
  let file: string
  try {
    file = redirectFile(io.env, url)
  } catch (err) {
    out.note(`not opened in a browser: ${(err as Error).message}`)
    return 0
  }
  out.note(await open(command, file, io.env) ? `opening it in your browser (${command})` : `not opened in a browser: ${command} is not installed`)
  return 0
}
