/**
 * CPU references of {@linkcode biattentionForward} and {@linkcode biattentionBackward}
 * (../biattention.ts), in float64, following the same math. The choice model's float64
 * reference (model/reference.ts) uses them too.
 *
 * @module
 */

/** Sizes of a BiAttention call (as in ../biattention.ts). */
export interface BiAttentionDimsCpu {
  A: number;
  S: number;
  Ta: number;
  Tm: number;
  C: number;
}

/** What the forward saves for the backward. */
export interface BiAttentionSavedCpu {
  w1: Float64Array;
  argmax: Int32Array;
  w2: Float64Array;
  o1: Float64Array;
  o2: Float64Array;
}

/** The state of each action from the group sizes (actions per state, in order). */
export function stateOfSizes(sizes: readonly number[]): Int32Array {
  const A = sizes.reduce((x, y) => x + y, 0);
  const out = new Int32Array(A);
  let a = 0;
  sizes.forEach((n, s) => {
    for (let k = 0; k < n; k++) out[a++] = s;
  });
  return out;
}

/** Forward: out (A, Ta, 4C) = [x, o1, x⊙o1, o2⊙o1] and the saved tensors. */
export function biattentionForwardCpu(
  x: ArrayLike<number>,
  mem: ArrayLike<number>,
  mask: ArrayLike<number>,
  stateOf: ArrayLike<number>,
  wIn: ArrayLike<number>,
  wMem: ArrayLike<number>,
  scale: ArrayLike<number>,
  d: BiAttentionDimsCpu,
): { out: Float64Array; saved: BiAttentionSavedCpu } {
  const { A, S, Ta, Tm, C } = d;
  const inDot = new Float64Array(A * Ta), memDot = new Float64Array(S * Tm);
  for (let r = 0; r < A * Ta; r++) {
    for (let c = 0; c < C; c++) inDot[r] += x[r * C + c] * wIn[c];
  }
  for (let r = 0; r < S * Tm; r++) {
    for (let c = 0; c < C; c++) memDot[r] += mem[r * C + c] * wMem[c];
  }
  const w1 = new Float64Array(A * Ta * Tm), argmax = new Int32Array(A * Ta);
  const mx = new Float64Array(A * Ta), o1 = new Float64Array(A * Ta * C);
  for (let a = 0; a < A; a++) {
    const s = stateOf[a];
    for (let i = 0; i < Ta; i++) {
      const r = a * Ta + i, row = r * Tm;
      let best = -Infinity, am = 0;
      for (let j = 0; j < Tm; j++) {
        let cross = 0;
        for (let c = 0; c < C; c++) cross += x[r * C + c] * scale[c] * mem[(s * Tm + j) * C + c];
        const att = inDot[r] + memDot[s * Tm + j] + cross - 1e30 * (1 - mask[s * Tm + j]);
        w1[row + j] = att;
        if (att > best) {
          best = att;
          am = j;
        }
      }
      mx[r] = best;
      argmax[r] = am;
      let z = 0;
      for (let j = 0; j < Tm; j++) z += w1[row + j] = Math.exp(w1[row + j] - best);
      for (let j = 0; j < Tm; j++) w1[row + j] /= z;
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let j = 0; j < Tm; j++) acc += w1[row + j] * mem[(s * Tm + j) * C + c];
        o1[r * C + c] = acc;
      }
    }
  }
  // weight_two runs over ALL Ta action positions: WebShop does not mask action padding here.
  const w2 = new Float64Array(A * Ta), o2 = new Float64Array(A * C);
  for (let a = 0; a < A; a++) {
    let best = -Infinity;
    for (let i = 0; i < Ta; i++) best = Math.max(best, mx[a * Ta + i]);
    let z = 0;
    for (let i = 0; i < Ta; i++) z += w2[a * Ta + i] = Math.exp(mx[a * Ta + i] - best);
    for (let i = 0; i < Ta; i++) w2[a * Ta + i] /= z;
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let i = 0; i < Ta; i++) acc += w2[a * Ta + i] * x[(a * Ta + i) * C + c];
      o2[a * C + c] = acc;
    }
  }
  const out = new Float64Array(A * Ta * 4 * C);
  for (let r = 0; r < A * Ta; r++) {
    const a = Math.floor(r / Ta);
    for (let c = 0; c < C; c++) {
      const xv = x[r * C + c], ov = o1[r * C + c];
      out[r * 4 * C + c] = xv;
      out[r * 4 * C + C + c] = ov;
      out[r * 4 * C + 2 * C + c] = xv * ov;
      out[r * 4 * C + 3 * C + c] = o2[a * C + c] * ov;
    }
  }
  return { out, saved: { w1, argmax, w2, o1, o2 } };
}

