/**
 * softmax over the last dimension of rows (N, L) with an optional additive mask, forward and
 * backward:
 *   probs[r, j] = exp(z[r, j] - max_j z[r, :]) / Σ_j exp(z[r, j] - max)   with z = x + mask row,
 *   dX[r, j]    = probs[r, j]·(dProbs[r, j] - Σ_k probs[r, k]·dProbs[r, k])   (assigned).
 * The mask has rows (G, L); row r of x uses mask row floor(r / maskRowsPer), so attention scores
 * (B·H·T, T) use a padding mask (B, T) with maskRowsPer = H·T. Large negative mask values (HF
 * BERT uses the dtype minimum or -10000) give exact zeros; a row masked everywhere with -Infinity
 * has no softmax and gives NaN.
 *
 * The forward reads each row twice (an online max and sum, then the write); rows whose width is a
 * multiple of 4 load vec4s.
 *
 * A row kernel (see `row.ts`): LANES invocations per row.
 *
 * @module
 */

import { type Batch, type Gpu, GpuError, packParams, WGSL_WG_INDEX } from "./device.ts";
import { type RowKernelOptions, rowLaunch, rowVec, WGSL_ROW_REDUCE, wgslRowVec } from "./row.ts";
import { assertNoAlias, assertSize, type Tensor } from "./tensor.ts";

// In place (attention's scores become probabilities), x is the output binding and is read and
// written: each lane writes only the elements it read, after its row's reductions. Widths W are
// in elements of V (L/4 for vec4).
const softmaxForwardWgsl = (inPlace: boolean, vec: boolean) => /* wgsl */ `
${WGSL_ROW_REDUCE}
${wgslRowVec(vec)}
override HAS_MASK: bool = false;
struct Params { N: u32, W: u32, maskRowsPer: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${
  inPlace
    ? `@group(0) @binding(1) var<storage, read_write> x: array<V>;
@group(0) @binding(2) var<storage, read> mask: array<V>;`
    : `@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> mask: array<V>;
@group(0) @binding(3) var<storage, read_write> probs: array<V>;`
}

fn z(o: u32, mo: u32, j: u32) -> V {
  if (HAS_MASK) { return x[o + j] + mask[mo + j]; }
  return x[o + j];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let lane = lid % LANES;
  let row = wgIndex * (WG / LANES) + lid / LANES;
  // Rows past N redo the last row so that every invocation reaches the barriers.
  let r = min(row, p.N - 1u);
  let o = r * p.W;
  let mo = (r / p.maskRowsPer) * p.W;
  // Online max and sum (one read of the row instead of two): rescale the sum when the max grows.
  var m = -3.402823e38;
  var s = 0.0;
  for (var j = lane; j < p.W; j += LANES) {
    let v = z(o, mo, j);
    let mj = max(m, hmax(v));
    s = s * exp(m - mj) + hsum(exp(v - mj));
    m = mj;
  }
  let rm = rowMax(m, lid);
  s = rowSum(s * exp(m - rm), lid);
  m = rm;
  let inv = 1.0 / s;
  if (row < p.N) {
    for (var j = lane; j < p.W; j += LANES) {
      ${inPlace ? "x" : "probs"}[o + j] = exp(z(o, mo, j) - m) * inv;
    }
  }
}`;

const softmaxBackwardWgsl = (vec: boolean) => /* wgsl */ `
${WGSL_ROW_REDUCE}
${wgslRowVec(vec)}
struct Params { N: u32, W: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dProbs: array<V>;
@group(0) @binding(2) var<storage, read> probs: array<V>;
@group(0) @binding(3) var<storage, read_write> dX: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let lane = lid % LANES;
  let row = wgIndex * (WG / LANES) + lid / LANES;
  let r = min(row, p.N - 1u);
  let o = r * p.W;
  var d = 0.0;
  for (var j = lane; j < p.W; j += LANES) { d += hsum(probs[o + j] * dProbs[o + j]); }
  d = rowSum(d, lid);
  if (row < p.N) {
    for (var j = lane; j < p.W; j += LANES) { dX[o + j] = probs[o + j] * (dProbs[o + j] - d); }
  }
}`;

