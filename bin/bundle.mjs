#!/usr/bin/env node
// Compiles an entrypoint (and everything of ours it imports) into one ES module bundle with a
// chunk per lazily imported module, under dist/<name>/<hash>/, and records in
// dist/<name>/manifest.json which bundle is current and the size and mtime of every source it
// was made from. Starting from it instead of transpiling the TypeScript at run time (tsx) is
// most of what makes a process start fast (bench/cli); the CLI's bundle also carries its
// dependencies, the daemon's loads them from node_modules.
//
// `npm ci` makes both (the prepare script); bin/stratavore.mjs and bin/stratavored.mjs make
// theirs again when a source has changed since, so a checkout never runs a stale bundle.
// Bundles are named by their content and moved into place whole: two processes building at
// once make the same one, and one still loading chunks from an older bundle keeps it (older
// ones are removed after an hour).
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
// npm rewrites it on every install: a changed dependency makes a bundle stale too.
const INSTALL_STAMP = 'node_modules/.package-lock.json'
const KEEP_OLD_MS = 60 * 60 * 1000

const stamp = path => {
  const s = statSync(join(ROOT, path), { throwIfNoEntry: false })
  return s ? [s.size, s.mtimeMs] : null
}

/** A bundle of `entry` under dist/<name>, built with these esbuild options on top of the common ones. */
export const createBundler = ({ name, entry, options = {} }) => {
  const dist = join(ROOT, 'dist', name)
  const manifest = join(dist, 'manifest.json')

  const pruneOld = keep => {
    for (const entryName of readdirSync(dist)) {
      if (entryName === keep || entryName === 'manifest.json') continue
      const path = join(dist, entryName)
      try {
        if (Date.now() - statSync(path).mtimeMs > KEEP_OLD_MS) rmSync(path, { recursive: true, force: true })
      } catch { /* removed by another build meanwhile */ }
    }
  }

  return {
    dist,
    manifest,
    /** Builds the bundle and makes it current; returns the path of its entry module. */
    async build () {
      const { build } = await import('esbuild')
      const result = await build({
        absWorkingDir: ROOT,
        entryPoints: { main: entry },
        bundle: true,
        splitting: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        write: false,
        metafile: true,
        outdir: dist,
        chunkNames: 'chunk-[hash]',
        logLevel: 'silent',
        ...options,
      })
      const hash = createHash('sha256')
      for (const file of result.outputFiles) hash.update(relative(dist, file.path)).update(file.contents)
      const id = hash.digest('hex').slice(0, 16)
      const target = join(dist, id)
      const temp = join(dist, `.tmp-${process.pid}-${Date.now()}`)
      for (const file of result.outputFiles) {
        const path = join(temp, relative(dist, file.path))
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
      const manifestTemp = `${manifest}.${process.pid}`
      writeFileSync(manifestTemp, `${JSON.stringify({ entry: `${id}/main.js`, inputs })}\n`)
      renameSync(manifestTemp, manifest)
      pruneOld(id)
      return join(target, 'main.js')
    },
    /**
     * The current bundle's entry module, or null when there is none or a source it was made
     * from has changed (size or mtime) since: a stat per source, well under a millisecond in all.
     */
    freshEntry () {
      let current
      try {
        current = JSON.parse(readFileSync(manifest, 'utf8'))
      } catch {
        return null
      }
      for (const [path, was] of Object.entries(current.inputs)) {
        const now = stamp(path)
        if (now === null ? was !== null : was === null || now[0] !== was[0] || now[1] !== was[1]) return null
      }
      return join(dist, current.entry)
    },
  }
}

export const cliBundle = createBundler({
  name: 'cli',
  entry: 'src/cli/main.ts',
  options: {
    // PGlite finds its WASM and data files next to its own module (restore opens the embedded
    // database): bundled, it would look for them in dist/.
    external: ['@electric-sql/pglite', '@electric-sql/pglite/*'],
    // Bundled CommonJS dependencies (ws, yaml) require Node's built-in modules.
    banner: { js: "import { createRequire as __stratavoreRequire } from 'node:module'; const require = __stratavoreRequire(import.meta.url);" },
  },
})

// The daemon's dependencies stay in node_modules (native modules, WASM, files they find next to
// themselves); only our own TypeScript is compiled. Files of the source tree it reads at run
// time are found through src/source-root.ts.
export const daemonBundle = createBundler({ name: 'daemon', entry: 'workers/stratavored.ts', options: { packages: 'external' } })

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, bundle] of [['the CLI', cliBundle], ['the daemon', daemonBundle]]) {
    const entry = await bundle.build()
    process.stdout.write(`built ${name}: ${relative(ROOT, entry)}\n`)
  }
}
