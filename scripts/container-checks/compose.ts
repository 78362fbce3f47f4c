// compose.yaml read the way `docker compose config` would (YAML, then ${VAR:-default}
// interpolation with an empty environment), then checked for what Stratavore needs.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseDocument } from 'yaml'
import type { Report } from './report.js'

type Node = Record<string, unknown>
const isMap = (v: unknown): v is Node => !!v && typeof v === 'object' && !Array.isArray(v)

const SERVICE_KEYS = new Set(('annotations attach build blkio_config cap_add cap_drop cgroup cgroup_parent command configs container_name ' +
  'cpu_count cpu_percent cpu_shares cpu_quota cpu_period cpu_rt_period cpu_rt_runtime cpus cpuset credential_spec depends_on deploy ' +
  'develop device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file environment expose extends external_links ' +
  'extra_hosts gpus group_add healthcheck hostname image init ipc isolation labels label_file links logging mac_address mem_limit ' +
  'mem_reservation mem_swappiness memswap_limit models network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports ' +
  'post_start pre_stop privileged profiles pull_policy read_only restart runtime scale secrets security_opt shm_size stdin_open ' +
  'stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits user userns_mode uts volumes volumes_from working_dir').split(' '))
const TOP_KEYS = new Set(['name', 'services', 'volumes', 'networks', 'configs', 'secrets', 'include', 'models'])
const HEALTHCHECK_KEYS = new Set(['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'])
const DURATION = /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/
const SECRET_NAME = /PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_KEY|PRIVATE_KEY/i

export const durationSeconds = (d: string) => [...d.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)]
  .reduce((sum, [, n, unit]) => sum + Number(n) * { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }[unit as 'ns'], 0)

/** Compose interpolation against an empty environment: every variable must carry a default. */
const interpolate = (value: string, where: string, issues: string[]): string =>
  value.replace(/\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_all, dollar?: string, braced?: string, bare?: string) => {
    if (dollar) return '$'
    if (bare) { issues.push(`${where}: $${bare} (write \${${bare}:-default})`); return '' }
    const m = /^[A-Za-z_][A-Za-z0-9_]*:?-([\s\S]*)$/.exec(braced ?? '')
    if (!m) { issues.push(`${where}: \${${braced}} has no default`); return '' }
    return m[1]!
  })

const interpolateTree = (node: unknown, where: string, issues: string[]): unknown =>
  typeof node === 'string' ? interpolate(node, where, issues)
    : Array.isArray(node) ? node.map((v, i) => interpolateTree(v, `${where}[${i}]`, issues))
      : isMap(node) ? Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, `${where}.${k}`, issues)]))
        : node

const envOf = (service: Node): Record<string, string> => {
  const env = service.environment
  if (Array.isArray(env)) return Object.fromEntries(env.map(String).map(e => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]))
  return isMap(env) ? Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)])) : {}
}

interface Port { hostIp: string | null, published: string | null, target: number }
const portsOf = (service: Node): Port[] => (Array.isArray(service.ports) ? service.ports : []).map((p): Port => {
  if (isMap(p)) return { hostIp: (p.host_ip as string) ?? null, published: p.published == null ? null : String(p.published), target: Number(p.target) }
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[^\]]+\]):)?(?:(\d+(?:-\d+)?)?:)?(\d+)(?:\/(?:tcp|udp))?$/.exec(String(p))
  return m ? { hostIp: m[1] ?? null, published: m[2] ?? null, target: Number(m[3]) } : { hostIp: null, published: null, target: Number.NaN }
})

export interface ComposeExpectations {
  root: string
  knownEnv: Set<string>
  containerPorts: number[]
  imageHasHealthcheck: boolean
  shutdownTimeoutSeconds: number
  localDefaults: string[]
}
export interface ComposeFacts { stratavoredEnv: Record<string, string>, services: Record<string, Node> }

