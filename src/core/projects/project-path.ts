// The written form a project path must have before the file system is asked about it. Every
// surface (REST, the Lex WebUI route, RPC) creates projects through the project service, so
// this one check covers them all.
//
// A path is refused, not normalised, when it has a `.` or `..` segment: the kernel resolves
// `..` physically (after a symlink, `..` is the parent of the link's target), while a reader,
// a proxy or `path.normalize` resolve it lexically, so `/srv/link/../other` may name a
// different directory from the one it reads as. The client must name the directory itself.
// Empty segments (`//`) are refused too: POSIX leaves a leading `//` implementation-defined,
// and nothing needs them. One trailing slash is accepted: shell completion adds it, it names
// the same directory, and the stored realpath drops it.
import { errors } from '../errors.js'

/** The rule as one phrase, for schema descriptions. */
export const PROJECT_PATH_RULE = 'an absolute path with no ".", ".." or empty ("//") segments; one trailing "/" is allowed'

/** Returns the path when its form is acceptable; throws INVALID_PROJECT_PATH naming the rule it breaks. */
export const checkProjectPathForm = (path: string): string => {
  if (!path.startsWith('/')) throw errors.invalidProjectPath(path, 'must be absolute')
  if (path === '/') return path
  const segments = (path.endsWith('/') ? path.slice(0, -1) : path).split('/').slice(1)
  if (segments.some(s => s === '.' || s === '..')) throw errors.invalidProjectPath(path, 'must not contain "." or ".." segments; name the directory itself')
  if (segments.some(s => s === '')) throw errors.invalidProjectPath(path, 'must not contain empty segments ("//")')
  return path
}
