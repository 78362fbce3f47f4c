// Checks a directory on this host's file system and returns its realpath, so symlinks and
// `..` segments are resolved before a path is stored, compared with the project roots or used
// as a working directory.
import { realpath, stat } from 'node:fs/promises'
import type { PathResolver } from '../../core/ports.js'

const reasons: Record<string, string> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'is not a directory',
  EACCES: 'is not accessible',
  ELOOP: 'has a symlink loop',
  ENAMETOOLONG: 'is too long',
}

export const fileSystemPaths: PathResolver = {
  async resolveDirectory (path) {
    try {
      const realPath = await realpath(path)
      if (!(await stat(realPath)).isDirectory()) return { ok: false, reason: 'is not a directory' }
      return { ok: true, realPath }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? ''
      return { ok: false, reason: reasons[code] ?? `cannot be read (${code || 'error'})` }
    }
  },

  async realPathOf (path) {
    return realpath(path).catch(() => null)
  },
}