export const checkCompose = (r: Report, text: string, expect: ComposeExpectations): ComposeFacts | null => {
  const doc = parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true })
  if (!r.check('compose.yaml parses as YAML (no duplicate keys)', doc.errors.length === 0, doc.errors.map(e => e.message).join('\n'))) return null
  const rawTop: unknown = doc.toJS({ maxAliasCount: 100 })
  if (!r.check('compose.yaml is a mapping with services', isMap(rawTop) && isMap(rawTop.services))) return null
  const raw = rawTop as Node
  const issues: string[] = []
  const top = interpolateTree(raw, '', issues) as Node
  r.check('every ${VAR} has a default, so it runs without a .env file', issues.length === 0, issues.join('\n'))
  const badTop = Object.keys(top).filter(k => !TOP_KEYS.has(k) && !k.startsWith('x-'))
  r.check('top-level keys are Compose keys (no obsolete `version`)', badTop.length === 0, badTop.join(', '))

  const services = top.services as Record<string, Node>
  const rawServices = raw.services as Record<string, Node>
  const names = Object.keys(services)
  for (const name of ['postgres', 'rabbitmq', 'stratavored']) r.check(`service ${name} is defined`, isMap(services[name]))
  const monitoring = ['prometheus', 'alertmanager', 'ntfy', 'grafana']
  const extra = names.filter(n => !['postgres', 'rabbitmq', 'stratavored', ...monitoring].includes(n))
  r.check(`no service beyond postgres, rabbitmq, stratavored, ${monitoring.join(', ')}`, extra.length === 0, extra.join(', '))
  for (const name of monitoring.filter(n => services[n])) {
    r.check(`${name}: only in the metrics profile`, JSON.stringify(services[name]!.profiles) === '["metrics"]', JSON.stringify(services[name]!.profiles))
  }
  const { postgres = {}, rabbitmq = {}, stratavored = {}, prometheus, alertmanager, grafana } = services
  const mounts = (svc: Node | undefined) => (Array.isArray(svc?.volumes) ? svc.volumes.map(String) : []).map(v => v.split(':').slice(0, 2).join(':'))
  if (prometheus) r.check('prometheus: mounts the alert rules where prometheus.yml names them', mounts(prometheus).includes('./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml'))
  if (alertmanager) r.check('alertmanager: mounts deploy/alertmanager/alertmanager.yml', mounts(alertmanager).includes('./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml'))
  if (grafana) {
    r.check('grafana: mounts the provisioning and the dashboards', mounts(grafana).includes('./deploy/grafana/provisioning:/etc/grafana/provisioning')
      && mounts(grafana).includes('./deploy/grafana/dashboards:/var/lib/grafana/dashboards'))
  }

  for (const [name, svc] of Object.entries(services)) {
    const bad = Object.keys(svc).filter(k => !SERVICE_KEYS.has(k) && !k.startsWith('x-'))
    r.check(`${name}: only Compose service keys`, bad.length === 0, `unknown: ${bad.join(', ')}`)
    const image = typeof svc.image === 'string' ? svc.image : ''
    if (!svc.build) r.check(`${name}: image ${image} has a pinned tag (not latest)`, /^[^:]+(:[^:]+)$/.test(image.replace(/^[^/]+:\d+\//, '')) && !image.endsWith(':latest'))
    const hc = svc.healthcheck
    if (isMap(hc)) {
      const badKeys = Object.keys(hc).filter(k => !HEALTHCHECK_KEYS.has(k))
      const durations = ['interval', 'timeout', 'start_period', 'start_interval'].filter(k => hc[k] !== undefined)
      r.check(`${name}: healthcheck is well-formed`, badKeys.length === 0 && durations.every(k => DURATION.test(String(hc[k])))
        && (hc.disable === true || (Array.isArray(hc.test) && ['CMD', 'CMD-SHELL'].includes(String(hc.test[0])) && hc.test.length > 1) || typeof hc.test === 'string'),
      JSON.stringify(hc))
    }
    for (const port of portsOf(svc)) {
      r.check(`${name}: port ${port.published ?? '?'}->${port.target} published on 127.0.0.1 only`, port.hostIp === '127.0.0.1' && Number.isInteger(port.target))
    }
    for (const volume of Array.isArray(svc.volumes) ? svc.volumes.map(String) : []) {
      const source = volume.split(':')[0]!
      if (/^[./~]/.test(source)) r.check(`${name}: bind mount ${source} exists`, existsSync(join(expect.root, source)))
      else r.check(`${name}: volume ${source} is declared at the top level`, isMap(top.volumes) && source in top.volumes)
    }
    const deps = svc.depends_on
    const depNames = Array.isArray(deps) ? deps.map(String) : isMap(deps) ? Object.keys(deps) : []
    for (const dep of depNames) r.check(`${name}: depends_on ${dep} exists`, dep in services)
    const rawEnv = envOf(rawServices[name] ?? {})
    // A URL's password must be one interpolation (__VAR__ stands for it here), never a literal.
    const leaks = Object.entries(rawEnv).filter(([k, v]) =>
      (SECRET_NAME.test(k) && !/^\$\{[A-Za-z_][A-Za-z0-9_]*:-[^}]*\}$/.test(v))
      || /:\/\/[^/@]*:(?!__VAR__@)[^@/]*@/.test(v.replace(/\$\{[^}]*\}/g, '__VAR__')))
    r.check(`${name}: passwords come from \${VAR:-default}, not literals`, leaks.length === 0, leaks.map(([k]) => k).join(', '))
    const defaults = Object.entries(rawEnv).filter(([k]) => SECRET_NAME.test(k)).map(([k]) => [k, envOf(svc)[k]])
    const odd = defaults.filter(([, v]) => !expect.localDefaults.includes(v ?? ''))
    r.check(`${name}: secret defaults are only the local ones (${expect.localDefaults.join(', ')})`, odd.length === 0, odd.map(([k]) => k).join(', '))
  }

  r.check('postgres: image is Postgres 16 (postgres:16* or pgvector/pgvector:pg16*)', /^(postgres:16|pgvector\/pgvector:pg16)\b/.test(String(postgres.image)), String(postgres.image))
  r.check('postgres: healthcheck runs pg_isready', JSON.stringify((postgres.healthcheck as Node | undefined)?.test ?? '').includes('pg_isready'))
  r.check('rabbitmq: image is rabbitmq:3.13-management', /^rabbitmq:3\.13[\w.]*-management$/.test(String(rabbitmq.image)), String(rabbitmq.image))
  r.check('rabbitmq: healthcheck runs rabbitmq-diagnostics ping', /rabbitmq-diagnostics.*ping/.test(JSON.stringify((rabbitmq.healthcheck as Node | undefined)?.test ?? '')))
  if (prometheus) r.check('prometheus: image is prom/prometheus', /^prom\/prometheus:/.test(String(prometheus.image)))

  const build = stratavored.build
  const context = typeof build === 'string' ? build : isMap(build) ? String(build.context ?? '.') : null
  const dockerfile = isMap(build) && typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile'
  r.check('stratavored: builds this directory\'s Dockerfile', (context === '.' || context === './') && existsSync(join(expect.root, dockerfile)), `build: ${JSON.stringify(build)}`)
  const deps = isMap(stratavored.depends_on) ? stratavored.depends_on : {}
  for (const dep of ['postgres', 'rabbitmq']) {
    r.check(`stratavored: waits for ${dep} to be healthy`, isMap(deps[dep]) && deps[dep].condition === 'service_healthy' && isMap(services[dep]?.healthcheck))
  }
  const hc = stratavored.healthcheck
  r.check('stratavored: has a healthcheck (the image\'s HEALTHCHECK, not disabled)', isMap(hc) ? hc.disable !== true && !(Array.isArray(hc.test) && hc.test[0] === 'NONE') : expect.imageHasHealthcheck)
  const targets = portsOf(stratavored).map(p => p.target).sort((a, b) => a - b)
  r.check(`stratavored: publishes ${expect.containerPorts.join(', ')}`, JSON.stringify(targets) === JSON.stringify([...expect.containerPorts].sort((a, b) => a - b)), `publishes ${targets.join(', ')}`)
  const grace = typeof stratavored.stop_grace_period === 'string' ? durationSeconds(stratavored.stop_grace_period) : 10
  r.check(`stratavored: stop_grace_period (${grace}s) exceeds daemon.shutdown_timeout_seconds (${expect.shutdownTimeoutSeconds}s)`, grace > expect.shutdownTimeoutSeconds)

  const env = envOf(stratavored)
  const allowed = new Set([...expect.knownEnv, 'DATABASE_URL', 'AMQP_URL', 'NODE_ENV', 'NODE_OPTIONS', 'TZ'])
  const unknown = Object.keys(env).filter(k => !allowed.has(k))
  r.check('stratavored: every environment key is one config.ts reads', unknown.length === 0, `unknown: ${unknown.join(', ')}`)
  checkUrl(r, 'DATABASE_URL', env.DATABASE_URL, 'postgres:', 'postgres', 5432, envOf(postgres), ['POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB'])
  checkUrl(r, 'AMQP_URL', env.AMQP_URL, 'amqp:', 'rabbitmq', 5672, envOf(rabbitmq), ['RABBITMQ_DEFAULT_USER', 'RABBITMQ_DEFAULT_PASS', null])
  return { stratavoredEnv: env, services }
}

