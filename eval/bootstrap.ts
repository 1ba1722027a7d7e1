/**
 * Confidence intervals by the bootstrap: of a mean over goals, and of the paired difference of
 * two agents evaluated on the same goals (resampling goals keeps each goal's pair together, so
 * the interval reflects how the agents differ on the same tasks, not how hard the tasks are).
 *
 * @module
 */

import seedrandom from "seedrandom";

/** A statistic with its 95% interval. */
export interface Interval {
  value: number;
  lo: number;
  hi: number;
}

function percentile(sorted: Float64Array, p: number): number {
  const i = p * (sorted.length - 1), a = Math.floor(i), b = Math.ceil(i);
  return sorted[a] + (sorted[b] - sorted[a]) * (i - a);
}

/** Mean of `x` with a percentile bootstrap 95% interval (`resamples` draws, seeded). */
export function bootstrapMean(
  x: readonly number[],
  opts: { resamples?: number; seed?: number } = {},
): Interval {
  const n = x.length;
  if (n === 0) throw new RangeError("bootstrapMean: no values");
  const B = opts.resamples ?? 2000, rng = seedrandom.alea(`bootstrap:${opts.seed ?? 0}`);
  const means = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[Math.floor(rng() * n)];
    means[b] = s / n;
  }
  means.sort();
  return {
    value: x.reduce((a, v) => a + v, 0) / n,
    lo: percentile(means, 0.025),
    hi: percentile(means, 0.975),
  };
}

/** Mean of a[i] − b[i] over paired outcomes with a percentile bootstrap 95% interval. */
export function pairedBootstrap(
  a: readonly number[],
  b: readonly number[],
  opts: { resamples?: number; seed?: number } = {},
): Interval {
  if (a.length !== b.length) {
    throw new RangeError(`pairedBootstrap: ${a.length} vs ${b.length} paired values`);
  }
  return bootstrapMean(a.map((v, i) => v - b[i]), opts);
}
