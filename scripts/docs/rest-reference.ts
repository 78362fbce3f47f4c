// docs/api/rest.md from openapi/openapi.json (what GET /openapi.json serves, generated from the
// route schemas by `npm run openapi`): every operation by tag with the least role it needs
// (src/api/access-policy.ts), its parameters, body and responses, then the named schemas.
import { ROUTE_ACCESS } from '../../src/api/access-policy.js'
import { cell, escapeMarkdown, generatedHeader } from './markdown.js'

export const OPENAPI_FILE = 'openapi/openapi.json'

type Schema = {
  $ref?: string, type?: string | string[], description?: string, enum?: unknown[], anyOf?: Schema[], oneOf?: Schema[],
  items?: Schema, properties?: Record<string, Schema>, required?: string[], additionalProperties?: boolean | Schema,
  pattern?: string, format?: string, minimum?: number, maximum?: number, minLength?: number, maxLength?: number,
  minItems?: number, maxItems?: number, maxProperties?: number, default?: unknown, const?: unknown,
}
type Parameter = { in: string, name: string, required?: boolean, description?: string, schema?: Schema }
type Response = { description?: string, headers?: Record<string, { description?: string }>, content?: Record<string, { schema?: Schema }> }
type Operation = {
  summary?: string, description?: string, tags?: string[], parameters?: Parameter[],
  requestBody?: { required?: boolean, content?: Record<string, { schema?: Schema }> }, responses?: Record<string, Response>,
}
export type OpenApiDocument = {
  info: { title: string, version: string, description?: string }
  tags?: Array<{ name: string, description?: string }>
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, Schema> }
}

/** GitHub's anchor for a heading. */
export const slug = (heading: string) => `#${heading.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')}`

const refName = (ref: string) => ref.replace('#/components/schemas/', '')

/** A schema's type in a few words: `string`, `"new" \| "resume"`, ``array of [`Runner`](#runner)``. */
export const typeOf = (s: Schema): string => {
  if (s.$ref) return `[\`${refName(s.$ref)}\`](${slug(refName(s.$ref))})`
  const choices = s.anyOf ?? s.oneOf
  if (choices) {
    const literals = choices.flatMap(c => c.enum ?? (c.const !== undefined ? [c.const] : []))
    if (literals.length === choices.length) return literals.map(v => `\`${JSON.stringify(v)}\``).join(' or ')
    return choices.map(typeOf).join(' or ')
  }
  if (s.enum) return s.enum.map(v => `\`${JSON.stringify(v)}\``).join(' or ')
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : []
  const one = (t: string) => {
    if (t === 'array') return `array of ${s.items ? typeOf(s.items) : 'any'}`
    if (t === 'object' && !s.properties && typeof s.additionalProperties === 'object') return `map of string to ${typeOf(s.additionalProperties)}`
    if (s.format) return `\`${t}\` (${s.format})`
    return `\`${t}\``
  }
  return types.length ? types.map(one).join(' or ') : 'any'
}

/** The limits a schema sets, as words. */
const constraints = (s: Schema): string[] => {
  const out: string[] = []
  if (s.pattern) out.push(`pattern \`${s.pattern}\``)
  if (s.minimum !== undefined || s.maximum !== undefined) out.push(`${s.minimum ?? '…'} to ${s.maximum ?? '…'}`)
  if (s.minLength !== undefined) out.push(`at least ${s.minLength} characters`)
  if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`)
  if (s.minItems !== undefined) out.push(`at least ${s.minItems} items`)
  if (s.maxItems !== undefined) out.push(`at most ${s.maxItems} items`)
  if (s.maxProperties !== undefined) out.push(`at most ${s.maxProperties} entries`)
  if (s.default !== undefined) out.push(`default \`${JSON.stringify(s.default)}\``)
  return out
}

const notes = (s: Schema) => cell([s.description, ...constraints(s)].filter(Boolean).join('; '))

/** One row per property, nested objects (and arrays of them) flattened as `a.b` and `a[].b`. */
const propertyRows = (s: Schema, prefix = '', depth = 0): string[] => {
  const required = new Set(s.required ?? [])
  return Object.entries(s.properties ?? {}).flatMap(([name, p]) => {
    const path = `${prefix}${name}`
    const row = `| \`${path}\` | ${typeOf(p)} | ${required.has(name) ? 'yes' : ''} | ${notes(p)} |`
    const inner = p.properties ? p : p.items?.properties ? p.items : null
    const sub = inner && depth < 3 ? propertyRows(inner, `${path}${inner === p ? '.' : '[].'}`, depth + 1) : []
    return [row, ...sub]
  })
}

