// Canonical JSON for audit MACs: the same value always gives the same text, whatever order its
// keys were built in and however Postgres's jsonb stored them. This is JSON.stringify with
// object keys sorted by UTF-16 code units at every depth, which for the values we store (no
// NaN, no Infinity, no BigInt) is RFC 8785 (JCS). It must never change: rows signed with one
// version could no longer be verified with another (test/audit/canonical-json.test.ts pins it).

const compareKeys = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Mirrors JSON.stringify's treatment of values, so that `canonicalJson(x)` equals
 * `canonicalJson(JSON.parse(JSON.stringify(x)))`: what is signed before the row is written is
 * what the verifier rebuilds from the row read back.
 */
export const canonicalJson = (value: unknown): string => {
  const text = encode(value)
  if (text === undefined) throw new TypeError('canonicalJson: the value has no JSON form')
  return text
}

// undefined means "no JSON form": dropped from objects, null in arrays, as JSON.stringify does.
const encode = (value: unknown): string | undefined => {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON() // Dates become ISO strings, as in JSON.stringify
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value)
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null'
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt has no JSON form')
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) return `[${value.map(item => encode(item) ?? 'null').join(',')}]`
      const parts: string[] = []
      for (const key of Object.keys(value).sort(compareKeys)) {
        const encoded = encode((value as Record<string, unknown>)[key])
        if (encoded !== undefined) parts.push(`${JSON.stringify(key)}:${encoded}`)
      }
      return `{${parts.join(',')}}`
    }
  }
}
