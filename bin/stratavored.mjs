#!/usr/bin/env node
// The daemon. It starts from the compiled bundle in dist/daemon (bin/bundle.mjs: made by `npm ci`,
// and here again when a source changed since), so a start does not pay for transpiling the
// TypeScript (about 2.5 CPU-seconds); through tsx only when no bundle can be made (no esbuild,
// a read-only checkout with stale sources), so `npm ci && npm start` needs no build step.
// STRATAVORE_NO_BUNDLE=1 runs the sources through tsx always (a profiler's source maps).
import module from 'node:module'
import { daemonBundle } from './bundle.mjs'

// Node 22.1+ keeps V8's compiled code between runs (a no-op on Node 20).
module.enableCompileCache?.()

const load = async () => {
  if (process.env.STRATAVORE_NO_BUNDLE !== '1') {
    let entry = daemonBundle.freshEntry()
    if (entry === null) {
      try {
        entry = await daemonBundle.build()
      } catch {
        entry = null
      }
    }
    if (entry !== null) return import(entry)
  }
  const { register } = await import('tsx/esm/api')
  register()
  return import('../workers/stratavored.ts')
}

await load()
