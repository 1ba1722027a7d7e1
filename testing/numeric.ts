/**
 * Seeded random inputs and float64 central differences for tests.
 *
 * @module
 */

import { mulberry32 } from "../base/random.ts";

/** A seeded generator of uniform floats in [0, 1) (mulberry32). */
export const rng: (seed: number) => () => number = mulberry32;

/** `n` seeded normal(0, scale) values. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12), v = r();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/**
 * Float64 central differences of the scalar `f` with respect to every element of `x`
 * (`x` is restored afterwards).
 */
export function numericGrad(f: () => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + eps;
    const fp = f();
    x[i] = v - eps;
    const fm = f();
    x[i] = v;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/** Sum of `a[i] * w[i]`: the scalar loss used to check backwards (dOut = w). */
export function dot(a: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * w[i];
  return s;
}
