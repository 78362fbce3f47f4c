// Checks before spawning that the program and the working directory exist. Without it the two
// modes fail differently and late: child_process emits an asynchronous ENOENT that does not
// say whether the program or the cwd was missing, and node-pty forks and the child exits 1.
// A synchronous, named error is what the supervisor can turn into a clear launch failure.
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, isAbsolute, join, resolve } from 'node:path'

export class SpawnError extends Error {
  constructor(message: string, readonly code: 'ENOENT' | 'EACCES' | 'EINVAL') {
    super(message)
    this.name = 'SpawnError'
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The absolute path exec would run: names with a slash are relative to cwd, others are looked
 *  up on the child's PATH (execvp's default path when it has none). */
export function resolveExecutable(program: string, cwd: string, env: Record<string, string>): string {
  if (program.includes('/')) {
    const path = isAbsolute(program) ? program : resolve(cwd, program)
    if (isExecutableFile(path)) return path
    throw new SpawnError(`agent program ${path} is not an executable file`, 'ENOENT')
  }
  const searchPath = env.PATH ?? '/bin:/usr/bin'
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue
    const path = join(isAbsolute(dir) ? dir : resolve(cwd, dir), program)
    if (isExecutableFile(path)) return path
  }
  throw new SpawnError(`agent program ${program} is not on the runner's PATH (${searchPath})`, 'ENOENT')
}

export function checkWorkingDirectory(cwd: string): void {
  let isDirectory = false
  try {
    isDirectory = statSync(cwd).isDirectory()
  } catch {
    // Reported below.
  }
  if (!isDirectory) throw new SpawnError(`runner working directory ${cwd} does not exist or is not a directory`, 'ENOENT')
}
