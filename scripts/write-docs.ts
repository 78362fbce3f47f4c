// npm run docs: regenerates the reference pages under docs/ from their sources (the CLI's help,
// openapi/openapi.json, proto/, the event catalogue). `--check` writes nothing and exits 1 when a
// page differs from what its sources make; scripts/check-generated.sh runs the writer and fails
// on any diff, as it does for src/gen.
import { readFileSync, writeFileSync } from 'node:fs'
import { renderGeneratedDocs } from './docs/generated-docs.js'

const check = process.argv.includes('--check')
// A source the generator refuses (an event type missing from the catalogue) is one line, no stack.
const pages = await renderGeneratedDocs().catch((err: Error) => {
  process.stderr.write(`docs: ${err.message}\n`)
  process.exit(1)
})
const stale: string[] = []
for (const [path, text] of Object.entries(pages)) {
  const url = new URL(`../${path}`, import.meta.url)
  let current: string | null = null
  try { current = readFileSync(url, 'utf8') } catch { /* a page not written yet */ }
  if (current === text) continue
  stale.push(path)
  if (!check) writeFileSync(url, text)
}
if (check && stale.length > 0) {
  process.stderr.write(`stale generated docs (run \`npm run docs\`): ${stale.join(', ')}\n`)
  process.exit(1)
}
process.stdout.write(stale.length > 0 ? `wrote ${stale.join(', ')}\n` : 'generated docs are current\n')
