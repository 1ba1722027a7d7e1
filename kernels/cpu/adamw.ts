/**
 * CPU reference of `../adamw.ts`: one AdamW step with PyTorch's formulas
 * (torch.optim.AdamW, single-tensor path), in whatever precision the arrays hold. Tests run it
 * in float64.
 *
 * @module
 */

import type { FloatVec } from "./segment.ts";

/** Hyper-parameters of one AdamW step; `step` is the 1-based step count t. */
export interface AdamWStepParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/**
 * CPU reference of `adamwStep`, updating param, m and v in place:
 * p *= 1 - lr*wd; m = lerp(m, g, 1 - beta1); v = beta2*v + (1 - beta2)*g^2;
 * p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 */
export function adamwStepCpu(
  param: FloatVec,
  grad: ArrayLike<number>,
  m: FloatVec,
  v: FloatVec,
  h: AdamWStepParams,
): void {
  const bc1 = 1 - h.beta1 ** h.step, bc2Sqrt = Math.sqrt(1 - h.beta2 ** h.step);
  const stepSize = h.lr / bc1;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i];
    param[i] *= 1 - h.lr * h.weightDecay;
    m[i] += (g - m[i]) * (1 - h.beta1);
    v[i] = v[i] * h.beta2 + (1 - h.beta2) * g * g;
    param[i] -= stepSize * m[i] / (Math.sqrt(v[i]) / bc2Sqrt + h.eps);
  }
}
