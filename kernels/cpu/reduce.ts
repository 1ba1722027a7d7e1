/**
 * CPU references of the reductions in `../reduce.ts`. Sums accumulate in float64, so they are
 * the exact answer the GPU's float32 tree is compared with.
 *
 * @module
 */

import type { FloatVec } from "./segment.ts";

/** CPU reference of `sumForward`: the sum of the first `n` elements. */
export function sumCpu(x: ArrayLike<number>, n = x.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  return s;
}

/** CPU reference of `meanForward`: the mean of the first `n` elements (NaN when n is 0). */
export function meanCpu(x: ArrayLike<number>, n = x.length): number {
  return sumCpu(x, n) / n;
}

/**
 * CPU reference of `rowMaxForward`: per row of x (N, L), the max and its first index (as
 * torch.max); a NaN wins, at its first index.
 */
export function rowMaxForwardCpu(
  out: FloatVec,
  argmax: Uint32Array,
  x: ArrayLike<number>,
  N: number,
  L: number,
): void {
  for (let r = 0; r < N; r++) {
    let best = -Infinity, arg = 0;
    for (let l = 0; l < L; l++) {
      const v = x[r * L + l];
      if (Number.isNaN(v)) {
        best = v;
        arg = l;
        break;
      }
      if (v > best) {
        best = v;
        arg = l;
      }
    }
    out[r] = best;
    argmax[r] = arg;
  }
}

/** CPU reference of `rowMaxBackward`: dX (N, L) is dOut[r] at the row's argmax, else 0. */
export function rowMaxBackwardCpu(
  dX: FloatVec,
  dOut: ArrayLike<number>,
  argmax: ArrayLike<number>,
  N: number,
  L: number,
): void {
  dX.fill(0, 0, N * L);
  for (let r = 0; r < N; r++) dX[r * L + argmax[r]] = dOut[r];
}

/** CPU reference of `globalNormForward`: sqrt of the sum of squares over all tensors. */
export function globalNormCpu(tensors: readonly ArrayLike<number>[]): number {
  let s = 0;
  for (const t of tensors) for (let i = 0; i < t.length; i++) s += t[i] * t[i];
  return Math.sqrt(s);
}

/**
 * CPU reference of `clipByGlobalNorm` (torch.nn.utils.clip_grad_norm_): scales every tensor in
 * place by min(1, maxNorm / (norm + 1e-6)) and returns that factor.
 */
export function clipByGlobalNormCpu(
  tensors: readonly FloatVec[],
  norm: number,
  maxNorm: number,
): number {
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  for (const t of tensors) for (let i = 0; i < t.length; i++) t[i] *= coef;
  return coef;
}

/** CPU reference of `nonFiniteFlag`: true when any element is NaN or ±Infinity. */
export function hasNonFiniteCpu(tensors: readonly ArrayLike<number>[]): boolean {
  for (const t of tensors) {
    for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i])) return true;
  }
  return false;
}