const schemaTable = (s: Schema): string => {
  if (!s.properties) return `${typeOf(s)}${s.description ? `: ${escapeMarkdown(s.description)}` : ''}`
  const closed = s.additionalProperties === false ? ' Other fields are refused.' : ''
  return [
    ['| field | type | required | notes |', '| --- | --- | --- | --- |', ...propertyRows(s)].join('\n'),
    ...(closed ? [closed.trim()] : []),
  ].join('\n\n')
}

const operationMarkdown = (method: string, path: string, op: Operation): string => {
  const key = `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`
  const role = ROUTE_ACCESS[key] ?? '(none: refused)'
  const parts = [`### ${method.toUpperCase()} ${path}`]
  parts.push([op.summary, op.description].filter(Boolean).map(t => escapeMarkdown(t!.replace(/\.?$/, '.'))).join(' '))
  parts.push(`Least role: **${role}**.`)
  const params = op.parameters ?? []
  if (params.length > 0) {
    const rows = params.map(p => `| \`${p.name}\` | ${p.in} | ${p.schema ? typeOf(p.schema) : 'any'} | ${p.required ? 'yes' : ''} | ${cell([p.description, ...(p.schema ? constraints(p.schema) : [])].filter(Boolean).join('; '))} |`)
    parts.push(['| parameter | in | type | required | notes |', '| --- | --- | --- | --- | --- |', ...rows].join('\n'))
  }
  for (const [type, body] of Object.entries(op.requestBody?.content ?? {})) {
    parts.push(`Request body (\`${type}\`${op.requestBody?.required ? '' : ', optional'}):`)
    if (body.schema) parts.push(schemaTable(body.schema))
  }
  const responses = Object.entries(op.responses ?? {})
  const problems = responses.filter(([, r]) => r.content?.['application/problem+json'])
  for (const [status, response] of responses.filter(([, r]) => !r.content?.['application/problem+json'])) {
    const contents = Object.entries(response.content ?? {})
    const said = response.description && response.description !== 'Default Response' ? `: ${response.description}` : ''
    if (contents.length === 0) parts.push(`**${status}**${said}.`)
    for (const [type, content] of contents) {
      parts.push(`**${status}** (\`${type}\`)${said}${content.schema ? ':' : '.'}`)
      if (content.schema) parts.push(schemaTable(content.schema))
    }
  }
  if (problems.length > 0) {
    parts.push(`Problems ([\`Problem\`](${slug('Problem')}), \`application/problem+json\`): ${problems.map(([s]) => s).join(', ')}.`)
  }
  return parts.filter(Boolean).join('\n\n')
}

export const renderRestReference = (doc: OpenApiDocument): string => {
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })))
  const declared = doc.tags ?? []
  const tags = [...declared.map(t => t.name), ...new Set(operations.map(o => o.op.tags?.[0] ?? 'other'))]
    .filter((t, i, all) => all.indexOf(t) === i)
  const sections = tags.map(tag => {
    const ops = operations.filter(o => (o.op.tags?.[0] ?? 'other') === tag)
    if (ops.length === 0) return ''
    const about = declared.find(t => t.name === tag)?.description
    return [`## ${tag}`, ...(about ? [`${escapeMarkdown(about)}.`] : []), ...ops.map(o => operationMarkdown(o.method, o.path, o.op))].join('\n\n')
  }).filter(Boolean)
  const index = operations.map(o => `| [${o.method.toUpperCase()} ${o.path}](${slug(`${o.method.toUpperCase()} ${o.path}`)}) | ${cell(o.op.summary ?? '')} |`)
  const schemas = Object.entries(doc.components?.schemas ?? {}).map(([name, s]) => `### ${name}\n\n${schemaTable(s)}`)
  return [
    generatedHeader(`${OPENAPI_FILE} (GET /openapi.json) and src/api/access-policy.ts`),
    '# REST reference',
    escapeMarkdown(`${doc.info.title} ${doc.info.version}. ${doc.info.description ?? ''}`.trim()),
    'Every route answers to `Authorization: Bearer <token>` (or the browser\'s session cookie) and needs at least the role shown ' +
      '(`public`: no credential; [src/api/access-policy.ts](../../src/api/access-policy.ts)). A running daemon serves the same ' +
      'document at `/openapi.json` and a browsable page at `/docs`. Errors, limits, the live feed and the audit log are described in the ' +
      'README\'s [API](../../README.md#api) section; terminal attach in [attach.md](attach.md).',
    ['| operation | summary |', '| --- | --- |', ...index].join('\n'),
    ...sections,
    '## Schemas',
    ...schemas,
  ].join('\n\n') + '\n'
}
