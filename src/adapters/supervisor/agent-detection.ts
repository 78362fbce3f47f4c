// Which agent CLIs this host has, for placement: each configured agent's command resolved on
// PATH (or as given, when it has a slash), and its version from `<command> --version` with a
// short timeout. An agent whose command is not there is left out; one whose version cannot be
// read is reported with '' (it is there, its version unknown). Never a shell.
import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { delimiter, isAbsolute, join } from 'node:path'

const VERSION_TIMEOUT_MS = 2000
const VERSION = /\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?/

const executable = async (path: string) => access(path, constants.X_OK).then(() => true, () => false)

/** The command's path, or null when it is not an executable file here. */
export const resolveCommand = async (command: string, pathVariable: string): Promise<string | null> => {
  if (command.includes('/')) return isAbsolute(command) && await executable(command) ? command : null
  for (const dir of pathVariable.split(delimiter)) {
    if (dir && await executable(join(dir, command))) return join(dir, command)
  }
  return null
}

const versionOf = (path: string, env: NodeJS.ProcessEnv) => new Promise<string>(resolve => {
  execFile(path, ['--version'], { timeout: VERSION_TIMEOUT_MS, env, maxBuffer: 64 * 1024, windowsHide: true }, (_err, stdout) => {
    const text = String(stdout ?? '')
    resolve((VERSION.exec(text)?.[0] ?? text.split('\n')[0]!.trim()).slice(0, 128))
  })
})

/** name -> version for every configured agent found on this host. */
export const detectAgents = async (agents: Record<string, { command: string[] }>, options: { env: NodeJS.ProcessEnv, versions: boolean }): Promise<Record<string, string>> => {
  const found = await Promise.all(Object.entries(agents).map(async ([name, agent]) => {
    const path = await resolveCommand(agent.command[0]!, options.env.PATH ?? '')
    if (!path) return null
    // An agent given as `node script.mjs` is versioned by its interpreter: still there, and close enough.
    return [name, options.versions ? await versionOf(path, options.env) : ''] as const
  }))
  return Object.fromEntries(found.filter(f => f !== null))
}