/** Backward: returns dX (A, Ta, C) and dMem (S, Tm, C); dWIn, dWMem, dScale accumulate. */
export function biattentionBackwardCpu(
  dOut: ArrayLike<number>,
  saved: BiAttentionSavedCpu,
  x: ArrayLike<number>,
  mem: ArrayLike<number>,
  stateOf: ArrayLike<number>,
  wIn: ArrayLike<number>,
  wMem: ArrayLike<number>,
  scale: ArrayLike<number>,
  grads: { dWIn: Float64Array; dWMem: Float64Array; dScale: Float64Array },
  d: BiAttentionDimsCpu,
): { dX: Float64Array; dMem: Float64Array } {
  const { A, S, Ta, Tm, C } = d;
  const { w1, w2, o1, o2, argmax } = saved;
  const dX = new Float64Array(A * Ta * C), dO1 = new Float64Array(A * Ta * C);
  const dO2 = new Float64Array(A * C);
  for (let r = 0; r < A * Ta; r++) {
    const a = Math.floor(r / Ta);
    for (let c = 0; c < C; c++) {
      const g0 = dOut[r * 4 * C + c], g1 = dOut[r * 4 * C + C + c];
      const g2 = dOut[r * 4 * C + 2 * C + c], g3 = dOut[r * 4 * C + 3 * C + c];
      dX[r * C + c] = g0 + g2 * o1[r * C + c];
      dO1[r * C + c] = g1 + g2 * x[r * C + c] + g3 * o2[a * C + c];
      dO2[a * C + c] += g3 * o1[r * C + c];
    }
  }
  // o2 = Σ_i w2·x; w2 = softmax_i(mx); mx = max_j att.
  const dAtt = new Float64Array(A * Ta * Tm);
  for (let a = 0; a < A; a++) {
    const dw2 = new Float64Array(Ta);
    let dot = 0;
    for (let i = 0; i < Ta; i++) {
      let s = 0;
      for (let c = 0; c < C; c++) {
        s += dO2[a * C + c] * x[(a * Ta + i) * C + c];
        dX[(a * Ta + i) * C + c] += w2[a * Ta + i] * dO2[a * C + c];
      }
      dw2[i] = s;
      dot += s * w2[a * Ta + i];
    }
    for (let i = 0; i < Ta; i++) {
      const r = a * Ta + i;
      dAtt[r * Tm + argmax[r]] += w2[r] * (dw2[i] - dot);
    }
  }
  // o1 = w1·mem[s]; w1 = softmax_j(att).
  const dMem = new Float64Array(S * Tm * C);
  for (let r = 0; r < A * Ta; r++) {
    const s = stateOf[Math.floor(r / Ta)];
    const dw1 = new Float64Array(Tm);
    let dot = 0;
    for (let j = 0; j < Tm; j++) {
      let acc = 0;
      for (let c = 0; c < C; c++) {
        acc += dO1[r * C + c] * mem[(s * Tm + j) * C + c];
        dMem[(s * Tm + j) * C + c] += w1[r * Tm + j] * dO1[r * C + c];
      }
      dw1[j] = acc;
      dot += acc * w1[r * Tm + j];
    }
    for (let j = 0; j < Tm; j++) dAtt[r * Tm + j] += w1[r * Tm + j] * (dw1[j] - dot);
  }
  // att = x·wIn + mem·wMem + Σ_c x·scale·mem (the mask term is constant).
  for (let r = 0; r < A * Ta; r++) {
    const s = stateOf[Math.floor(r / Ta)];
    let dIn = 0;
    for (let j = 0; j < Tm; j++) {
      const g = dAtt[r * Tm + j];
      if (g === 0) continue;
      dIn += g;
      const mr = (s * Tm + j) * C;
      for (let c = 0; c < C; c++) {
        dMem[mr + c] += g * wMem[c] + g * scale[c] * x[r * C + c];
        grads.dWMem[c] += g * mem[mr + c];
        dX[r * C + c] += g * scale[c] * mem[mr + c];
        grads.dScale[c] += g * x[r * C + c] * mem[mr + c];
      }
    }
    for (let c = 0; c < C; c++) {
      dX[r * C + c] += dIn * wIn[c];
      grads.dWIn[c] += dIn * x[r * C + c];
    }
  }
  return { dX, dMem };
}
