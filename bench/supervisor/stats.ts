// Percentiles and rounding for bench/supervisor: nearest-rank, from bench/common.ts as every
// bench computes them, over unsorted samples.
import { latencyPercentiles, mean, percentileOfSorted, round } from '../common.js'

export { mean, round }

const ascending = (values: number[]) => [...values].sort((a, b) => a - b)

export const percentile = (values: number[], p: number): number => percentileOfSorted(ascending(values), p)

/** p50, p90, p99, max and mean of latencies in ms. */
export const summary = (values: number[], digits = 1) => ({
  count: values.length,
  ...latencyPercentiles(ascending(values), digits),
  mean_ms: round(mean(values), digits),
})

export const mib = (bytes: number, digits = 2) => round(bytes / 2 ** 20, digits)
