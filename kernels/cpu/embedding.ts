/**
 * CPU reference of BERT's embedding sum (word + position + token type), forward and backward.
 *
 * @module
 */

import type { FloatArray } from "./types.ts";

/** out[b, t, :] = wte[ids[b,t]] + wpe[t] + wtt[typeIds[b,t]]; out (B*T, C). */
export function embeddingForwardCpu(
  out: FloatArray,
  ids: ArrayLike<number>,
  typeIds: ArrayLike<number>,
  wte: ArrayLike<number>,
  wpe: ArrayLike<number>,
  wtt: ArrayLike<number>,
  B: number,
  T: number,
  C: number,
): void {
  for (let r = 0; r < B * T; r++) {
    const w = ids[r] * C, p = (r % T) * C, k = typeIds[r] * C;
    for (let c = 0; c < C; c++) out[r * C + c] = wte[w + c] + wpe[p + c] + wtt[k + c];
  }
}

/** dWte[ids[r]] += dOut[r], dWpe[t] += dOut[b, t], dWtt[typeIds[r]] += dOut[r] (accumulated). */
export function embeddingBackwardCpu(
  dWte: FloatArray,
  dWpe: FloatArray,
  dWtt: FloatArray,
  dOut: ArrayLike<number>,
  ids: ArrayLike<number>,
  typeIds: ArrayLike<number>,
  B: number,
  T: number,
  C: number,
): void {
  for (let r = 0; r < B * T; r++) {
    const w = ids[r] * C, p = (r % T) * C, k = typeIds[r] * C;
    for (let c = 0; c < C; c++) {
      const g = dOut[r * C + c];
      dWte[w + c] += g;
      dWpe[p + c] += g;
      dWtt[k + c] += g;
    }
  }
}
