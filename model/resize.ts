/**
 * Resizing a token-embedding table for added tokens, as Hugging Face's
 * `PreTrainedModel.resize_token_embeddings` does (WebShop resizes bert-base-uncased's 30,522 rows
 * to 30,526 for its four button tokens).
 *
 * Two initialisations of the new rows, both Hugging Face's:
 * - `"mean"` (transformers >= 4.46, `mean_resizing=True`, the current default; read from
 *   `_init_added_embeddings_weights_with_mean`): sample each new row from a multivariate normal
 *   with the old rows' mean and 1e-9 times their covariance (Σ = Xcᵀ·Xc / N of the centred old
 *   rows); when that covariance is not positive definite, every new row is the mean.
 * - `"normal"` (transformers 4.19.2, the version WebShop pins): `_init_weights` of a fresh
 *   embedding, normal(0, initializer_range).
 * Old rows are copied unchanged; shrinking keeps the first rows. Samples use our own seeded
 * generator, so values differ from torch's while the distribution is the same.
 *
 * Cost: a row is drawn as mean + √(ε/N)·Xcᵀz with z ~ N(0, I_N), which has exactly the
 * covariance ε·Σ without forming Σ (N·C per row). Deciding "positive definite" needs Σ
 * (N·C²/2, about 9e9 multiply-adds and ~40 s in JS for bert-base), so above
 * `exactCheckLimit` we use the cheap equivalent for real embedding tables: Σ is singular when
 * N <= C or a column is constant, and otherwise taken as positive definite (true for any
 * trained embedding; an exactly collinear table is the one case where we would differ).
 *
 * @module
 */

import type { HostTensor } from "../kernels/tensor.ts";
import { normalInit } from "./init.ts";

/** Options of {@linkcode resizeTokenEmbeddings}. */
export interface ResizeOptions {
  /** How new rows start (default "mean", Hugging Face's current behaviour). */
  init?: "mean" | "normal";
  /** Std of the "normal" init (BERT's initializer_range, default 0.02). */
  std?: number;
  /** Seed of the random rows (default 0). */
  seed?: number;
  /**
   * Largest N·C² for which positive definiteness is decided exactly by a Cholesky factor of the
   * covariance (default 5e8); larger tables use the cheap rank test (see the module doc).
   */
  exactCheckLimit?: number;
}

/** Scale of the covariance new rows are drawn with (Hugging Face's `epsilon`). */
export const MEAN_RESIZE_EPSILON = 1e-9;

/**
 * Lower Cholesky factor of the symmetric `a` (n, n) in float64, or null when `a` is not
 * positive definite (a pivot <= 0), the test torch's `constraints.positive_definite` makes.
 */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) return null;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Mean (C) and covariance (C, C) of the rows of `x` (N, C), in float64. */
export function rowMeanCovariance(
  x: Float32Array,
  N: number,
  C: number,
): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(C);
  for (let r = 0; r < N; r++) for (let c = 0; c < C; c++) mean[c] += x[r * C + c];
  for (let c = 0; c < C; c++) mean[c] /= N;
  // Upper triangle, row by row: N·C²/2 multiply-adds (about 9e9 for bert-base; seconds, once).
  const cov = new Float64Array(C * C);
  const d = new Float64Array(C);
  for (let r = 0; r < N; r++) {
    for (let c = 0; c < C; c++) d[c] = x[r * C + c] - mean[c];
    for (let i = 0; i < C; i++) {
      const di = d[i], row = i * C;
      for (let j = i; j < C; j++) cov[row + j] += di * d[j];
    }
  }
  for (let i = 0; i < C; i++) {
    for (let j = i; j < C; j++) {
      const v = cov[i * C + j] / N;
      cov[i * C + j] = v;
      cov[j * C + i] = v;
    }
  }
  return { mean, cov };
}

/**
 * A copy of the (V, C) embedding `weight` with `newRows` rows: the first min(V, newRows) rows
 * copied, any added rows initialised as {@linkcode ResizeOptions.init} says.
 *
 * @example
 * ```ts
 * const wte = weights.get("bert.embeddings.word_embeddings.weight")!; // (30522, 768)
 * weights.set("bert.embeddings.word_embeddings.weight", resizeTokenEmbeddings(wte, 30526));
 * ```
 */
export function resizeTokenEmbeddings(
  weight: HostTensor,
  newRows: number,
  opts: ResizeOptions = {},
): HostTensor {
  if (weight.shape.length !== 2) {
    throw new RangeError(`resizeTokenEmbeddings: weight must be (V, C), got [${weight.shape}]`);
  }
  const [V, C] = weight.shape;
  if (!Number.isInteger(newRows) || newRows <= 0) {
    throw new RangeError(
      `resizeTokenEmbeddings: newRows must be a positive integer, got ${newRows}`,
    );
  }
  const out = new Float32Array(newRows * C);
  out.set(weight.data.subarray(0, Math.min(V, newRows) * C));
  const added = newRows - V;
  if (added <= 0) return { shape: [newRows, C], data: out };
  const seed = opts.seed ?? 0;
  if ((opts.init ?? "mean") === "normal") {
    out.set(normalInit(added * C, opts.std ?? 0.02, seed), V * C);
    return { shape: [newRows, C], data: out };
  }
  const x = weight.data;
  let definite: boolean;
  let mean: Float64Array;
  if (V * C * C <= (opts.exactCheckLimit ?? 5e8)) {
    const mc = rowMeanCovariance(x, V, C);
    mean = mc.mean;
    for (let i = 0; i < mc.cov.length; i++) mc.cov[i] *= MEAN_RESIZE_EPSILON;
    definite = cholesky(mc.cov, C) !== null;
  } else {
    mean = new Float64Array(C);
    const lo = new Float64Array(C).fill(Infinity), hi = new Float64Array(C).fill(-Infinity);
    for (let r = 0; r < V; r++) {
      for (let c = 0; c < C; c++) {
        const v = x[r * C + c];
        mean[c] += v;
        if (v < lo[c]) lo[c] = v;
        if (v > hi[c]) hi[c] = v;
      }
    }
    for (let c = 0; c < C; c++) mean[c] /= V;
    definite = V > C && lo.every((v, c) => v < hi[c]);
  }
  const z = normalInit(added * V, 1, seed);
  const scale = Math.sqrt(MEAN_RESIZE_EPSILON / V);
  const acc = new Float64Array(C);
  for (let r = 0; r < added; r++) {
    acc.fill(0);
    if (definite) {
      for (let n = 0; n < V; n++) {
        const zn = z[r * V + n], row = n * C;
        for (let c = 0; c < C; c++) acc[c] += zn * (x[row + c] - mean[c]);
      }
    }
    for (let c = 0; c < C; c++) out[(V + r) * C + c] = mean[c] + scale * acc[c];
  }
  return { shape: [newRows, C], data: out };
}
