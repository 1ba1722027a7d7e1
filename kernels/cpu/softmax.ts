/**
 * CPU reference of the row softmax with an optional additive mask, forward and backward.
 *
 * @module
 */

import type { FloatArray } from "./types.ts";

/**
 * probs[r, :] = softmax(x[r, :] + mask[floor(r / maskRowsPer), :]) over rows (N, L); `mask`
 * null adds nothing. Max-subtracted, so large negative mask values give exact zeros.
 */
export function softmaxForwardCpu(
  probs: FloatArray,
  x: ArrayLike<number>,
  N: number,
  L: number,
  mask: ArrayLike<number> | null = null,
  maskRowsPer = 1,
): void {
  for (let r = 0; r < N; r++) {
    const o = r * L, mo = Math.floor(r / maskRowsPer) * L;
    let mx = -Infinity;
    for (let j = 0; j < L; j++) mx = Math.max(mx, x[o + j] + (mask ? mask[mo + j] : 0));
    let sum = 0;
    for (let j = 0; j < L; j++) {
      const e = Math.exp(x[o + j] + (mask ? mask[mo + j] : 0) - mx);
      probs[o + j] = e;
      sum += e;
    }
    for (let j = 0; j < L; j++) probs[o + j] /= sum;
  }
}

/** dX = probs·(dProbs - Σ_j probs·dProbs) per row (assigned). */
export function softmaxBackwardCpu(
  dX: FloatArray,
  dProbs: ArrayLike<number>,
  probs: ArrayLike<number>,
  N: number,
  L: number,
): void {
  for (let r = 0; r < N; r++) {
    const o = r * L;
    let dot = 0;
    for (let j = 0; j < L; j++) dot += probs[o + j] * dProbs[o + j];
    for (let j = 0; j < L; j++) dX[o + j] = probs[o + j] * (dProbs[o + j] - dot);
  }
}
