// A small Dockerfile reader (continuations, comments, flags, exec form, ENV pairs) and the checks
// on the image it describes. Not a full BuildKit parser: enough for the instructions we write.
import type { Report } from './report.js'

export interface Instruction { line: number, keyword: string, flags: Record<string, string>, rest: string }
export interface Stage { image: string, name: string | null, instructions: Instruction[] }

export interface ImageFacts {
  stages: Stage[]
  /** ENV of the final stage, as the container starts with it. */
  env: Record<string, string>
  user: string | null
  exposed: number[]
  volumes: string[]
  healthcheck: string[] | null
  entrypoint: string[] | null
  cmd: string[] | null
}

export const parseDockerfile = (text: string): Instruction[] => {
  const out: Instruction[] = []
  let buffer = ''
  let start = 0
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim()
    if (trimmed.startsWith('#') || (buffer === '' && trimmed === '')) return
    if (buffer === '') start = index + 1
    if (/\\\s*$/.test(raw)) {
      buffer += `${raw.replace(/\\\s*$/, '')} `
      return
    }
    buffer += raw
    const match = /^\s*([A-Za-z]+)\s*([\s\S]*)$/.exec(buffer)
    buffer = ''
    if (!match) return
    let rest = match[2]!.trim()
    const flags: Record<string, string> = {}
    for (let flag = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); flag; flag = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
      flags[flag[1]!] = flag[2] ?? 'true'
      rest = rest.slice(flag[0].length)
    }
    out.push({ line: start, keyword: match[1]!.toUpperCase(), flags, rest })
  })
  return out
}

/** `["a", "b"]` to ['a', 'b']; null for the shell form. */
export const execForm = (rest: string): string[] | null => {
  if (!rest.startsWith('[')) return null
  try {
    const value: unknown = JSON.parse(rest)
    return Array.isArray(value) && value.every(v => typeof v === 'string') ? value : null
  } catch {
    return null
  }
}

/** `A=1 B="two words"` (or the legacy `A value`) to a record. */
export const envPairs = (rest: string): Record<string, string> => {
  const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+([^=]*)$/.exec(rest)
  if (legacy) return { [legacy[1]!]: legacy[2]!.trim() }
  const pairs: Record<string, string> = {}
  for (const m of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
    const raw = m[2]!
    pairs[m[1]!] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw.startsWith("'") ? raw.slice(1, -1) : raw
  }
  return pairs
}

export const imageFacts = (instructions: Instruction[]): ImageFacts => {
  const stages: Stage[] = []
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [image = '', as, name] = ins.rest.split(/\s+/)
      stages.push({ image, name: as?.toUpperCase() === 'AS' && name ? name : null, instructions: [] })
    } else {
      stages.at(-1)?.instructions.push(ins)
    }
  }
  const final = stages.at(-1)?.instructions ?? []
  const last = (keyword: string) => final.filter(i => i.keyword === keyword).at(-1)
  const healthcheck = last('HEALTHCHECK')
  return {
    stages,
    env: Object.assign({}, ...final.filter(i => i.keyword === 'ENV').map(i => envPairs(i.rest))) as Record<string, string>,
    user: last('USER')?.rest ?? null,
    exposed: final.filter(i => i.keyword === 'EXPOSE').flatMap(i => i.rest.split(/\s+/)).map(p => Number.parseInt(p, 10)),
    volumes: final.filter(i => i.keyword === 'VOLUME').flatMap(i => execForm(i.rest) ?? i.rest.split(/\s+/)),
    healthcheck: healthcheck ? execForm(healthcheck.rest.replace(/^CMD\s+/, '')) : null,
    entrypoint: execForm(last('ENTRYPOINT')?.rest ?? ''),
    cmd: execForm(last('CMD')?.rest ?? ''),
  }
}

const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY/i

export interface DockerfileExpectations {
  baseImage: string
  dataDir: string
  healthPath: string
  knownEnv: Set<string>
  subcommands: string[]
  prodDependencies: Set<string>
}

