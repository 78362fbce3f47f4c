// Every relative link of the README and docs/ leads somewhere: the file exists and, for a link
// into a Markdown page, so does the heading it names. Source comments that send readers to a
// docs/ page name one that exists. (Links that leave the repository are not checked.)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const walk = (dir: string, keep: (name: string) => boolean): string[] => readdirSync(dir).flatMap(name => {
  const path = join(dir, name)
  if (name === 'node_modules' || name.startsWith('.')) return []
  return statSync(path).isDirectory() ? walk(path, keep) : keep(name) ? [path] : []
})

/** The text outside fenced code blocks, where links and headings count. */
const prose = (text: string) => text.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '')

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as dashes, repeats numbered. */
const anchors = (text: string): Set<string> => {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const [, heading = ''] of prose(text).matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const base = heading.replace(/<[^>]+>/g, '').toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

const links = (text: string) => [...prose(text).replace(/`[^`\n]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map(m => m[1]!)

const pages = [join(ROOT, 'README.md'), ...walk(join(ROOT, 'docs'), name => name.endsWith('.md'))]

t.test('relative links in the README and docs/ resolve, anchors included', async t => {
  t.ok(pages.length > 5, 'docs/ has pages')
  const broken: string[] = []
  for (const page of pages) {
    const text = readFileSync(page, 'utf8')
    for (const link of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue
      const [path = '', anchor] = link.split('#')
      const target = path === '' ? page : resolve(dirname(page), decodeURIComponent(path))
      const where = `${relative(ROOT, page)}: ${link}`
      if (relative(ROOT, target).startsWith('..')) continue
      if (!existsSync(target)) { broken.push(`${where} (no such file)`); continue }
      if (anchor && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${where} (no such heading)`)
    }
  }
  t.same(broken, [])
})

t.test('docs/ pages named in source comments exist', async t => {
  const sources = ['src', 'workers', 'scripts', 'bin'].flatMap(dir => walk(join(ROOT, dir), name => /\.(ts|mjs|sh)$/.test(name)))
  const missing = sources.flatMap(file => [...readFileSync(file, 'utf8').matchAll(/\bdocs\/[\w./-]+\.md\b/g)]
    .map(m => m[0]).filter(path => !existsSync(join(ROOT, path))).map(path => `${relative(ROOT, file)}: ${path}`))
  t.same(missing, [])
})

t.test('anchors are computed as GitHub does', async t => {
  t.same([...anchors("# A b\n## The live feed's order\n```\n# not a heading\n```\n### GET /api/v1/runners/{id}\n## A b\n")],
    ['a-b', 'the-live-feeds-order', 'get-apiv1runnersid', 'a-b-1'])
})
