// bench/cli: how long a CLI command takes, start to exit, against a local daemon: `stratavore
// runners` from the compiled bundle (what users run) and through tsx (how the CLI started
// before), next to two baselines in the same run: `node -e 0` (Node's own start) and a plain
// `node` doing the same ListRunners call with fetch (the least any Node CLI can do for it).
// The target (issue 12): `stratavore runners` at most 100 ms of wall time, median.
// Prints one JSON object on stdout; progress goes to stderr.
//
//   npx tsx bench/cli/run.ts [--runs 20] [--api-url http://127.0.0.1:8080 --token stv_...] [--check]
//
// Without --api-url it starts a daemon of its own (embedded PGlite, a temp data dir) and the CLI
// finds its admin token in that data dir, as on the daemon's host. Variants take turns, run by
// run, so that a change in the machine's load hits them alike.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { latencyPercentiles, machineFacts, mean, progressLog, readOptions, round, runBench, watchdog, withTempDir } from '../common.js'

const log = progressLog('cli')
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CLI = join(ROOT, 'bin', 'stratavore.mjs')
const DAEMON = join(ROOT, 'bin', 'stratavored.mjs')
const TARGET_MS = 100
// /usr/bin/time reports a child's CPU time, which a shared machine's load inflates far less than wall time.
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null

