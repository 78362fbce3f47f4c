// A strict reader of the Prometheus text exposition format (0.0.4), for tests of /metrics: it
// throws on any line that is not a HELP, a TYPE, a comment or a well-formed sample, on samples
// of no declared family, on duplicate series and on histograms whose buckets do not add up.
// No npm package here parses the format, and a lenient regex would let malformed output pass.

export interface Sample { name: string, labels: Record<string, string>, value: number }
export interface Family { name: string, type: string, help: string, samples: Sample[] }

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

// As Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf in any case (prom-client
// writes `Nan`), with an optional sign.
const parseValue = (text: string, line: string): number => {
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(text)
  if (special) return special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)} in ${JSON.stringify(line)}`)
  return Number(text)
}

// `{a="x",b="y \" z"}` → labels; returns the index after the closing brace.
const parseLabels = (line: string, start: number): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  let i = start + 1
  for (;;) {
    if (line[i] === '}') return [labels, i + 1]
    const eq = line.indexOf('=', i)
    if (eq < 0) throw new Error(`unterminated labels in ${JSON.stringify(line)}`)
    const name = line.slice(i, eq)
    if (!LABEL.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in ${JSON.stringify(line)}`)
    if (name in labels) throw new Error(`label ${name} twice in ${JSON.stringify(line)}`)
    if (line[eq + 1] !== '"') throw new Error(`label value not quoted in ${JSON.stringify(line)}`)
    let value = ''
    let j = eq + 2
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] !== '\\') { value += line[j]; continue }
      const next = line[++j]
      if (next === 'n') value += '\n'
      else if (next === '\\' || next === '"') value += next
      else throw new Error(`bad escape \\${next} in ${JSON.stringify(line)}`)
    }
    if (j >= line.length) throw new Error(`unterminated label value in ${JSON.stringify(line)}`)
    labels[name] = value
    i = j + 1
    if (line[i] === ',') i++
    else if (line[i] !== '}') throw new Error(`expected , or } after label ${name} in ${JSON.stringify(line)}`)
  }
}

const familyOf = (families: Map<string, Family>, sample: string): Family | undefined => {
  if (families.has(sample)) return families.get(sample)
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = sample.endsWith(suffix) ? families.get(sample.slice(0, -suffix.length)) : undefined
    if (base && (base.type === 'histogram' || (base.type === 'summary' && suffix !== '_bucket'))) return base
  }
  return undefined
}

export const parsePrometheusText = (text: string): Map<string, Family> => {
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (!m) continue // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!METRIC.test(name)) throw new Error(`bad metric name in ${JSON.stringify(line)}`)
      const family = families.get(name) ?? { name, type: 'untyped', help: '', samples: [] }
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in ${JSON.stringify(line)}`)
        if (family.samples.length > 0) throw new Error(`TYPE after samples of ${name}`)
        family.type = rest
      } else family.help = rest
      families.set(name, family)
      continue
    }
    const nameEnd = line.search(/[{ ]/)
    if (nameEnd <= 0) throw new Error(`not a sample: ${JSON.stringify(line)}`)
    const name = line.slice(0, nameEnd)
    if (!METRIC.test(name)) throw new Error(`bad metric name in ${JSON.stringify(line)}`)
    let [labels, i]: [Record<string, string>, number] = [{}, nameEnd]
    if (line[nameEnd] === '{') [labels, i] = parseLabels(line, nameEnd)
    const rest = line.slice(i).trim().split(/ +/)
    if (line[i] !== ' ' || rest.length < 1 || rest.length > 2) throw new Error(`bad sample ${JSON.stringify(line)}`)
    const value = parseValue(rest[0]!, line)
    if (rest[1] !== undefined && !/^-?\d+$/.test(rest[1])) throw new Error(`bad timestamp in ${JSON.stringify(line)}`)
    const family = familyOf(families, name)
    if (!family) throw new Error(`sample of no declared family: ${JSON.stringify(line)}`)
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (seen.has(key)) throw new Error(`duplicate series ${key}`)
    seen.add(key)
    family.samples.push({ name, labels, value })
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

const checkHistogram = (family: Family) => {
  const series = new Map<string, Sample[]>()
  for (const s of family.samples) {
    const { le: _le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    series.set(key, [...(series.get(key) ?? []), s])
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter(s => s.name.endsWith('_bucket')).map(s => ({ le: parseValue(s.labels.le ?? '', s.name), value: s.value }))
    const count = samples.find(s => s.name.endsWith('_count'))?.value
    if (buckets.length === 0 || count === undefined || !samples.some(s => s.name.endsWith('_sum'))) throw new Error(`${family.name}${key}: buckets, _sum and _count must all be there`)
    const sorted = [...buckets].sort((a, b) => a.le - b.le)
    for (let i = 1; i < sorted.length; i++) if (sorted[i]!.value < sorted[i - 1]!.value) throw new Error(`${family.name}${key}: buckets are not cumulative`)
    if (sorted.at(-1)!.le !== Infinity || sorted.at(-1)!.value !== count) throw new Error(`${family.name}${key}: le="+Inf" must equal _count`)
  }
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
export const valueOf = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number => {
  const family = familyOf(families, name)
  const matches = (family?.samples ?? []).filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (matches.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${matches.length} samples`)
  return matches[0]!.value
}
