// The image without an engine: /app laid out from the build context, the Dockerfile's own
// `npm ci` run in it, then ENTRYPOINT + CMD started with the image's ENV (ports moved to free
// ones, the data dir to a temp dir) and probed with the image's HEALTHCHECK command.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ImageFacts } from './dockerfile.js'
import type { Report } from './report.js'

const freePort = async (): Promise<number> => {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

export const smokeTest = async (r: Report, { root, files, image }: { root: string, files: string[], image: ImageFacts }) => {
  const dir = mkdtempSync(join(tmpdir(), 'stratavore-image-'))
  const app = join(dir, 'app')
  try {
    for (const file of files) {
      mkdirSync(dirname(join(app, file)), { recursive: true })
      copyFileSync(join(root, file), join(app, file))
    }
    const install = image.stages.flatMap(s => s.instructions).find(i => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.rest))
    if (!r.check('the Dockerfile has an npm ci step to run', !!install)) return
    const npm = spawnSync('sh', ['-c', install!.rest], { cwd: app, encoding: 'utf8', env: { ...process.env, npm_config_prefer_offline: 'true' }, timeout: 600_000 })
    if (!r.check(`\`${install!.rest}\` succeeds in the laid-out /app`, npm.status === 0, (npm.stderr || npm.stdout).slice(-2000))) return

    const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()]
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...image.env,
      HOME: join(dir, 'home'),
      STRATAVORE_DATA_DIR: join(dir, 'data'),
      STRATAVORE_DAEMON_HTTP_PORT: String(http),
      STRATAVORE_DAEMON_GRPC_PORT: String(grpc),
      STRATAVORE_DOCKER_PROMETHEUS_PORT: String(metrics),
    }
    mkdirSync(env.HOME!, { recursive: true })
    const [probe, ...probeArgs] = image.healthcheck ?? []
    const healthy = () => !!probe && spawnSync(probe, probeArgs, { cwd: app, env, timeout: 10_000 }).status === 0
    r.check('HEALTHCHECK fails while nothing listens', !healthy())

    // tini is PID 1 in the image; here the shell is, so start what follows `--`.
    const entry = [...(image.entrypoint ?? []), ...(image.cmd ?? [])]
    const argv = entry[0]?.includes('tini') ? entry.slice(entry.indexOf('--') + 1) : entry
    const output: string[] = []
    const daemon = spawn(argv[0]!, argv.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
    daemon.stdout.on('data', (b: Buffer) => output.push(b.toString()))
    daemon.stderr.on('data', (b: Buffer) => output.push(b.toString()))
    const exited = once(daemon, 'exit') as Promise<[number | null, string | null]>
    try {
      const started = Date.now()
      let ok = false
      while (!ok && Date.now() - started < 90_000 && daemon.exitCode === null) {
        await sleep(1000)
        ok = healthy()
      }
      r.check(`\`${argv.join(' ')}\` turns healthy by the HEALTHCHECK (${((Date.now() - started) / 1000).toFixed(1)}s)`, ok, output.join('').slice(-3000))
      const res = await fetch(`http://127.0.0.1:${metrics}/metrics`).catch(() => null)
      const body = res ? await res.text() : ''
      r.check('metrics are served on docker.prometheus.port', !!res?.ok && body.includes('stratavore_'), `status ${res?.status ?? 'no answer'}`)
    } finally {
      daemon.kill('SIGTERM')
      const timer = setTimeout(() => daemon.kill('SIGKILL'), 40_000)
      const [code, signal] = await exited
      clearTimeout(timer)
      r.check('SIGTERM stops it cleanly (exit 0)', code === 0, `exit ${code ?? signal}\n${output.join('').slice(-1500)}`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
