// Checks Dockerfile, .dockerignore, compose.yaml and deploy/prometheus/prometheus.yml with what runs without
// a Docker engine: each file on its own, then against each other and against the code (config
// keys, ports, the health route, the import graph of bin/stratavored.mjs). `--smoke` also lays
// out the image's /app from the build context, runs `npm ci --omit=dev` in it, starts the
// ENTRYPOINT + CMD with the image's ENV, and runs the HEALTHCHECK against it.
// Run through scripts/check-container-files.sh; exits 1 on any failed check.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../src/config.js'
import { envNameOf, leaves } from '../src/config-spec.js'
import { checkListenSecurity } from '../src/listen-security.js'
import { contextFiles, importGraph, parseDockerignore } from './container-checks/build-context.js'
import { checkCompose, checkPrometheusConfig } from './container-checks/compose.js'
import { checkDockerfile } from './container-checks/dockerfile.js'
import { createReport } from './container-checks/report.js'
import { smokeTest } from './container-checks/smoke.js'
import { optionalValidators } from './container-checks/validators.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8')
const r = createReport()
const smoke = process.argv.includes('--smoke')

const DATA_DIR = '/var/lib/stratavore'
const HEALTH_PATH = '/api/v1/health'
const ENTRY = 'bin/stratavored.mjs'
const knownEnv = new Set([...leaves().map(([path]) => envNameOf(path)), 'STRATAVORE_DATA_DIR'])
const pkg = JSON.parse(read('package.json')) as { dependencies?: Record<string, string>, devDependencies?: Record<string, string> }
const prodDependencies = new Set(Object.keys(pkg.dependencies ?? {}))
const emptyHome = mkdtempSync(join(tmpdir(), 'stratavore-check-home-'))

r.section('files')
for (const file of ['Dockerfile', '.dockerignore', 'compose.yaml', 'deploy/prometheus/prometheus.yml', 'package.json', 'package-lock.json', ENTRY]) {
  r.check(`${file} exists`, existsSync(join(ROOT, file)))
}