/** The URL must point at the service by name with the credentials that service is created with. */
const checkUrl = (r: Report, name: string, value: string | undefined, protocol: string, host: string, port: number,
  serverEnv: Record<string, string>, [userKey, passKey, dbKey]: [string, string, string | null]) => {
  let url: URL | null = null
  try { url = new URL(value ?? '') } catch { /* reported below */ }
  if (!r.check(`stratavored: ${name} is a ${protocol}// URL`, url?.protocol === protocol, value ?? '(unset)') || !url) return
  r.check(`stratavored: ${name} points at ${host}:${port}`, url.hostname === host && Number(url.port || port) === port, `${url.hostname}:${url.port}`)
  const user = serverEnv[userKey] ?? 'guest'
  const pass = serverEnv[passKey] ?? 'guest'
  r.check(`stratavored: ${name} uses the ${host} service's ${userKey}/${passKey}`, decodeURIComponent(url.username) === user && decodeURIComponent(url.password) === pass)
  if (dbKey) r.check(`stratavored: ${name} names the ${dbKey} database`, decodeURIComponent(url.pathname.slice(1)) === (serverEnv[dbKey] ?? user))
}

export const checkPrometheusConfig = (r: Report, text: string, target: string) => {
  const doc = parseDocument(text, { uniqueKeys: true })
  if (!r.check('deploy/prometheus/prometheus.yml parses as YAML', doc.errors.length === 0, doc.errors.map(e => e.message).join('\n'))) return
  const config = doc.toJS() as { scrape_configs?: Array<{ job_name?: string, metrics_path?: string, static_configs?: Array<{ targets?: string[] }> }> }
  const jobs = config.scrape_configs ?? []
  r.check('deploy/prometheus/prometheus.yml: job names are unique', new Set(jobs.map(j => j.job_name)).size === jobs.length && jobs.every(j => !!j.job_name))
  const job = jobs.find(j => j.static_configs?.some(s => s.targets?.includes(target)))
  r.check(`deploy/prometheus/prometheus.yml scrapes ${target}/metrics`, !!job && (job.metrics_path ?? '/metrics') === '/metrics')
}
