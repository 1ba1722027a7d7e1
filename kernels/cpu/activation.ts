/**
 * CPU reference of the activation kernels: BERT's erf GELU, ReLU, LeakyReLU and tanh, forward and
 * backward. `erfApprox` is the same float32 rational approximation the WGSL evaluates.
 *
 * @module
 */

import type { FloatArray } from "./types.ts";

/** Numerator coefficients (odd powers, highest first) of the float32 erf of Eigen and XLA. */
export const ERF_ALPHA: readonly number[] = [
  -2.72614225801306e-10,
  2.77068142495902e-08,
  -2.10102402082508e-06,
  -5.69250639462346e-05,
  -7.34990630326855e-04,
  -2.95459980854025e-03,
  -1.60960333262415e-02,
];
/** Denominator coefficients (even powers, highest first) of the same approximation. */
export const ERF_BETA: readonly number[] = [
  -1.45660718464996e-05,
  -2.13374055278905e-04,
  -1.68282697438203e-03,
  -7.37332916720468e-03,
  -1.42647390514189e-02,
];

/**
 * erf(x) as x·α(x²)/β(x²) on x clamped to [-4, 4] (erf(±4) is ±1 to within 2e-8), the minimax
 * rational form Eigen and XLA use for float32; the result is clamped to [-1, 1].
 */
export function erfApprox(x: number): number {
  const c = Math.min(4, Math.max(-4, x));
  const x2 = c * c;
  let p = 0, q = 0;
  for (const a of ERF_ALPHA) p = p * x2 + a;
  for (const b of ERF_BETA) q = q * x2 + b;
  return Math.min(1, Math.max(-1, (c * p) / q));
}

/**
 * A float64 erf accurate to about 1e-15 for the tests: erf(x) = 2/√π·e^(-x²)·Σ 2ⁿx^(2n+1)/(2n+1)!!,
 * a series of positive terms (no cancellation), and ±1 beyond |x| = 6 (erfc(6) ≈ 2e-17).
 */
export function erf64(x: number): number {
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a, sum = a;
  for (let n = 1; n < 400; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** out = 0.5·x·(1 + erf(x/√2)). */
export function geluForwardCpu(out: FloatArray, x: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) out[i] = 0.5 * x[i] * (1 + erfApprox(x[i] * INV_SQRT2));
}

/** dX = dOut·(Φ(x) + x·φ(x)) where Φ is the normal CDF and φ its density. */
export function geluBackwardCpu(
  dX: FloatArray,
  dOut: ArrayLike<number>,
  x: ArrayLike<number>,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const cdf = 0.5 * (1 + erfApprox(v * INV_SQRT2));
    dX[i] = dOut[i] * (cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
  }
}

/** out = max(x, 0). */
export function reluForwardCpu(out: FloatArray, x: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : 0;
}

/** dX = dOut where x > 0, else 0 (the subgradient at 0 is 0, as PyTorch). */
export function reluBackwardCpu(
  dX: FloatArray,
  dOut: ArrayLike<number>,
  x: ArrayLike<number>,
  n: number,
): void {
  for (let i = 0; i < n; i++) dX[i] = x[i] > 0 ? dOut[i] : 0;
}

/** out = x where x > 0, else slope·x. */
export function leakyReluForwardCpu(
  out: FloatArray,
  x: ArrayLike<number>,
  n: number,
  slope = 0.01,
): void {
  for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : slope * x[i];
}

/** dX = dOut where x > 0, else slope·dOut. */
export function leakyReluBackwardCpu(
  dX: FloatArray,
  dOut: ArrayLike<number>,
  x: ArrayLike<number>,
  n: number,
  slope = 0.01,
): void {
  for (let i = 0; i < n; i++) dX[i] = x[i] > 0 ? dOut[i] : slope * dOut[i];
}

/** out = tanh(x). */
export function tanhForwardCpu(out: FloatArray, x: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
}

/** dX = dOut·(1 - out²), from the saved forward output. */
export function tanhBackwardCpu(
  dX: FloatArray,
  dOut: ArrayLike<number>,
  out: ArrayLike<number>,
  n: number,
): void {
  for (let i = 0; i < n; i++) dX[i] = dOut[i] * (1 - out[i] * out[i]);
}
