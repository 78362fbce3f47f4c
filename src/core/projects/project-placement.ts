// Where a project may live. An agent works in its project directory with the supervisor's
// user (or its run_as user): a project at `/`, at the home directory holding the daemon's data,
// or at the data dir itself would hand the agent the node credential, the audit keys and the
// database files. So a project must lie under one of security.project_roots (default: the
// daemon user's home), must not be `/`, and must neither be, lie inside nor contain a
// protected path (the data dir, the config file, every secret file the config names).
//
// Everything is compared by realpath: a symlink inside a root that points outside it resolves
// outside and is refused. Roots are resolved at each check, so a root that is itself a
// symlink (macOS's /tmp) works, and one that does not exist admits nothing.
import { errors } from '../errors.js'
import type { PathResolver } from '../ports.js'

export interface ProtectedPath { path: string, what: string }

export interface ProjectPlacement {
  /** security.project_roots, absolute. */
  roots: readonly string[]
  protectedPaths: readonly ProtectedPath[]
}

export const isInside = (path: string, root: string) => path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`)

/** Throws PROJECT_PATH_NOT_ALLOWED unless `realPath` (already a realpath) may hold a project. */
export const checkProjectPlacement = async (realPath: string, placement: ProjectPlacement, paths: PathResolver): Promise<void> => {
  if (realPath === '/') throw errors.projectPathNotAllowed(realPath, 'the root directory cannot be a project')
  for (const { path, what } of placement.protectedPaths) {
    // A protected path that does not exist yet is compared as written: it may appear later.
    const real = await paths.realPathOf(path) ?? path
    if (isInside(realPath, real)) throw errors.projectPathNotAllowed(realPath, `it is inside ${what}`)
    if (isInside(real, realPath)) throw errors.projectPathNotAllowed(realPath, `it contains ${what}`)
  }
  const roots = await Promise.all(placement.roots.map(root => paths.realPathOf(root)))
  if (!roots.some(root => root !== null && isInside(realPath, root))) {
    throw errors.projectPathNotAllowed(realPath, `it is outside security.project_roots (${placement.roots.join(', ') || 'none'})`)
  }
}
