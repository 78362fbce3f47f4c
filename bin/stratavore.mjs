#!/usr/bin/env node
// The stratavore CLI. It starts from the compiled bundle in dist/cli (bin/build-cli.mjs: made
// by `npm ci`, and here again when a source changed since), so a command does not pay for
// transpiling TypeScript; through tsx only when no bundle can be made (no esbuild, a
// read-only checkout with stale sources). This file is the one place the CLI touches the
// process: it hands argv, the environment and the streams to main() and exits with its code
// once stdout is flushed (a pipe reader must get every byte).
import module from 'node:module'
import { buildCli, freshEntry } from './build-cli.mjs'

// Node 22.1+ keeps V8's compiled code between runs (a no-op on Node 20): compiling the bundle's
// modules is a good part of what is left of a command's start.
module.enableCompileCache?.()

const load = async () => {
  let entry = freshEntry()
  if (entry === null) {
    try {
      entry = await buildCli()
    } catch {
      const { register } = await import('tsx/esm/api')
      register()
      return import('../src/cli/main.ts')
    }
  }
  return import(entry)
}

const { main } = await load()
const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() })
process.stdout.write('', () => process.exit(code))