const SOFTMAX_WGSL = {
  forward: [softmaxForwardWgsl(false, false), softmaxForwardWgsl(false, true)],
  inplace: [softmaxForwardWgsl(true, false), softmaxForwardWgsl(true, true)],
  backward: [softmaxBackwardWgsl(false), softmaxBackwardWgsl(true)],
};

/** Sizes of a softmax: N rows of width L, an optional additive mask and its row sharing. */
export interface SoftmaxDims extends RowKernelOptions {
  N: number;
  L: number;
  /** Additive mask of ceil(N / maskRowsPer) rows of width L. */
  mask?: Tensor;
  /** Consecutive rows of x that share one mask row (default 1). */
  maskRowsPer?: number;
}

/**
 * Records probs = softmax(x + mask) over rows (N, L); probs (N, L) is saved for the backward.
 * `probs` may be `x` itself (in place).
 *
 * @example
 * ```ts ignore
 * // attention scores (B·H·T, T) with a padding mask (B, T)
 * softmaxForward(b, probs, scores, { N: B * H * T, L: T, mask, maskRowsPer: H * T });
 * ```
 */
export function softmaxForward(batch: Batch, probs: Tensor, x: Tensor, dims: SoftmaxDims): void {
  const op = "softmaxForward", { N, L, mask } = dims, per = dims.maskRowsPer ?? 1;
  assertSize(op, "x", x, N * L);
  assertSize(op, "probs", probs, N * L);
  if (!Number.isInteger(per) || per < 1) {
    throw new GpuError(`${op}: maskRowsPer ${per} is not a positive integer`);
  }
  if (mask) assertSize(op, "mask", mask, Math.ceil(N / per) * L);
  const inPlace = probs.buffer === x.buffer;
  if (inPlace && probs !== x) {
    throw new GpuError(`${op}: probs '${probs.label}' shares x's buffer but is another tensor`);
  }
  if (mask) assertNoAlias(op, [["probs", probs]], [["mask", mask]]);
  if (N === 0 || L === 0) return;
  const { vec, W } = rowVec(L);
  const shape = rowLaunch(batch.gpu, N, W, dims.lanes);
  const name = `softmax_forward${inPlace ? "_inplace" : ""}${vec ? "_vec4" : ""}`;
  const pipe = batch.gpu.pipeline(name, SOFTMAX_WGSL[inPlace ? "inplace" : "forward"][+vec], {
    ...shape.constants,
    HAS_MASK: mask ? 1 : 0,
  });
  const bufs = inPlace ? [x, mask ?? dummy(batch.gpu)] : [x, mask ?? x, probs];
  batch.dispatch(pipe, bufs, packParams([N, W, per]), shape.workgroups);
}

const dummies = new WeakMap<Gpu, GPUBuffer>();

// The in-place kernel binds x read-write, so an absent mask cannot be x itself.
function dummy(gpu: Gpu): GPUBuffer {
  let b = dummies.get(gpu);
  if (!b) dummies.set(gpu, b = gpu.createBuffer(16, "softmax no mask"));
  return b;
}

/** Records dX = probs·(dProbs - Σ probs·dProbs) over rows (N, L) (assigned). */
export function softmaxBackward(
  batch: Batch,
  dX: Tensor,
  dProbs: Tensor,
  probs: Tensor,
  dims: { N: number; L: number } & RowKernelOptions,
): void {
  const op = "softmaxBackward", { N, L } = dims;
  for (const [name, t] of [["dX", dX], ["dProbs", dProbs], ["probs", probs]] as const) {
    assertSize(op, name, t, N * L);
  }
  assertNoAlias(op, [["dX", dX]], [["dProbs", dProbs], ["probs", probs]]);
  if (N === 0 || L === 0) return;
  const { vec, W } = rowVec(L);
  const shape = rowLaunch(batch.gpu, N, W, dims.lanes);
  const name = vec ? "softmax_backward_vec4" : "softmax_backward";
  const pipe = batch.gpu.pipeline(name, SOFTMAX_WGSL.backward[+vec], shape.constants);
  batch.dispatch(pipe, [dProbs, probs, dX], packParams([N, W]), shape.workgroups);
}