const freePort = async () => {
  const { createServer } = await import('node:net')
  return new Promise<number>((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

const startDaemon = async (dataDir: string): Promise<{ url: string, child: ChildProcess }> => {
  const port = await freePort()
  const child = spawn(process.execPath, [DAEMON, 'all'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dataDir,
      STRATAVORE_DATA_DIR: dataDir,
      STRATAVORE_DAEMON_HTTP_PORT: String(port),
      STRATAVORE_DAEMON_GRPC_PORT: String(await freePort()),
      STRATAVORE_DOCKER_PROMETHEUS_PORT: String(await freePort()),
      STRATAVORE_OBSERVABILITY_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 180_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the daemon exited with code ${child.exitCode}`)
    const ok = await fetch(`${url}/api/v1/health`).then(r => r.ok, () => false)
    if (ok) return { url, child }
    if (Date.now() > deadline) throw new Error('the daemon did not become healthy in 180 s')
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

interface Variant { name: string, argv: string[] }

// The same call through the libraries the CLI uses and nothing else (@connectrpc/connect-node,
// @bufbuild/protobuf, the generated RunnerService), bundled by esbuild as the CLI is: what the
// CLI costs beyond its client libraries.
const buildRawConnect = async (dir: string, url: string): Promise<string> => {
  const { build } = await import('esbuild')
  const entry = join(dir, 'raw-connect.ts')
  writeFileSync(entry, `import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { RunnerService } from ${JSON.stringify(join(ROOT, 'src/gen/stratavore/v1/runner_pb.js'))}
const transport = createConnectTransport({ baseUrl: ${JSON.stringify(url)}, httpVersion: '1.1', interceptors: [next => req => { req.header.set('authorization', 'Bearer ' + process.env.BENCH_TOKEN); return next(req) }] })
const { runners } = await createClient(RunnerService, transport).listRunners({ limit: 500 })
process.stdout.write(runners.length + '\\n')
`)
  const out = join(dir, 'raw-connect.mjs')
  await build({ entryPoints: [entry], outfile: out, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent', nodePaths: [join(ROOT, 'node_modules')] })
  return out
}

const variants = (url: string, rawConnect: string): Variant[] => {
  // The same call the CLI makes with nothing but Node: one Connect unary call as JSON, over
  // node:http as connect-node's HTTP/1.1 transport does (fetch would load undici, which costs more).
  const raw = `const req = require('node:http').request(${JSON.stringify(`${url}/stratavore.v1.RunnerService/ListRunners`)}, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + process.env.BENCH_TOKEN } }, res => {
    let body = ''
    res.setEncoding('utf8').on('data', d => { body += d }).on('end', () => { if (res.statusCode !== 200) process.exit(1); process.stdout.write(String((JSON.parse(body).runners ?? []).length) + '\\n') })
  })
  req.end('{"limit":500}')`
  // What bin/stratavore.mjs did before the bundle: the TypeScript sources through tsx.
  const tsx = `import { register } from 'tsx/esm/api'
register()
const { main } = await import(${JSON.stringify(join(ROOT, 'src', 'cli', 'main.ts'))})
const code = await main(process.argv.slice(1), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() })
process.stdout.write('', () => process.exit(code))`
  return [
    { name: 'node_startup', argv: [process.execPath, '-e', '0'] },
    { name: 'raw_http_call', argv: [process.execPath, '-e', raw] },
    { name: 'raw_connect_call', argv: [process.execPath, rawConnect] },
    { name: 'stratavore_runners', argv: [process.execPath, CLI, 'runners'] },
    { name: 'stratavore_version', argv: [process.execPath, CLI, '--version'] },
    { name: 'stratavore_runners_tsx', argv: [process.execPath, '--input-type=module', '-e', tsx, 'runners'] },
  ]
}

interface Run { wallMs: number, cpuMs: number | null }

const runOnce = (variant: Variant, env: NodeJS.ProcessEnv): Run => {
  const argv = TIME ? [TIME, '-f', 'BENCH_CPU %U %S', ...variant.argv] : variant.argv
  const started = performance.now()
  const result = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, env, encoding: 'utf8' })
  const wallMs = performance.now() - started
  if (result.status !== 0) throw new Error(`${variant.name} exited with ${result.status}: ${result.stderr}`)
  const cpu = /BENCH_CPU ([\d.]+) ([\d.]+)/.exec(result.stderr ?? '')
  return { wallMs, cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : null }
}

const summary = (runs: Run[]) => {
  const wall = runs.map(r => r.wallMs).sort((a, b) => a - b)
  const cpu = runs.flatMap(r => r.cpuMs === null ? [] : [r.cpuMs]).sort((a, b) => a - b)
  return {
    runs: runs.length,
    ...latencyPercentiles(wall, 1),
    min_ms: round(wall[0] ?? NaN, 1),
    mean_ms: round(mean(wall), 1),
    cpu_p50_ms: cpu.length ? round(cpu[Math.floor(cpu.length / 2)]!, 0) : null,
  }
}

const main = async () => {
  const { text, number, flag } = readOptions({ text: ['runs', 'api-url', 'token'], boolean: ['check'] },
    'usage: tsx bench/cli/run.ts [--runs 20] [--api-url URL --token TOKEN] [--check]')
  const runs = Math.round(number('runs', 20, 3, 1000))
  watchdog(600_000 + runs * 30_000, log)
  const loadBefore = loadavg()[0]!
  // Plain JavaScript without types: imported by URL, typed here.
  const { buildCli, freshEntry } = await import(new URL('../../bin/build-cli.mjs', import.meta.url).href) as { buildCli(): Promise<string>, freshEntry(): string | null }
  if (freshEntry() === null) {
    log('building the CLI bundle (bin/build-cli.mjs)')
    await buildCli()
  }
  const report = await withTempDir('stv-bench-cli-', async dir => {
    let url = text('api-url')
    let daemon: ChildProcess | null = null
    let token = text('token') ?? ''
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir }
    if (!url) {
      log('starting a daemon (embedded PGlite)')
      const started = await startDaemon(dir)
      url = started.url
      daemon = started.child
      token = readFileSync(join(dir, 'admin.token'), 'utf8').trim()
      env.STRATAVORE_DATA_DIR = dir
    } else {
      if (!token) throw new Error('--api-url needs --token')
      env.STRATAVORE_TOKEN = token
    }
    env.STRATAVORE_API_URL = url
    env.BENCH_TOKEN = token
    try {
      const all = variants(url, await buildRawConnect(dir, url))
      const samples = new Map(all.map(v => [v.name, [] as Run[]]))
      for (const v of all) runOnce(v, env) // warm the page cache and tsx's transform cache
      for (let i = 0; i < runs; i++) {
        // Alternate the order, so that no variant always follows the same one.
        for (const v of i % 2 === 0 ? all : [...all].reverse()) samples.get(v.name)!.push(runOnce(v, env))
        if ((i + 1) % 5 === 0) log(`${i + 1}/${runs} rounds`)
      }
      const results = Object.fromEntries(all.map(v => [v.name, summary(samples.get(v.name)!)]))
      const p50 = (name: string) => results[name]!.p50_ms ?? NaN
      return {
        bench: 'cli',
        variants: results,
        stratavore_runners_over_raw_ms: round(p50('stratavore_runners') - p50('raw_http_call'), 1),
        stratavore_runners_over_raw_connect_ms: round(p50('stratavore_runners') - p50('raw_connect_call'), 1),
        stratavore_runners_over_node_startup_ms: round(p50('stratavore_runners') - p50('node_startup'), 1),
        bundle_speedup_over_tsx: round(p50('stratavore_runners_tsx') / p50('stratavore_runners'), 2),
        targets: { runners_p50_ms: TARGET_MS, pass: p50('stratavore_runners') <= TARGET_MS },
        machine: machineFacts(loadBefore),
      }
    } finally {
      if (daemon && daemon.exitCode === null) {
        daemon.kill('SIGTERM')
        await new Promise(resolve => daemon!.once('exit', resolve))
      }
    }
  })
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  if (flag('check') && !report.targets.pass) process.exitCode = 1
}

runBench(main, log)
