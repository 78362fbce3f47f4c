// Prints the test files whose imports reach the database client, one per line. CI runs the
// suite once on PGlite and then only these again on Postgres: a file that never opens a
// database (agent parsers, the pseudo-terminal, the real agent CLIs) gives the same answer on
// both, and running it twice cost minutes. The fault tests have their own pass.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const client = join(root, 'src/adapters/db/client.ts')
const relativeImport = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g

const sourceOf = (specifier, from) => {
  const path = resolve(dirname(from), specifier)
  return [path.replace(/\.js$/, '.ts'), path, `${path}.ts`].find(candidate => candidate.endsWith('.ts') && existsSync(candidate))
}

const seen = new Map()
const reachesClient = file => {
  if (file === client) return true
  if (seen.has(file)) return seen.get(file)
  seen.set(file, false) // an import cycle answers "not through here"
  const imports = [...readFileSync(file, 'utf8').matchAll(relativeImport)].map(m => sourceOf(m[1], file)).filter(Boolean)
  const reaches = imports.some(reachesClient)
  seen.set(file, reaches)
  return reaches
}

const testFiles = dir => readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
  const path = join(dir, entry.name)
  if (entry.isDirectory()) return entry.name === 'faults' ? [] : testFiles(path)
  return entry.name.endsWith('.test.ts') ? [path] : []
})

for (const file of testFiles(join(root, 'test')).sort()) {
  if (reachesClient(file)) console.log(relative(root, file))
}
