/**
 * Helpers for kernel tests: a test that is ignored (and says why) without an adapter, seeded random inputs, a
 * comparison that prints the first mismatches and the max error, and float64 central differences.
 *
 * @module
 */

import { mulberry32 } from "./random.ts";

export { gpuTest } from "../testing/gpu.ts";

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

/** `n` seeded uniform values in [lo, hi). */
export function randu(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Tolerances for {@linkcode assertClose}: passes where |a-b| <= atol + rtol*|b|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * Throws unless `actual` matches `expected` elementwise within `tol`, printing the first
 * mismatches (index, actual, expected) and the max absolute and relative error.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  label: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  let maxAbs = 0, maxRel = 0, bad = 0;
  const first: string[] = [];
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const d = Math.abs(a - e);
    const ok = d <= tol.atol + tol.rtol * Math.abs(e);
    if (!Number.isNaN(d)) {
      maxAbs = Math.max(maxAbs, d);
      maxRel = Math.max(maxRel, d / Math.max(Math.abs(e), 1e-30));
    }
    if (!ok) {
      bad++;
      if (first.length < 5) first.push(`  [${i}] got ${a}, expected ${e}`);
    }
  }
  if (bad) {
    throw new Error(
      `${label}: ${bad}/${actual.length} mismatches (max abs ${maxAbs.toExponential(3)}, ` +
        `max rel ${maxRel.toExponential(3)}, tol atol=${tol.atol} rtol=${tol.rtol})\n` +
        first.join("\n"),
    );
  }
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