r.section('stratavored itself')
const help = spawnSync(process.execPath, [ENTRY, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
// From the usage line (`stratavored [all|api]`) and the indented list under it.
const usage = help.stdout ?? ''
const subcommands = [...new Set([
  ...(/stratavored \[([a-z|-]+)\]/.exec(usage)?.[1]?.split('|') ?? []),
  ...[...usage.matchAll(/^ {2}([a-z][a-z-]*)\s{2,}/gm)].map(m => m[1]!),
])]
r.check(`node ${ENTRY} --help lists its subcommands`, help.status === 0 && subcommands.length > 0, help.stderr || help.stdout)
const routeDeclared = (dir: string): boolean => readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
  .some(e => e.isFile() && e.name.endsWith('.ts') && new RegExp(`['"\`]${HEALTH_PATH}['"\`]`).test(readFileSync(join(e.parentPath, e.name), 'utf8')))
r.check(`a route serves GET ${HEALTH_PATH} (what the HEALTHCHECK probes)`, routeDeclared('src'))

r.section('Dockerfile')
const dockerfileText = read('Dockerfile')
const image = checkDockerfile(r, dockerfileText, { baseImage: 'node:20-bookworm-slim', dataDir: DATA_DIR, healthPath: HEALTH_PATH, knownEnv, subcommands, prodDependencies })

r.section('configuration inside the image (src/config.ts with the Dockerfile ENV)')
let ports: number[] = []
let shutdownTimeout = 30
let prometheusPort = 9091
try {
  const config = loadConfig({ env: { ...image.env }, home: emptyHome })
  ports = [config.daemon.http_port, config.daemon.grpc_port, ...(config.docker.prometheus.enabled ? [config.docker.prometheus.port] : [])]
  shutdownTimeout = config.daemon.shutdown_timeout_seconds
  prometheusPort = config.docker.prometheus.port
  r.check('the ENV loads as a valid configuration', true)
  r.check(`data dir is the volume ${DATA_DIR}`, config.dataDir === DATA_DIR, config.dataDir)
  r.check('API listens on 0.0.0.0', config.daemon.host === '0.0.0.0', config.daemon.host)
  let listenProblem = ''
  try { checkListenSecurity(config) } catch (err) { listenProblem = (err as Error).message }
  r.check('the API may start on 0.0.0.0 (daemon.allow_insecure_bind, or TLS on both ports)', listenProblem === '', listenProblem)
  r.check('metrics listen on 0.0.0.0 (Prometheus scrapes from another container)', !config.docker.prometheus.enabled || config.docker.prometheus.host === '0.0.0.0', config.docker.prometheus.host)
  r.check('without DATABASE_URL/AMQP_URL the image runs embedded (PGlite, in-process bus)', config.databaseUrl === null && config.amqpUrl === null)
  const exposed = [...image.exposed].sort((a, b) => a - b)
  r.check(`EXPOSE matches the configured ports (${ports.join(', ')})`, JSON.stringify(exposed) === JSON.stringify([...ports].sort((a, b) => a - b)), `EXPOSE ${exposed.join(' ')}`)
  const hc = image.healthcheck?.join(' ') ?? ''
  r.check('HEALTHCHECK probes daemon.http_port', hc.includes(`|| ${config.daemon.http_port})`) || hc.includes(`:${config.daemon.http_port}/`))
} catch (err) {
  r.check('the ENV loads as a valid configuration', false, (err as Error).message)
}

r.section('.dockerignore and the build context')
const rules = parseDockerignore(read('.dockerignore'))
const files = contextFiles(ROOT, rules)
const inContext = new Set(files)
r.note(`${files.length} files in the build context`)
for (const file of ['package.json', 'package-lock.json', ENTRY, 'drizzle/meta/_journal.json']) r.check(`${file} is in the context`, inContext.has(file))
const migrations = readdirSync(join(ROOT, 'drizzle')).filter(f => f.endsWith('.sql'))
r.check(`every migration (${migrations.length}) is in the context`, migrations.length > 0 && migrations.every(f => inContext.has(`drizzle/${f}`)))
const leaked = files.filter(f => /(^|\/)(\.git|node_modules|test|\.tap|\.stratavore-data)\/|(^|\/)\.env(\.|$)|\.log$/.test(f))
r.check('no .git, node_modules, tests, logs, local data or .env in the context', leaked.length === 0, leaked.slice(0, 10).join('\n'))
const graph = importGraph(ROOT, [ENTRY])
r.note(`${ENTRY} reaches ${graph.files.length} source files and ${graph.packages.size} packages`)
r.check('every import resolves', graph.unresolved.length === 0, graph.unresolved.join('\n'))
const outside = graph.files.filter(f => !inContext.has(f))
r.check('every file the daemon imports is in the context', outside.length === 0, outside.join('\n'))
const devOnly = [...graph.packages].filter(([name]) => !prodDependencies.has(name))
r.check('every package the daemon imports is a production dependency (survives --omit=dev)', devOnly.length === 0,
  devOnly.map(([name, by]) => `${name} (imported by ${by})`).join('\n'))

r.section('compose.yaml')
const compose = checkCompose(r, read('compose.yaml'), {
  root: ROOT, knownEnv, containerPorts: ports, imageHasHealthcheck: !!image.healthcheck, shutdownTimeoutSeconds: shutdownTimeout, localDefaults: ['stratavore', 'guest'],
})
if (compose) {
  try {
    const config = loadConfig({ env: { ...image.env, ...compose.stratavoredEnv }, home: emptyHome })
    r.check('stratavored\'s environment loads as a valid configuration', true)
    r.check('stratavored uses Postgres and RabbitMQ (DATABASE_URL, AMQP_URL)', !!config.databaseUrl && !!config.amqpUrl)
  } catch (err) {
    r.check('stratavored\'s environment loads as a valid configuration', false, (err as Error).message)
  }
}
if (existsSync(join(ROOT, 'deploy/prometheus/prometheus.yml'))) checkPrometheusConfig(r, read('deploy/prometheus/prometheus.yml'), `stratavored:${prometheusPort}`)

r.section('optional validators (used when installed)')
optionalValidators(r, createRequire(join(ROOT, 'package.json')), dockerfileText, read('compose.yaml'))

if (smoke) {
  r.section('smoke: the image\'s /app emulated on this host')
  await smokeTest(r, { root: ROOT, files, image })
}

rmSync(emptyHome, { recursive: true, force: true })
console.log(r.failures.length === 0
  ? `\ncontainer files: all ${r.count} checks ok`
  : `\ncontainer files: ${r.failures.length} of ${r.count} checks FAILED:\n${r.failures.map(f => `  - ${f.split('\n')[0]}`).join('\n')}`)
process.exitCode = r.failures.length === 0 ? 0 : 1
