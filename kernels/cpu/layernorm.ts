/**
 * CPU reference of layer normalisation over the last dimension (rows N of width C), forward and
 * backward, as llm.c's `layernorm_forward_cpu` / `layernorm_backward_cpu`.
 *
 * @module
 */

import type { FloatArray } from "./types.ts";

/** out = (x - mean)·rstd·gamma + beta per row; saves mean (N) and rstd (N). Two-pass variance. */
export function layernormForwardCpu(
  out: FloatArray,
  mean: FloatArray,
  rstd: FloatArray,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  N: number,
  C: number,
  eps = 1e-12,
): void {
  for (let r = 0; r < N; r++) {
    const o = r * C;
    let m = 0;
    for (let c = 0; c < C; c++) m += x[o + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[o + c] - m) ** 2;
    const s = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) out[o + c] = (x[o + c] - m) * s * gamma[c] + beta[c];
    mean[r] = m;
    rstd[r] = s;
  }
}

/**
 * dX = rstd·(g - mean(g) - xhat·mean(g·xhat)) with g = dOut·gamma (assigned);
 * dGamma += Σ_rows dOut·xhat and dBeta += Σ_rows dOut (accumulated).
 */
export function layernormBackwardCpu(
  dX: FloatArray,
  dGamma: FloatArray,
  dBeta: FloatArray,
  dOut: ArrayLike<number>,
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  rstd: ArrayLike<number>,
  gamma: ArrayLike<number>,
  N: number,
  C: number,
): void {
  for (let r = 0; r < N; r++) {
    const o = r * C, m = mean[r], s = rstd[r];
    let gMean = 0, gxMean = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (x[o + c] - m) * s, g = dOut[o + c] * gamma[c];
      gMean += g;
      gxMean += g * xhat;
      dGamma[c] += dOut[o + c] * xhat;
      dBeta[c] += dOut[o + c];
    }
    gMean /= C;
    gxMean /= C;
    for (let c = 0; c < C; c++) {
      const xhat = (x[o + c] - m) * s;
      dX[o + c] = s * (dOut[o + c] * gamma[c] - gMean - xhat * gxMean);
    }
  }
}
