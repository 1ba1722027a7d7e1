/**
 * CPU reference of multi-head scaled dot-product attention with an additive padding mask and
 * dropout on the attention probabilities, forward and backward, as Hugging Face BERT computes it.
 *
 * @module
 */

import { dropoutKeep, dropoutScale, dropoutThreshold } from "./dropout.ts";
import type { FloatArray } from "./types.ts";

/** Sizes of an attention call: batch, tokens, heads, head width; C = H·D. */
export interface AttentionDimsCpu {
  B: number;
  T: number;
  H: number;
  D: number;
  dropoutP?: number;
  seed?: number;
}

/**
 * probs[b,h,i,:] = softmax(q_i·k_j/√D + mask[b,j]); out[b,i,h·D+d] = Σ_j drop(probs)[i,j]·v[b,j,h·D+d].
 * q, k, v, out (B, T, C); mask (B, T); probs (B, H, T, T) holds the probabilities before dropout.
 */
export function attentionForwardCpu(
  out: FloatArray,
  probs: FloatArray,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  mask: ArrayLike<number>,
  dims: AttentionDimsCpu,
): void {
  const { B, T, H, D } = dims, C = H * D, scale = 1 / Math.sqrt(D);
  const p = dims.dropoutP ?? 0, seed = dims.seed ?? 0;
  const thr = dropoutThreshold(p, "attention"), ds = dropoutScale(p);
  const row = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const qo = (b * T + i) * C + h * D;
        let mx = -Infinity;
        for (let j = 0; j < T; j++) {
          const ko = (b * T + j) * C + h * D;
          let s = 0;
          for (let d = 0; d < D; d++) s += q[qo + d] * k[ko + d];
          row[j] = s * scale + mask[b * T + j];
          mx = Math.max(mx, row[j]);
        }
        let sum = 0;
        for (let j = 0; j < T; j++) {
          row[j] = Math.exp(row[j] - mx);
          sum += row[j];
        }
        const po = ((b * H + h) * T + i) * T;
        for (let j = 0; j < T; j++) probs[po + j] = row[j] / sum;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < T; j++) {
            const pd = p > 0 ? probs[po + j] * dropoutKeep(seed, po + j, thr) * ds : probs[po + j];
            acc += pd * v[(b * T + j) * C + h * D + d];
          }
          out[qo + d] = acc;
        }
      }
    }
  }
}

/** dQ, dK, dV (B, T, C) of {@linkcode attentionForwardCpu} (assigned), from the saved probs. */
export function attentionBackwardCpu(
  dQ: FloatArray,
  dK: FloatArray,
  dV: FloatArray,
  dOut: ArrayLike<number>,
  probs: ArrayLike<number>,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: AttentionDimsCpu,
): void {
  const { B, T, H, D } = dims, C = H * D, scale = 1 / Math.sqrt(D);
  const p = dims.dropoutP ?? 0, seed = dims.seed ?? 0;
  const thr = dropoutThreshold(p, "attention"), ds = dropoutScale(p);
  dQ.fill(0, 0, B * T * C);
  dK.fill(0, 0, B * T * C);
  dV.fill(0, 0, B * T * C);
  const dP = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const po = ((b * H + h) * T + i) * T, oo = (b * T + i) * C + h * D;
        let dot = 0;
        for (let j = 0; j < T; j++) {
          const vo = (b * T + j) * C + h * D;
          const keep = p > 0 ? dropoutKeep(seed, po + j, thr) * ds : 1;
          let s = 0;
          for (let d = 0; d < D; d++) {
            s += dOut[oo + d] * v[vo + d];
            dV[vo + d] += probs[po + j] * keep * dOut[oo + d];
          }
          dP[j] = s * keep;
          dot += probs[po + j] * dP[j];
        }
        for (let j = 0; j < T; j++) {
          const dS = probs[po + j] * (dP[j] - dot) * scale, ko = (b * T + j) * C + h * D;
          for (let d = 0; d < D; d++) {
            dQ[oo + d] += dS * k[ko + d];
            dK[ko + d] += dS * q[oo + d];
          }
        }
      }
    }
  }
}
