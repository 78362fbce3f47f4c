// The credential the CLI presents: --token, else STRATAVORE_TOKEN, else, when the daemon it
// talks to is on this host, the admin token file that daemon uses (config.adminTokenFile, from
// the same config loading as the API URL: --config, the data dir, STRATAVORE_DATA_DIR,
// security.admin_token_file). So `stratavore <project>` needs no setup where the daemon runs,
// and this host's admin token is never sent to a daemon elsewhere. The token itself appears in
// no message: only where it came from.
import { hostname } from 'node:os'
import type { Config } from '../config.js'
import { UsageError } from './io.js'

export type Credential =
  | { token: string, /** Where it came from: `--token`, `STRATAVORE_TOKEN` or the file. */ from: string }
  | { token: null, /** Why none was found, for the message when the daemon asks for one. */ missing: string }

/** The end of "the daemon needs a token and …": how to give one. */
export const credentialMissing = (c: Extract<Credential, { token: null }>) =>
  `none was found: pass --token, set STRATAVORE_TOKEN, or run stratavore on the daemon's host (${c.missing})`

// Printable ASCII without spaces: anything else cannot go in a header, and the error that would
// say so might quote it.
const checked = (token: string, from: string): Credential => {
  const trimmed = token.trim()
  if (!/^[\x21-\x7e]+$/.test(trimmed)) throw new UsageError(`${from}: not a token (expected printable characters without spaces)`)
  return { token: trimmed, from }
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/

/** Names a daemon on this host answers to: loopback, the host's name, and the config's own names for it. */
const isThisHost = (host: string, config: Config) => {
  if (LOOPBACK.test(host) || host === hostname().toLowerCase()) return true
  const daemonHost = config.daemon.host.toLowerCase()
  const own = [daemonHost.includes(':') && !daemonHost.startsWith('[') ? `[${daemonHost}]` : daemonHost]
  if (config.daemon.public_url) own.push(new URL(config.daemon.public_url).hostname.toLowerCase())
  return own.includes(host)
}

export const resolveCredential = async (
  flags: { token?: string },
  env: Record<string, string | undefined>,
  baseUrl: string,
  config: () => Promise<Config>,
): Promise<Credential> => {
  if (flags.token !== undefined) return checked(flags.token, '--token')
  if (env.STRATAVORE_TOKEN) return checked(env.STRATAVORE_TOKEN, 'STRATAVORE_TOKEN')
  const host = new URL(baseUrl).hostname.toLowerCase()
  const loaded = await config()
  if (!isThisHost(host, loaded)) return { token: null, missing: `this host's admin token goes only to a daemon on this host, not to ${host}` }
  const path = loaded.adminTokenFile
  // Loaded only here, as the config is.
  const { readAdminToken } = await import('../adapters/auth/admin-token.js')
  try {
    const token = readAdminToken(path)
    return token === null ? { token: null, missing: `there is no admin token at ${path} here` } : { token, from: `the admin token file ${path}` }
  } catch (err) {
    // Unreadable (another user's daemon) or not a token: said, never quoted.
    return { token: null, missing: (err as Error).message }
  }
}
