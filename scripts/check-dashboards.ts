// Checks deploy/grafana: each dashboard parses, has a unique uid and title, panels with ids,
// positions and Prometheus targets on the provisioned datasource; every stratavore_* metric a
// dashboard or an alert rule names is one that src/ defines (the seed's dashboards queried
// metrics that did not exist). Writes every panel query, with Grafana's variables replaced, as
// recording rules to the file named by its argument, for `promtool check rules` to parse.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'

const root = new URL('..', import.meta.url).pathname
const out = process.argv[2]
if (!out) throw new Error('usage: check-dashboards.ts <queries.yml to write>')
const failures: string[] = []
const fail = (message: string) => failures.push(message)

const datasources = parse(readFileSync(join(root, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ uid: string }> }
const datasourceUid = datasources.datasources[0]!.uid

// Every stratavore_* name defined in src/ (metric names are string literals there).
const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
  .flatMap(e => e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [readFileSync(join(dir, e.name), 'utf8')] : [])
const defined = new Set(sources(join(root, 'src')).flatMap(text => [...text.matchAll(/'(stratavore_[a-z0-9_]+)'/g)].map(m => m[1]!)))
const checkNames = (where: string, expr: string) => {
  for (const [name] of expr.matchAll(/stratavore_[a-z0-9_]+/g)) {
    const base = name.replace(/_(bucket|sum|count)$/, '')
    if (!defined.has(name) && !defined.has(base)) fail(`${where}: ${name} is not a metric src/ defines`)
  }
}

// Grafana's variables, as promtool can parse them.
const substitute = (expr: string) => expr
  .replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h')
  .replace(/\$\{?[a-z_]+\}?/g, '.*')

const rules: Array<{ record: string, expr: string }> = []
const uids = new Set<string>()
const dir = join(root, 'deploy/grafana/dashboards')
const files = readdirSync(dir).filter(f => f.endsWith('.json')).sort()
for (const want of ['fleet', 'runners', 'tokens', 'events', 'api']) if (!files.includes(`${want}.json`)) fail(`deploy/grafana/dashboards/${want}.json is missing`)
for (const file of files) {
  let dashboard: { uid?: string, title?: string, panels?: Array<Record<string, unknown>>, templating?: { list?: Array<{ name: string, query?: { query?: string } }> } }
  try { dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) } catch (err) { fail(`${file}: ${(err as Error).message}`); continue }
  if (!dashboard.uid || uids.has(dashboard.uid)) fail(`${file}: uid missing or not unique`)
  uids.add(dashboard.uid ?? '')
  if (!dashboard.title) fail(`${file}: no title`)
  const ids = new Set<unknown>()
  for (const panel of dashboard.panels ?? []) {
    const where = `${file} panel ${JSON.stringify(panel.title)}`
    if (typeof panel.id !== 'number' || ids.has(panel.id)) fail(`${where}: id missing or not unique`)
    ids.add(panel.id)
    const grid = panel.gridPos as { x?: number, y?: number, w?: number, h?: number } | undefined
    if (!grid || [grid.x, grid.y, grid.w, grid.h].some(n => typeof n !== 'number') || grid.x! + grid.w! > 24) fail(`${where}: bad gridPos`)
    if ((panel.datasource as { uid?: string } | undefined)?.uid !== datasourceUid) fail(`${where}: datasource is not the provisioned ${datasourceUid}`)
    const targets = (panel.targets ?? []) as Array<{ expr?: string, refId?: string }>
    if (targets.length === 0) fail(`${where}: no query`)
    for (const target of targets) {
      if (!target.expr || !target.refId) { fail(`${where}: a target without expr or refId`); continue }
      checkNames(where, target.expr)
      rules.push({ record: `dashboard:query_${rules.length + 1}`, expr: substitute(target.expr) })
    }
  }
  for (const variable of dashboard.templating?.list ?? []) checkNames(`${file} variable ${variable.name}`, variable.query?.query ?? '')
}
const alertRules = parse(readFileSync(join(root, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string, expr: string }> }> }
for (const rule of alertRules.groups.flatMap(g => g.rules)) checkNames(`alert ${rule.alert}`, rule.expr)

writeFileSync(out, stringify({ groups: [{ name: 'dashboards', rules }] }))
if (failures.length > 0) {
  for (const message of failures) console.log(`FAIL  ${message}`)
  process.exit(1)
}
console.log(`ok    ${files.length} dashboards, ${rules.length} queries; every stratavore_* metric they and the alert rules name is defined in src/`)
