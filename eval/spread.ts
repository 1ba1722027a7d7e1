/**
 * The spread of a statistic over independent repetitions (Thompson runs, evaluation seeds): its
 * mean and sample standard deviation.
 *
 * @module
 */

/** Mean and sample standard deviation (n − 1) of `xs`; std 0 for one value, both null for none. */
export function meanStd(xs: readonly number[]): { mean: number | null; std: number | null } {
  if (xs.length === 0) return { mean: null, std: null };
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return { mean: m, std: 0 };
  const v = xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
  return { mean: m, std: Math.sqrt(v) };
}
