// What `docker build .` would send, by .dockerignore's rules (moby patternmatcher: later rules
// win, `!` re-includes, a rule matching a parent folder matches everything in it), and whether
// the daemon's import graph stays inside it.
import { builtinModules } from 'node:module'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join, posix } from 'node:path'

interface Rule { pattern: string, negate: boolean, re: RegExp }

const globToRegExp = (pattern: string): RegExp => {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*' && pattern[i + 1] === '*') {
      i++
      if (pattern[i + 1] === '/') { i++; re += '(?:.*/)?' } else re += '.*'
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '[' && pattern.indexOf(']', i) > i) {
      const end = pattern.indexOf(']', i)
      re += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`
      i = end
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

export const parseDockerignore = (text: string): Rule[] => text.split('\n')
  .map(line => line.trim())
  .filter(line => line !== '' && !line.startsWith('#'))
  .map(line => {
    const negate = line.startsWith('!')
    const pattern = posix.normalize(line.slice(negate ? 1 : 0).trim()).replace(/^\/+|\/+$/g, '')
    return { pattern, negate, re: globToRegExp(pattern) }
  })

export const isIgnored = (rules: Rule[], path: string): boolean => {
  const parts = path.split('/')
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
  let ignored = false
  for (const rule of rules) {
    if (prefixes.some(p => rule.re.test(p))) ignored = !rule.negate
  }
  return ignored
}

/** Every file in the build context, relative to root, with '/' separators. */
export const contextFiles = (root: string, rules: Rule[]): string[] => {
  const files: string[] = []
  const couldReinclude = (dir: string) => rules.some(r => r.negate && (r.pattern.startsWith('**') || r.pattern.startsWith(`${dir}/`)))
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir ? `${dir}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        if (!isIgnored(rules, path) || couldReinclude(path)) walk(path)
      } else if (!isIgnored(rules, path)) files.push(path)
    }
  }
  walk('')
  return files.sort()
}

const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)|createRequire\([^)]*\)\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g

const resolveRelative = (root: string, from: string, spec: string): string | null => {
  const base = posix.join(posix.dirname(from), spec)
  const candidates = /\.(m|c)?js$/.test(base)
    ? [base.replace(/\.(m|c)?js$/, '.$1ts'), base]
    : [base, `${base}.ts`, `${base}.js`, `${base}/index.ts`, `${base}/index.js`]
  return candidates.find(c => existsSync(join(root, c)) && !c.endsWith('/')) ?? null
}

export interface ImportGraph { files: string[], packages: Map<string, string>, unresolved: string[] }

/** Follows value imports (not `import type`) from the entry files; packages maps name to first importer. */
export const importGraph = (root: string, entries: string[]): ImportGraph => {
  const seen = new Set<string>()
  const packages = new Map<string, string>()
  const unresolved: string[] = []
  const queue = [...entries]
  while (queue.length > 0) {
    const file = queue.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    if (!/\.(m|c)?[jt]s$/.test(file)) continue
    const source = readFileSync(join(root, file), 'utf8')
    const specs = [
      ...[...source.matchAll(IMPORT)].filter(m => !m[1]).map(m => m[2]!),
      ...[...source.matchAll(DYNAMIC)].map(m => (m[1] ?? m[2] ?? m[3])!),
    ]
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = resolveRelative(root, file, spec)
        if (target) queue.push(target)
        else unresolved.push(`${file}: ${spec}`)
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
        if (!packages.has(name)) packages.set(name, file)
      }
    }
  }
  return { files: [...seen].sort(), packages, unresolved }
}
