// Percentiles and rounding for bench/supervisor: nearest-rank, as bench/launch computes them.
export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!
}

export const round = (n: number, digits = 1): number | null => Number.isFinite(n) ? Number(n.toFixed(digits)) : null

export const mean = (values: number[]) => values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN

/** p50, p90, p99, max and mean of latencies in ms. */
export const summary = (values: number[], digits = 1) => ({
  count: values.length,
  p50_ms: round(percentile(values, 50), digits),
  p90_ms: round(percentile(values, 90), digits),
  p99_ms: round(percentile(values, 99), digits),
  max_ms: round(values.length ? Math.max(...values) : NaN, digits),
  mean_ms: round(mean(values), digits),
})

export const mib = (bytes: number, digits = 2) => round(bytes / 2 ** 20, digits)
