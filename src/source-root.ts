// The directory of the source tree (where package.json, drizzle/ and src/ are), for the files the
// daemon reads or hands on at run time. Found by walking up from this module, so it is the same
// whether the module runs from src/ through tsx or from a bundle under dist/ (bin/bundle.mjs).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const isRoot = (dir: string) => {
  try {
    return existsSync(join(dir, 'drizzle')) && (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'stratavore'
  } catch {
    return false
  }
}

const find = (): string => {
  const start = dirname(fileURLToPath(import.meta.url))
  for (let dir = start; ; dir = dirname(dir)) {
    if (isRoot(dir)) return dir
    if (dirname(dir) === dir) throw new Error(`stratavore: no source tree above ${start} (package.json named stratavore, with drizzle/)`)
  }
}

let root: string | undefined

/** A file of the source tree, by its path from the root (`drizzle`, `src/adapters/...`). */
export const sourcePath = (path: string) => join(root ??= find(), path)
