#!/usr/bin/env node
// Compiles the stratavore CLI (src/cli/main.ts and everything it imports, dependencies
// included) into one ES module bundle with a chunk per lazily imported module, under
// dist/cli/<hash>/, and records in dist/cli/manifest.json which bundle is current and the size
// and mtime of every source it was made from. Starting from it instead of transpiling the
// TypeScript at run time (tsx) is most of what makes a command fast (bench/cli).
//
// `npm ci` runs it (the prepare script); bin/stratavore.mjs runs it again when a source has
// changed since, so a checkout never runs a stale CLI. Bundles are named by their content and
// moved into place whole: two CLIs building at once make the same one, and a CLI still loading
// chunks from an older bundle keeps it (older ones are removed after an hour).
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const DIST = join(ROOT, 'dist', 'cli')
export const MANIFEST = join(DIST, 'manifest.json')
const ENTRY = 'src/cli/main.ts'
// npm rewrites it on every install: a changed dependency makes the bundle stale too.
const INSTALL_STAMP = 'node_modules/.package-lock.json'
const KEEP_OLD_MS = 60 * 60 * 1000

const stamp = path => {
  const s = statSync(join(ROOT, path), { throwIfNoEntry: false })
  return s ? [s.size, s.mtimeMs] : null
}

/** Builds the bundle and makes it current; returns the path of its entry module. */
export const buildCli = async () => {
  const { build } = await import('esbuild')
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: ENTRY },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    metafile: true,
    outdir: DIST,
    chunkNames: 'chunk-[hash]',
    logLevel: 'silent',
    // PGlite finds its WASM and data files next to its own module (restore opens the embedded
    // database): bundled, it would look for them in dist/.
    external: ['@electric-sql/pglite', '@electric-sql/pglite/*'],
    // Bundled CommonJS dependencies (ws, yaml) require Node's built-in modules.
    banner: { js: "import { createRequire as __stratavoreRequire } from 'node:module'; const require = __stratavoreRequire(import.meta.url);" },
  })
  const hash = createHash('sha256')
  for (const file of result.outputFiles) hash.update(relative(DIST, file.path)).update(file.contents)
  const id = hash.digest('hex').slice(0, 16)
  const target = join(DIST, id)
  const temp = join(DIST, `.tmp-${process.pid}-${Date.now()}`)
  for (const file of result.outputFiles) {
    const path = join(temp, relative(DIST, file.path))
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, file.contents)
  }
  try {
    renameSync(temp, target)
  } catch (err) {
    // Another build made the same bundle first.
    if (!['ENOTEMPTY', 'EEXIST'].includes(err.code)) throw err
    rmSync(temp, { recursive: true, force: true })
  }
  const sources = Object.keys(result.metafile.inputs).filter(path => !path.includes('node_modules/'))
  sources.push(INSTALL_STAMP)
  const inputs = Object.fromEntries(sources.map(path => [path, stamp(path)]))
  const manifestTemp = `${MANIFEST}.${process.pid}`
  writeFileSync(manifestTemp, `${JSON.stringify({ entry: `${id}/main.js`, inputs })}\n`)
  renameSync(manifestTemp, MANIFEST)
  pruneOld(id)
  return join(target, 'main.js')
}

/**
 * The current bundle's entry module, or null when there is none or a source it was made from
 * has changed (size or mtime) since: a stat per source, well under a millisecond in all.
 */
export const freshEntry = () => {
  let manifest
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'))
  } catch {
    return null
  }
  for (const [path, was] of Object.entries(manifest.inputs)) {
    const now = stamp(path)
    if (now === null ? was !== null : was === null || now[0] !== was[0] || now[1] !== was[1]) return null
  }
  return join(DIST, manifest.entry)
}

const pruneOld = keep => {
  for (const name of readdirSync(DIST)) {
    if (name === keep || name === 'manifest.json') continue
    const path = join(DIST, name)
    try {
      if (Date.now() - statSync(path).mtimeMs > KEEP_OLD_MS) rmSync(path, { recursive: true, force: true })
    } catch { /* removed by another build meanwhile */ }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const entry = await buildCli()
  process.stdout.write(`built the CLI: ${relative(ROOT, entry)}\n`)
}
