/**
 * CPU reference of the dropout kernels and the counter-based generator they share with the GPU:
 * the keep/drop decision of element `i` is a pure function of `(seed, i)`, so the backward (and
 * attention's dropout on probabilities) regenerates the mask instead of storing it.
 *
 * @module
 */

import type { FloatArray } from "./types.ts";

/** PCG output permutation of one 32-bit state (Jarzynski and Olano, JCGT 2020); a bijection. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> (((state >>> 28) + 4) >>> 0)) ^ state) >>> 0, 277803737) >>>
    0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The 32 random bits of element `index` under `seed` (two PCG rounds, as the WGSL does). */
export function dropoutBits(seed: number, index: number): number {
  return pcgHash((pcgHash(seed >>> 0) + (index >>> 0)) >>> 0);
}

/**
 * The 24-bit drop threshold of probability `p`: element `i` is dropped where
 * `dropoutBits(seed, i) >>> 8 < threshold`. Throws unless 0 <= p < 1.
 */
export function dropoutThreshold(p: number, op = "dropout"): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`${op}: dropout p = ${p} is not in [0, 1)`);
  return Math.round(p * 16777216);
}

/** 1 where element `index` is kept, 0 where dropped. */
export function dropoutKeep(seed: number, index: number, threshold: number): number {
  return (dropoutBits(seed, index) >>> 8) >= threshold ? 1 : 0;
}

/** The multiplier of kept elements, 1/(1-p) rounded to float32 as the GPU uses it. */
export function dropoutScale(p: number): number {
  return Math.fround(1 / (1 - p));
}

/** out[i] = x[i] * keep(i) / (1-p) for i < n. */
export function dropoutForwardCpu(
  out: FloatArray,
  x: ArrayLike<number>,
  n: number,
  p: number,
  seed: number,
): void {
  const thr = dropoutThreshold(p), scale = dropoutScale(p);
  for (let i = 0; i < n; i++) out[i] = dropoutKeep(seed, i, thr) ? x[i] * scale : 0;
}

/** dX[i] = dOut[i] * keep(i) / (1-p): the same mask as the forward. */
export function dropoutBackwardCpu(
  dX: FloatArray,
  dOut: ArrayLike<number>,
  n: number,
  p: number,
  seed: number,
): void {
  dropoutForwardCpu(dX, dOut, n, p, seed);
}
