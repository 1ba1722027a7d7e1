/**
 * Seeded random initialisation of host weights, as PyTorch and Hugging Face do it: normal(0, std)
 * for BERT's Linear and Embedding weights, uniform(-1/√fan_in, 1/√fan_in) for a plain
 * `nn.Linear`, constants for LayerNorm and biases.
 *
 * @module
 */

import { mulberry32 } from "../base/random.ts";

/** A seeded generator of uniform floats in [0, 1) (mulberry32): same seed, same weights. */
export const seededUniform: (seed: number) => () => number = mulberry32;

/** Mixes a base seed with a name so every tensor gets its own stream (FNV-1a of the name). */
export function seedFor(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** `n` values from normal(0, std) (Box-Muller), seeded. */
export function normalInit(n: number, std: number, seed: number): Float32Array {
  const r = seededUniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12), v = r();
    const rad = std * Math.sqrt(-2 * Math.log(u));
    out[i] = rad * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = rad * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** `n` values from uniform(lo, hi), seeded. */
export function uniformInit(n: number, lo: number, hi: number, seed: number): Float32Array {
  const r = seededUniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/**
 * PyTorch's default `nn.Linear` init for a weight or bias of a layer with `fanIn` inputs:
 * kaiming_uniform(a=√5) on the weight gives uniform(-1/√fanIn, 1/√fanIn), as does the bias.
 */
export function torchLinearInit(n: number, fanIn: number, seed: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return uniformInit(n, -bound, bound, seed);
}

/** `n` copies of `value`. */
export function constantInit(n: number, value: number): Float32Array {
  return new Float32Array(n).fill(value);
}