export const checkDockerfile = (r: Report, text: string, expect: DockerfileExpectations): ImageFacts => {
  const instructions = parseDockerfile(text)
  const facts = imageFacts(instructions)
  const { stages } = facts
  const names = stages.map(s => s.name)

  r.check('is multi-stage (2 or more FROM)', stages.length >= 2, `found ${stages.length}`)
  for (const stage of stages) {
    r.check(`stage ${stage.name ?? '(unnamed)'} builds FROM ${expect.baseImage}`, stage.image === expect.baseImage || names.includes(stage.image), `FROM ${stage.image}`)
  }
  const copiesFrom = instructions.filter(i => i.keyword === 'COPY' && i.flags.from)
  r.check('every COPY --from names an earlier stage', copiesFrom.every(i => names.includes(i.flags.from!)), copiesFrom.map(i => i.flags.from).join(', '))

  const installs = instructions.filter(i => i.keyword === 'RUN' && /\bnpm (ci|install)\b(?! -g)/.test(i.rest))
  r.check('dependencies install with `npm ci --omit=dev` (lockfile, no dev tools)', installs.length > 0 && installs.every(i => /\bnpm ci\b/.test(i.rest) && /--omit=dev\b/.test(i.rest)),
    installs.map(i => `line ${i.line}: ${i.rest}`).join('\n') || 'no npm ci')
  r.check('tsx (the runtime TypeScript loader) is a production dependency', expect.prodDependencies.has('tsx'))

  const user = facts.user?.split(':')[0]
  r.check('the final stage runs as a non-root USER', !!user && user !== 'root' && user !== '0', `USER ${facts.user ?? '(none)'}`)
  const finalRuns = stages.at(-1)?.instructions.filter(i => i.keyword === 'RUN').map(i => i.rest).join('\n') ?? ''
  if (user && user !== 'root' && !/^\d+$/.test(user)) r.check(`user ${user} is created in the final stage`, new RegExp(`useradd\\b[^\\n]*\\b${user}\\b`).test(finalRuns))

  r.check(`ENV STRATAVORE_DATA_DIR=${expect.dataDir}`, facts.env.STRATAVORE_DATA_DIR === expect.dataDir, `got ${facts.env.STRATAVORE_DATA_DIR}`)
  r.check(`VOLUME ${expect.dataDir}`, facts.volumes.includes(expect.dataDir), `volumes: ${facts.volumes.join(', ') || '(none)'}`)
  r.check('ENV STRATAVORE_DAEMON_HOST=0.0.0.0 (reachable from outside the container)', facts.env.STRATAVORE_DAEMON_HOST === '0.0.0.0')
  const unknownEnv = Object.keys(facts.env).filter(k => k.startsWith('STRATAVORE_') && !expect.knownEnv.has(k))
  r.check('every STRATAVORE_* ENV names a configuration key', unknownEnv.length === 0, `unknown: ${unknownEnv.join(', ')}`)
  const secrets = instructions.filter(i => (i.keyword === 'ENV' || i.keyword === 'ARG') && Object.entries(envPairs(i.rest)).some(([k, v]) => SECRET_NAME.test(k) && v !== ''))
  r.check('no ENV or ARG carries a password, token or key', secrets.length === 0, secrets.map(i => `line ${i.line}`).join(', '))

  const hc = facts.healthcheck
  r.check('HEALTHCHECK in exec form', !!hc, 'missing, or not CMD ["..."]')
  if (hc) {
    r.check('HEALTHCHECK runs node (the slim image has no curl or wget)', hc[0] === 'node' && !hc.some(a => /\b(curl|wget)\b/.test(a)), hc.join(' '))
    r.check(`HEALTHCHECK probes 127.0.0.1 ${expect.healthPath}`, hc.some(a => a.includes('127.0.0.1') && a.includes(expect.healthPath)))
  }

  const ep = facts.entrypoint
  r.check('ENTRYPOINT in exec form runs node bin/stratavored.mjs', !!ep && ep.slice(-2).join(' ') === 'node bin/stratavored.mjs', ep?.join(' ') ?? 'missing or shell form')
  if (ep && ep[0]?.includes('tini')) r.check('tini is installed in the final stage', /apt-get install[^\n]*\btini\b/.test(finalRuns))
  const cmd = facts.cmd
  r.check('CMD in exec form names a stratavored subcommand', !!cmd && cmd.length === 1 && expect.subcommands.includes(cmd[0]!),
    `CMD ${cmd?.join(' ') ?? '(missing or shell form)'}; subcommands: ${expect.subcommands.join(', ')}`)
  return facts
}
