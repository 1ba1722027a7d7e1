/**
 * Segment ops for WebShop's choice model, where a batch holds several states and each state has
 * a variable number of valid actions (an action group, or segment) and each action a variable
 * number of tokens.
 *
 * Segments are given by `offsets` (u32, S+1 entries, offsets[0] = 0, offsets[S] = N) over a flat
 * vector of N scores: segment s is x[offsets[s] .. offsets[s+1]). Empty segments are allowed.
 *
 * Math and gradient rules (dOut is the gradient of the loss with respect to out; every backward
 * assigns dX, it does not accumulate):
 * - log-softmax per segment: out_i = x_i - log sum_j exp(x_j);
 *   dX_i = dOut_i - exp(out_i) * sum_j dOut_j (j over the segment of i).
 * - masked mean over tokens: x (R, T, C), mask (R, T) → out (R, C) = sum_t mask*x / max(sum_t
 *   mask, 1); dX[r, t, c] = dOut[r, c] * mask[r, t] / max(sum_t mask, 1). Masked tokens (mask 0)
 *   are skipped, so padding that holds garbage (even NaN) does not leak into the mean.
 * - gather: out[s] = x[offsets[s] + targets[s]]; dX zero except dX[offsets[s] + targets[s]] =
 *   dOut[s].
 * - NLL loss: loss = -(1/S) sum_s weight[s] * logp[offsets[s] + targets[s]] (weights default 1);
 *   dLogp zero except the picked element of segment s, which gets -dLoss * weight[s] / S.
 *
 * A target outside its segment cannot throw on the GPU: gather writes NaN there, and the NLL
 * loss becomes NaN, so `nonFiniteFlag` (reduce.ts) catches it. The CPU references throw.
 *
 * Sizes come in a uniform, so one pipeline serves every batch; tensors may be larger than the
 * sizes (buffers allocated once at the largest batch).
 *
 * @module
 */

