/**
 * CPU reference of the residual kernels: a scaled sum of two tensors, a scaling, and an
 * accumulate used by backwards where two branches meet.
 *
 * @module
 */

import type { FloatArray } from "./types.ts";

/** out = scaleA*a + scaleB*b over n elements. */
export function residualForwardCpu(
  out: FloatArray,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  scaleA = 1,
  scaleB = 1,
): void {
  for (let i = 0; i < n; i++) out[i] = scaleA * a[i] + scaleB * b[i];
}

/** dA = scaleA*dOut, dB = scaleB*dOut (activation gradients: assigned). */
export function residualBackwardCpu(
  dA: FloatArray | null,
  dB: FloatArray | null,
  dOut: ArrayLike<number>,
  n: number,
  scaleA = 1,
  scaleB = 1,
): void {
  for (let i = 0; i < n; i++) {
    if (dA) dA[i] = scaleA * dOut[i];
    if (dB) dB[i] = scaleB * dOut[i];
  }
}

/** out = s*x over n elements. */
export function scaleForwardCpu(out: FloatArray, x: ArrayLike<number>, n: number, s: number): void {
  for (let i = 0; i < n; i++) out[i] = s * x[i];
}

/** dst += scale*src over n elements. */
export function addIntoCpu(dst: FloatArray, src: ArrayLike<number>, n: number, scale = 1): void {
  for (let i = 0; i < n; i++) dst[i] += scale * src[i];
}
