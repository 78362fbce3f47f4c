#!/usr/bin/env node
// The stratavore CLI's bundle (bin/bundle.mjs): what bin/stratavore.mjs starts from, and what
// bench/cli measures. `node bin/build-cli.mjs` builds it alone.
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cliBundle, ROOT } from './bundle.mjs'

export { ROOT }
export const DIST = cliBundle.dist
export const MANIFEST = cliBundle.manifest
export const buildCli = () => cliBundle.build()
export const freshEntry = () => cliBundle.freshEntry()

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const entry = await buildCli()
  process.stdout.write(`built the CLI: ${relative(ROOT, entry)}\n`)
}