import { type Batch, type Gpu, GpuError, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { dispatchDistinct, MAX_PARTIALS, recordFinal, scratchOf } from "./reduce.ts";
import { assertDType, assertSize, type Tensor } from "./tensor.ts";
import { rowVec, wgslRowVec } from "./row.ts";

/** Sizes of the segment ops over a flat vector of N scores in S segments. */
export interface SegmentDims {
  /** Number of segments (states in the batch). */
  S: number;
  /** Number of scores (valid actions over the whole batch), offsets[S]. */
  N: number;
}

/** Sizes of {@linkcode maskedMeanForward}: rows, tokens per row, channels. */
export interface MaskedMeanDims {
  /** Rows (actions). */
  R: number;
  /** Tokens per row (padded). */
  T: number;
  /** Channels. */
  C: number;
}

function checkDims(op: string, dims: object, names: string[]): void {
  for (const k of names) {
    const v = (dims as Record<string, unknown>)[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new GpuError(`${op}: size ${k} = ${v} is not a non-negative integer`);
    }
  }
}

function checkSegments(op: string, offsets: Tensor, S: number): void {
  assertDType(op, "offsets", offsets, "u32");
  assertSize(op, "offsets", offsets, S + 1);
}

// One invocation per segment or row: action groups are small (tens of actions), so a serial loop
// within an invocation beats a workgroup reduction with barriers, expensive on llvmpipe.
function wgSize(gpu: Gpu): number {
  return gpu.isSoftware ? 64 : 128;
}

function launch1d(n: number, wg: number): number[] {
  return n === 0 ? [0] : grid(Math.ceil(n / wg));
}

const HEADER = /* wgsl */ `
override WG: u32 = 64;
fn nanF32() -> f32 { return bitcast<f32>(0x7fc00000u); }
`;

const LOG_SOFTMAX_FWD_WGSL = /* wgsl */ `${HEADER}
struct Params { S: u32, N: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (N)
@group(0) @binding(2) var<storage, read> offsets: array<u32>;    // (S+1)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (N)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let s = wgIndex * WG + lid;
  if (s >= p.S) { return; }
  let a = min(offsets[s], p.N);
  let b = min(offsets[s + 1u], p.N);
  // One pass for the max and the sum (online: the sum is rescaled when the max grows), then one
  // for the output, four elements per iteration and a scalar tail: on CPU rasterisers the
  // per-iteration cost of a loop whose trip count differs across lanes outweighs the loads
  // (1.4x faster than three scalar passes on lavapipe).
  var m = -3.402823e38;
  var z = 0.0;
  var i = a;
  for (; i + 4u <= b; i += 4u) {
    let v = vec4f(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
    let mn = max(m, max(max(v.x, v.y), max(v.z, v.w)));
    z = z * exp(m - mn) + dot(exp(v - mn), vec4f(1.0));
    m = mn;
  }
  for (; i < b; i++) {
    let v = x[i];
    let mn = max(m, v);
    z = z * exp(m - mn) + exp(v - mn);
    m = mn;
  }
  let lz = m + log(z);
  for (i = a; i + 4u <= b; i += 4u) {
    out[i] = x[i] - lz;
    out[i + 1u] = x[i + 1u] - lz;
    out[i + 2u] = x[i + 2u] - lz;
    out[i + 3u] = x[i + 3u] - lz;
  }
  for (; i < b; i++) { out[i] = x[i] - lz; }
}`;

const LOG_SOFTMAX_BWD_WGSL = /* wgsl */ `${HEADER}
struct Params { S: u32, N: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;      // (N)
@group(0) @binding(2) var<storage, read> out: array<f32>;       // (N) forward output
@group(0) @binding(3) var<storage, read> offsets: array<u32>;   // (S+1)
@group(0) @binding(4) var<storage, read_write> dX: array<f32>;  // (N)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let s = wgIndex * WG + lid;
  if (s >= p.S) { return; }
  let a = min(offsets[s], p.N);
  let b = min(offsets[s + 1u], p.N);
  // Four elements per iteration and a scalar tail, as the forward.
  var g = 0.0;
  var i = a;
  for (; i + 4u <= b; i += 4u) { g += (dOut[i] + dOut[i + 1u]) + (dOut[i + 2u] + dOut[i + 3u]); }
  for (; i < b; i++) { g += dOut[i]; }
  for (i = a; i + 4u <= b; i += 4u) {
    dX[i] = dOut[i] - exp(out[i]) * g;
    dX[i + 1u] = dOut[i + 1u] - exp(out[i + 1u]) * g;
    dX[i + 2u] = dOut[i + 2u] - exp(out[i + 2u]) * g;
    dX[i + 3u] = dOut[i + 3u] - exp(out[i + 3u]) * g;
  }
  for (; i < b; i++) { dX[i] = dOut[i] - exp(out[i]) * g; }
}`;

/**
 * Records out = log-softmax of x within each segment.
 *
 * Shapes: x (N), offsets u32 (S+1), out (N).
 *
 * @example
 * ```ts
 * segmentLogSoftmaxForward(batch, logp, scores, offsets, { S: 4, N: 37 });
 * ```
 */
export function segmentLogSoftmaxForward(
  batch: Batch,
  out: Tensor,
  x: Tensor,
  offsets: Tensor,
  dims: SegmentDims,
): void {
  const op = "segmentLogSoftmaxForward";
  checkDims(op, dims, ["S", "N"]);
  const { S, N } = dims;
  assertSize(op, "x", x, N);
  assertSize(op, "out", out, N);
  checkSegments(op, offsets, S);
  const { pipe, wg } = kernel(batch.gpu, "segment_log_softmax_fwd");
  dispatchDistinct(op, batch, pipe, [x, offsets, out], packParams([S, N]), launch1d(S, wg));
}

/**
 * Records dX = dOut - exp(out) * sum(dOut) within each segment (assigns dX).
 *
 * Shapes: dOut (N), out (N) the forward output, offsets u32 (S+1), dX (N).
 */
export function segmentLogSoftmaxBackward(
  batch: Batch,
  dX: Tensor,
  dOut: Tensor,
  out: Tensor,
  offsets: Tensor,
  dims: SegmentDims,
): void {
  const op = "segmentLogSoftmaxBackward";
  checkDims(op, dims, ["S", "N"]);
  const { S, N } = dims;
  assertSize(op, "dOut", dOut, N);
  assertSize(op, "out", out, N);
  assertSize(op, "dX", dX, N);
  checkSegments(op, offsets, S);
  const { pipe, wg } = kernel(batch.gpu, "segment_log_softmax_bwd");
  dispatchDistinct(op, batch, pipe, [dOut, out, offsets, dX], packParams([S, N]), launch1d(S, wg));
}

// W = C/4 with vec4 channels (C a multiple of 4), else C: one mask load serves four channels.
const maskedMeanForwardWgsl = (vec: boolean) =>
  /* wgsl */ `${HEADER}
${wgslRowVec(vec)}
struct Params { R: u32, T: u32, W: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;            // (R, T, C)
@group(0) @binding(2) var<storage, read> mask: array<f32>;       // (R, T)
@group(0) @binding(3) var<storage, read_write> out: array<V>;    // (R, C)

// One invocation per (r, channel group): neighbouring invocations read neighbouring channels.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let idx = wgIndex * WG + lid;
  if (idx >= p.R * p.W) { return; }
  let r = idx / p.W;
  let c = idx % p.W;
  var acc = V(0.0);
  var cnt = 0.0;
  for (var t = 0u; t < p.T; t++) {
    let w = mask[r * p.T + t];
    if (w != 0.0) {
      acc += w * x[(r * p.T + t) * p.W + c];
      cnt += w;
    }
  }
  out[idx] = acc / max(cnt, 1.0);
}`;

const maskedMeanBackwardWgsl = (vec: boolean) =>
  /* wgsl */ `${HEADER}
${wgslRowVec(vec)}
struct Params { R: u32, T: u32, W: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<V>;        // (R, C)
@group(0) @binding(2) var<storage, read> mask: array<f32>;      // (R, T)
@group(0) @binding(3) var<storage, read_write> dX: array<V>;    // (R, T, C)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let idx = wgIndex * WG + lid;
  if (idx >= p.R * p.W) { return; }
  let r = idx / p.W;
  let c = idx % p.W;
  var cnt = 0.0;
  for (var t = 0u; t < p.T; t++) { cnt += mask[r * p.T + t]; }
  let g = dOut[idx] / max(cnt, 1.0);
  for (var t = 0u; t < p.T; t++) { dX[(r * p.T + t) * p.W + c] = g * mask[r * p.T + t]; }
}`;

/**
 * Records the masked mean over tokens: out (R, C) = sum_t mask*x / max(sum_t mask, 1).
 *
 * Shapes: x (R, T, C), mask f32 (R, T) of 0/1 (other weights work too), out (R, C).
 *
 * @example
 * ```ts
 * maskedMeanForward(batch, pooled, hidden, attentionMask, { R: 16, T: 64, C: 768 });
 * ```
 */
export function maskedMeanForward(
  batch: Batch,
  out: Tensor,
  x: Tensor,
  mask: Tensor,
  dims: MaskedMeanDims,
): void {
  const op = "maskedMeanForward";
  checkDims(op, dims, ["R", "T", "C"]);
  const { R, T, C } = dims;
  assertSize(op, "x", x, R * T * C);
  assertSize(op, "mask", mask, R * T);
  assertDType(op, "mask", mask, "f32");
  assertSize(op, "out", out, R * C);
  const { vec, W } = rowVec(C);
  const { pipe, wg } = kernel(batch.gpu, vec ? "masked_mean_fwd_vec4" : "masked_mean_fwd");
  dispatchDistinct(op, batch, pipe, [x, mask, out], packParams([R, T, W]), launch1d(R * W, wg));
}

/**
 * Records dX (R, T, C) = dOut[r, c] * mask[r, t] / max(sum_t mask, 1) (assigns dX).
 *
 * Shapes: dOut (R, C), mask f32 (R, T), dX (R, T, C).
 */
export function maskedMeanBackward(
  batch: Batch,
  dX: Tensor,
  dOut: Tensor,
  mask: Tensor,
  dims: MaskedMeanDims,
): void {
  const op = "maskedMeanBackward";
  checkDims(op, dims, ["R", "T", "C"]);
  const { R, T, C } = dims;
  assertSize(op, "dOut", dOut, R * C);
  assertSize(op, "mask", mask, R * T);
  assertDType(op, "mask", mask, "f32");
  assertSize(op, "dX", dX, R * T * C);
  const { vec, W } = rowVec(C);
  const { pipe, wg } = kernel(batch.gpu, vec ? "masked_mean_bwd_vec4" : "masked_mean_bwd");
  dispatchDistinct(op, batch, pipe, [dOut, mask, dX], packParams([R, T, W]), launch1d(R * W, wg));
}

const GATHER_FWD_WGSL = /* wgsl */ `${HEADER}
struct Params { S: u32, N: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (N)
@group(0) @binding(2) var<storage, read> offsets: array<u32>;    // (S+1)
@group(0) @binding(3) var<storage, read> targets: array<u32>;    // (S)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // (S)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let s = wgIndex * WG + lid;
  if (s >= p.S) { return; }
  let a = offsets[s];
  let b = min(offsets[s + 1u], p.N);
  let t = targets[s];
  // A target outside its segment becomes NaN, which the non-finite check reports.
  if (t < b - min(a, b)) { out[s] = x[a + t]; } else { out[s] = nanF32(); }
}`;

/**
 * Records out[s] = x[offsets[s] + targets[s]] for each segment (NaN where the target is outside
 * its segment).
 *
 * Shapes: x (N), offsets u32 (S+1), targets u32 (S), out (S).
 */
export function gatherForward(
  batch: Batch,
  out: Tensor,
  x: Tensor,
  offsets: Tensor,
  targets: Tensor,
  dims: { S: number; N?: number },
): void {
  const op = "gatherForward";
  checkDims(op, { S: dims.S, N: dims.N ?? x.size }, ["S", "N"]);
  const S = dims.S, N = dims.N ?? x.size;
  assertSize(op, "x", x, N);
  assertSize(op, "out", out, S);
  checkSegments(op, offsets, S);
  assertDType(op, "targets", targets, "u32");
  assertSize(op, "targets", targets, S);
  const { pipe, wg } = kernel(batch.gpu, "gather_fwd");
  dispatchDistinct(
    op,
    batch,
    pipe,
    [x, offsets, targets, out],
    packParams([S, N]),
    launch1d(S, wg),
  );
}

/**
 * WGSL of the backward of a pick (gather or NLL): one invocation per element of dX finds its
 * segment by binary search over offsets, so every element is written exactly once (zero or the
 * picked gradient) in one dispatch, without a separate clear.
 */
function pickBackwardWgsl(kind: "gather" | "nll" | "nll_weighted"): string {
  const value = kind === "gather"
    ? "dOut[s]"
    : kind === "nll"
    ? "-dOut[0] / f32(p.S)"
    : "-dOut[0] * weights[s] / f32(p.S)";
  return /* wgsl */ `${HEADER}
struct Params { S: u32, N: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;      // (S) gather, (1) NLL
@group(0) @binding(2) var<storage, read> offsets: array<u32>;   // (S+1)
@group(0) @binding(3) var<storage, read> targets: array<u32>;   // (S)
@group(0) @binding(4) var<storage, read_write> dX: array<f32>;  // (N)
${
    kind === "nll_weighted"
      ? "@group(0) @binding(5) var<storage, read> weights: array<f32>; // (S)"
      : ""
  }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let i = wgIndex * WG + lid;
  if (i >= p.N || p.S == 0u) { return; }
  // s = the last segment with offsets[s] <= i (skips empty segments that start at i).
  var lo = 0u;
  var hi = p.S;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (offsets[mid] <= i) { lo = mid + 1u; } else { hi = mid; }
  }
  var g = 0.0;
  if (lo > 0u) {
    let s = lo - 1u;
    if (i < offsets[s + 1u] && i - offsets[s] == targets[s]) { g = ${value}; }
  }
  dX[i] = g;
}`;
}

/**
 * Records the backward of {@linkcode gatherForward}: dX is zero except dX[offsets[s] +
 * targets[s]] = dOut[s] (assigns all N elements of dX).
 *
 * Shapes: dOut (S), offsets u32 (S+1), targets u32 (S), dX (N).
 */
export function gatherBackward(
  batch: Batch,
  dX: Tensor,
  dOut: Tensor,
  offsets: Tensor,
  targets: Tensor,
  dims: SegmentDims,
): void {
  const op = "gatherBackward";
  checkDims(op, dims, ["S", "N"]);
  const { S, N } = dims;
  assertSize(op, "dOut", dOut, S);
  assertSize(op, "dX", dX, N);
  checkSegments(op, offsets, S);
  assertDType(op, "targets", targets, "u32");
  assertSize(op, "targets", targets, S);
  const { pipe, wg } = kernel(batch.gpu, "gather_bwd");
  dispatchDistinct(
    op,
    batch,
    pipe,
    [dOut, offsets, targets, dX],
    packParams([S, N]),
    launch1d(N, wg),
  );
}

/** Sizes and options of {@linkcode nllLossForward} and {@linkcode nllLossBackward}. */
export interface NllDims {
  /** Number of segments; the loss is the mean over them. Must be at least 1. */
  S: number;
  /** Number of scores (offsets[S]); needed by the backward, defaults to `logp.size`. */
  N?: number;
  /** Optional f32 (S) per-segment weights (e.g. advantages); default 1 each. */
  weights?: Tensor;
}

const NLL_FWD_WGSL = (weighted: boolean) =>
  /* wgsl */ `${HEADER}
struct Params { S: u32, N: u32, chunk: u32, direct: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logp: array<f32>;        // (N)
@group(0) @binding(2) var<storage, read> offsets: array<u32>;     // (S+1)
@group(0) @binding(3) var<storage, read> targets: array<u32>;     // (S)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;   // loss (1), or partials
${weighted ? "@group(0) @binding(5) var<storage, read> weights: array<f32>; // (S)" : ""}
var<workgroup> part: array<f32, WG>;

// Workgroup w sums segments [w·chunk, (w+1)·chunk): serial partial sums per invocation, then a
// tree in a fixed order, so the loss is bit-identical run to run. With one workgroup (direct) it
// writes the loss; otherwise its partial, which reduce.ts's final pass sums in order.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let end = min((wid.x + 1u) * p.chunk, p.S);
  var acc = 0.0;
  for (var s = wid.x * p.chunk + lid; s < end; s += WG) {
    let a = offsets[s];
    let b = min(offsets[s + 1u], p.N);
    let t = targets[s];
    var v = nanF32();
    if (t < b - min(a, b)) { v = logp[a + t]; }
    acc += ${weighted ? "weights[s] * v" : "v"};
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (lid < k) { part[lid] += part[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    if (p.direct == 1u) { out[0] = -part[0] / f32(p.S); } else { out[wid.x] = part[0]; }
  }
}`;

/**
 * Segments one NLL workgroup sums: all of them up to NLL_DIRECT (one dispatch, the usual
 * training batch), else slices of at least NLL_DIRECT / 4 so that at most MAX_PARTIALS
 * workgroups share the work and reduce.ts's final pass adds their partials.
 */
const NLL_DIRECT = 8192;

function nllChecks(op: string, logp: Tensor, offsets: Tensor, targets: Tensor, dims: NllDims) {
  checkDims(op, { S: dims.S, N: dims.N ?? logp.size }, ["S", "N"]);
  const S = dims.S, N = dims.N ?? logp.size;
  if (S < 1) throw new GpuError(`${op}: S = ${S}; the mean over segments needs S >= 1`);
  checkSegments(op, offsets, S);
  assertDType(op, "targets", targets, "u32");
  assertSize(op, "targets", targets, S);
  if (dims.weights) {
    assertDType(op, "weights", dims.weights, "f32");
    assertSize(op, "weights", dims.weights, S);
  }
  return { S, N };
}

/**
 * Records loss (1) = -(1/S) sum_s weight[s] * logp[offsets[s] + targets[s]]: the negative
 * log-likelihood of the chosen action of each state, given log-probabilities from
 * {@linkcode segmentLogSoftmaxForward}. NaN when a target is outside its segment.
 *
 * Shapes: logp (N), offsets u32 (S+1), targets u32 (S), loss (1), weights f32 (S) optional.
 *
 * @example
 * ```ts
 * segmentLogSoftmaxForward(batch, logp, scores, offsets, { S, N });
 * nllLossForward(batch, loss, logp, offsets, targets, { S });
 * ```
 */
export function nllLossForward(
  batch: Batch,
  loss: Tensor,
  logp: Tensor,
  offsets: Tensor,
  targets: Tensor,
  dims: NllDims,
): void {
  const op = "nllLossForward";
  const { S, N } = nllChecks(op, logp, offsets, targets, dims);
  assertSize(op, "logp", logp, N);
  assertSize(op, "loss", loss, 1);
  const weighted = dims.weights !== undefined;
  const { pipe } = kernel(batch.gpu, weighted ? "nll_loss_fwd_weighted" : "nll_loss_fwd");
  const extra = dims.weights ? [dims.weights] : [];
  if (S <= NLL_DIRECT) {
    const bufs = [logp, offsets, targets, loss, ...extra];
    dispatchDistinct(op, batch, pipe, bufs, packParams([S, N, S, 1]), [1]);
    return;
  }
  const chunk = Math.max(NLL_DIRECT / 4, Math.ceil(S / MAX_PARTIALS));
  const groups = Math.ceil(S / chunk);
  const partials = scratchOf(batch.gpu);
  const bufs = [logp, offsets, targets, partials, ...extra];
  dispatchDistinct(op, batch, pipe, bufs, packParams([S, N, chunk, 0]), [groups]);
  recordFinal(op, batch, loss, partials, groups, false, -1 / S);
}

/**
 * Records the backward of {@linkcode nllLossForward}: dLogp (N) is zero except the picked
 * element of each segment, which gets -dLoss * weight[s] / S (assigns all N elements).
 *
 * Shapes: dLoss (1) on the GPU (1 for the loss itself), offsets u32 (S+1), targets u32 (S),
 * dLogp (N), weights f32 (S) optional.
 */
export function nllLossBackward(
  batch: Batch,
  dLogp: Tensor,
  dLoss: Tensor,
  offsets: Tensor,
  targets: Tensor,
  dims: NllDims,
): void {
  const op = "nllLossBackward";
  const { S, N } = nllChecks(op, dLogp, offsets, targets, dims);
  assertSize(op, "dLogp", dLogp, N);
  assertSize(op, "dLoss", dLoss, 1);
  const name = dims.weights ? "nll_loss_bwd_weighted" : "nll_loss_bwd";
  const { pipe, wg } = kernel(batch.gpu, name);
  const bufs = [dLoss, offsets, targets, dLogp, ...(dims.weights ? [dims.weights] : [])];
  dispatchDistinct(op, batch, pipe, bufs, packParams([S, N]), launch1d(N, wg));
}

// Every kernel of this file: its WGSL and workgroup size. Launchers and the warm-up share it, so
// the warm-up compiles exactly the variants the launchers use.
const KERNELS: Record<string, { code: string; wg: (gpu: Gpu) => number }> = {
  segment_log_softmax_fwd: { code: LOG_SOFTMAX_FWD_WGSL, wg: wgSize },
  segment_log_softmax_bwd: { code: LOG_SOFTMAX_BWD_WGSL, wg: wgSize },
  masked_mean_fwd: { code: maskedMeanForwardWgsl(false), wg: wgSize },
  masked_mean_fwd_vec4: { code: maskedMeanForwardWgsl(true), wg: wgSize },
  masked_mean_bwd: { code: maskedMeanBackwardWgsl(false), wg: wgSize },
  masked_mean_bwd_vec4: { code: maskedMeanBackwardWgsl(true), wg: wgSize },
  gather_fwd: { code: GATHER_FWD_WGSL, wg: wgSize },
  gather_bwd: { code: pickBackwardWgsl("gather"), wg: wgSize },
  // One workgroup reduces the whole loss, or a slice of it when S is large: as wide as the device
  // runs well.
  nll_loss_fwd: { code: NLL_FWD_WGSL(false), wg: (gpu) => gpu.isSoftware ? 64 : 256 },
  nll_loss_fwd_weighted: { code: NLL_FWD_WGSL(true), wg: (gpu) => gpu.isSoftware ? 64 : 256 },
  nll_loss_bwd: { code: pickBackwardWgsl("nll"), wg: wgSize },
  nll_loss_bwd_weighted: { code: pickBackwardWgsl("nll_weighted"), wg: wgSize },
};

function kernel(gpu: Gpu, name: string): { pipe: GPUComputePipeline; wg: number } {
  const k = KERNELS[name];
  const wg = k.wg(gpu);
  return { pipe: gpu.pipeline(name, k.code, { WG: wg }), wg };
}

/**
 * Compiles every pipeline of the segment ops now, at start-up, instead of at their first
 * dispatch (on llvmpipe a compile can take a noticeable time inside a training step).
 */
export function warmSegmentKernels(gpu: Gpu): void {
  for (const name of Object.keys(KERNELS)) kernel(gpu, name);
}
