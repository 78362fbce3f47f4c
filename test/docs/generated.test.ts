// The reference pages under docs/ are what their sources make (as openapi.test.ts holds
// openapi/openapi.json to the route schemas), the CLI page is what the CLI really prints, and the
// event catalogue in proto/ lists exactly the types the code writes (and the README's table each
// of its routing keys).
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { renderGeneratedDocs } from '../../scripts/docs/generated-docs.js'
import { EVENTS_PROTO, routingKeys } from '../../scripts/docs/events-reference.js'
import { loadProtoFiles } from '../../scripts/docs/proto-files.js'
import { typeNames } from '../../scripts/docs/proto-markdown.js'
import { COMMANDS } from '../../src/cli/args.js'
import { EVENT_TYPES } from '../../src/core/events/event.js'
import { CLI } from '../cli/helpers.js'

const run = promisify(execFile)
// buf compiles proto/ once for the file.
const protos = loadProtoFiles()
const page = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')

t.test('every generated page is current (run `npm run docs` after changing the CLI help, a route, proto/ or an event)', async t => {
  const pages = await renderGeneratedDocs(protos)
  t.same(Object.keys(pages).sort(), ['docs/api/events.md', 'docs/api/rest.md', 'docs/api/rpc.md', 'docs/user/cli.md'])
  for (const [path, text] of Object.entries(pages)) t.equal(page(path), text, path)
})

t.test('the CLI reference holds what the stratavore command prints for --help, and a section per command', async t => {
  const cli = page('docs/user/cli.md')
  // The page drops trailing blanks on a line, which a terminal does not show either.
  const shown = (text: string) => text.replace(/[ \t]+$/gm, '').replace(/\n+$/, '')
  const env = { PATH: process.env.PATH ?? '', HOME: '/nonexistent' }
  // The real executable, as a user runs it (the page is made through main() in-process).
  const help = await run(process.execPath, [CLI, '--help'], { env })
  t.ok(cli.includes(`$ stratavore --help\n${shown(help.stdout)}\n`), 'stratavore --help')
  const launch = await run(process.execPath, [CLI, 'launch', '--help'], { env })
  t.ok(cli.includes(`$ stratavore launch --help\n${shown(launch.stdout)}\n`), 'stratavore launch --help')
  t.same(COMMANDS.filter(c => !cli.includes(`\n### stratavore ${c.name}\n`)).map(c => c.name), [], 'a section per command of the table')
})

t.test('the event catalogue names every type the code writes, and nothing else', async t => {
  const file = protos.find(f => f.proto.name === EVENTS_PROTO)!
  const { keys } = routingKeys(file, new Set(typeNames(file)))
  t.same([...new Set(keys.map(k => k.type))].sort(), [...EVENT_TYPES].sort())
  t.same(keys.filter(k => k.type !== 'project.archived' && !k.message).map(k => k.key), [], 'every routing key with data names its message')
  const events = page('docs/api/events.md')
  const readme = page('README.md')
  for (const { key } of keys) {
    t.ok(events.includes(`| \`${key}\` |`), `${key} is on the events page`)
    t.ok(readme.includes(`| \`${key}\` |`), `${key} is in the README's Events table`)
  }
})
