/**
 * Reductions for training: sum and mean of a vector, row max with argmax (and its backward), the
 * global L2 norm over many buffers (all parameter gradients), clipping by that norm, and an
 * on-GPU non-finite check. Results stay on the GPU: nothing here reads back.
 *
 * Math and gradient rules:
 * - sum = sum_i x_i, mean = sum / n (NaN for n = 0, as torch).
 * - row max over x (N, L): out[r] = max_l x[r, l], argmax[r] = its first index (ties go to the
 *   first, as torch.max; a NaN wins); dX[r, l] = dOut[r] if l == argmax[r] else 0 (assigns dX).
 * - global norm = sqrt(sum over tensors, elements of g^2).
 * - clip: g *= min(1, maxNorm / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_.
 *
 * WGSL has no float atomics, so every sum is deterministic: each workgroup of a first pass sums a
 * fixed slice (serial per-invocation partial sums over many elements, then a tree over the
 * workgroup) into a partials buffer, and one workgroup sums the partials in order. Serial partial
 * sums keep the number of barriers small, which matters on llvmpipe where barriers are
 * expensive. The global norm dispatches once per tensor into its own run of partials, because a
 * shader stage can bind only a few storage buffers (maxStorageBuffersPerShaderStage).
 *
 * @module
 */

import { type Batch, type Bindable, type Gpu, GpuError, packParams } from "./device.ts";
import { assertDType, assertSize, shapeText, type Tensor } from "./tensor.ts";

/** Elements one first-pass workgroup sums at least (fewer workgroups for small inputs). */
const PARTIAL_ELEMS = 16384;
/** Most partial sums of one input: the final pass stays a single small workgroup. */
export const MAX_PARTIALS = 256;

/**
 * {@linkcode Batch.dispatch} after checking that no buffer is bound twice. WebGPU rejects a
 * writable buffer bound twice at submit, far from the cause; this names the op and the tensors.
 * Stricter than WebGPU (two read-only bindings of one buffer are refused too): none of the
 * training kernels has a use for that.
 */
export function dispatchDistinct(
  op: string,
  batch: Batch,
  pipe: GPUComputePipeline,
  buffers: readonly Bindable[],
  params: ArrayBuffer,
  groups: readonly number[],
): void {
  const seen = new Map<GPUBuffer, string>();
  for (const b of buffers) {
    const [buf, label] = b instanceof GPUBuffer ? [b, b.label] : [b.buffer, b.label];
    const prev = seen.get(buf);
    if (prev !== undefined) throw new GpuError(`${op}: '${prev}' and '${label}' share a buffer`);
    seen.set(buf, label);
  }
  batch.dispatch(pipe, buffers, params, groups);
}

/** Number of partial sums a reduction writes for an input of `n` elements (at least 1). */
export function partialCount(n: number): number {
  return Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(n / PARTIAL_ELEMS)));
}

/**
 * Elements of the f32 scratch tensor {@linkcode globalNormForward} needs for these tensors: the
 * sum of their {@linkcode partialCount}s.
 */
export function globalNormScratchSize(tensors: readonly { size: number }[]): number {
  return tensors.reduce((acc, t) => acc + partialCount(t.size), 0);
}

function reduceWg(gpu: Gpu): number {
  return gpu.isSoftware ? 64 : 256;
}

/** Workgroups of a grid-stride elementwise kernel: enough to fill the device, capped. */
function strideGroups(gpu: Gpu, n: number, wg: number): number {
  return Math.min(Math.ceil(n / wg), gpu.isSoftware ? 256 : 8192);
}

const TREE = /* wgsl */ `
  part[lid] = acc;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (lid < k) { part[lid] += part[lid + k]; }
    workgroupBarrier();
  }`;

/**
 * Grid-stride loops over x (n elements, bound as `x`, n in `p.n`) four elements at a time: on CPU
 * rasterisers a loop iteration costs more than its loads. quad(q) is x[4q .. 4q+3] with indices
 * past n clamped into range and their values zeroed, so no load sits under a branch.
 */
const WGSL_QUADS = /* wgsl */ `
fn quads() -> u32 { return (p.n + 3u) / 4u; }
fn quad(q: u32) -> vec4f {
  let i = 4u * q;
  let last = p.n - 1u;
  let ok = vec4<bool>(true, i + 1u < p.n, i + 2u < p.n, i + 3u < p.n);
  let v = vec4f(x[i], x[min(i + 1u, last)], x[min(i + 2u, last)], x[min(i + 3u, last)]);
  return select(vec4f(0.0), v, ok);
}`;

/** First pass: partials[base + w] = sum over workgroup w's grid-stride slice of map(x). */
const partialsWgsl = (square: boolean) => /* wgsl */ `
override WG: u32 = 256;
struct Params { n: u32, base: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;               // (n)
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;  // (base + groups)
var<workgroup> part: array<f32, WG>;
${WGSL_QUADS}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var q = wid.x * WG + lid; q < quads(); q += nwg.x * WG) {
    let v = quad(q);
    acc += ${square ? "dot(v, v)" : "dot(v, vec4f(1.0))"};
  }
  ${TREE}
  if (lid == 0u) { partials[p.base + wid.x] = part[0]; }
}`;

/** Final pass: out[0] = sqrt(total) or total * scale, total = sum of the m partials in order. */
const FINAL_WGSL = /* wgsl */ `
override WG: u32 = 256;
override SQRT: u32 = 0;
struct Params { m: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;   // (m)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // (1)
var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < p.m; i += WG) { acc += partials[i]; }
  ${TREE}
  if (lid == 0u) {
    if (SQRT == 1u) { out[0] = sqrt(part[0]); } else { out[0] = part[0] * p.scale; }
  }
}`;

function recordPartials(
  op: string,
  batch: Batch,
  partials: Bindable,
  base: number,
  x: Tensor,
  n: number,
  square: boolean,
): number {
  const count = partialCount(n);
  const { pipe } = kernel(batch.gpu, square ? "reduce_partials_sumsq" : "reduce_partials_sum");
  dispatchDistinct(op, batch, pipe, [x, partials], packParams([n, base]), [count]);
  return count;
}

/** Records out[0] = sqrt(total) when `sqrt`, else total * scale. */
export function recordFinal(
  op: string,
  batch: Batch,
  out: Tensor,
  partials: Bindable,
  m: number,
  sqrt: boolean,
  scale = 1,
): void {
  const { pipe } = kernel(batch.gpu, sqrt ? "reduce_final_sqrt" : "reduce_final");
  dispatchDistinct(op, batch, pipe, [partials, out], packParams([m, { f32: scale }]), [1]);
}

// The partials of sum, mean and the NLL loss live in one small buffer per device
// (MAX_PARTIALS floats): dispatches in a batch run in order, so reusing it between reductions is
// safe.
const sumScratch = new WeakMap<Gpu, GPUBuffer>();
export function scratchOf(gpu: Gpu): GPUBuffer {
  let b = sumScratch.get(gpu);
  if (!b) {
    b = gpu.createBuffer(MAX_PARTIALS * 4, "reduce partials");
    sumScratch.set(gpu, b);
  }
  return b;
}

function checkCount(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
    throw new GpuError(`${op}: n = ${n} is not a non-negative integer`);
  }
}

/**
 * Records out[0] = sum of the first `n` elements of x (default all), deterministically.
 *
 * Shapes: x (n), out (1).
 *
 * @example
 * ```ts
 * sumForward(batch, total, x);
 * ```
 */
export function sumForward(batch: Batch, out: Tensor, x: Tensor, n: number = x.size): void {
  recordScaledSum("sumForward", batch, out, x, n, 1);
}

/** Records out[0] = mean of the first `n` elements of x (default all); NaN when n is 0. */
export function meanForward(batch: Batch, out: Tensor, x: Tensor, n: number = x.size): void {
  recordScaledSum("meanForward", batch, out, x, n, 1 / n);
}

/** Records out[0] = scale · (sum of the first `n` elements of x): sumForward and meanForward. */
function recordScaledSum(
  op: string,
  batch: Batch,
  out: Tensor,
  x: Tensor,
  n: number,
  scale: number,
): void {
  checkCount(op, n);
  assertSize(op, "x", x, n);
  assertSize(op, "out", out, 1);
  const scratch = scratchOf(batch.gpu);
  const m = recordPartials(op, batch, scratch, 0, x, n, false);
  recordFinal(op, batch, out, scratch, m, false, scale);
}

/** Sizes of {@linkcode rowMaxForward}: N rows of L elements. */
export interface RowMaxDims {
  /** Rows. */
  N: number;
  /** Elements per row. */
  L: number;
}

const ROW_MAX_FWD_WGSL = /* wgsl */ `
override WG: u32 = 64;
struct Params { N: u32, L: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;             // (N, L)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;     // (N)
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;  // (N)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= p.N) { return; }
  var best = -3.402823e38;
  var arg = 0u;
  for (var l = 0u; l < p.L; l++) {
    let v = x[r * p.L + l];
    // NaN tested on the bits: compilers may assume float comparisons never see NaN.
    if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) { best = v; arg = l; break; }
    // Strict > keeps the first index of ties; l == 0 takes the first element even if -inf.
    if (v > best || l == 0u) { best = v; arg = l; }
  }
  out[r] = best;
  argmax[r] = arg;
}`;

const ROW_MAX_BWD_WGSL = /* wgsl */ `
override WG: u32 = 256;
struct Params { N: u32, L: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;      // (N)
@group(0) @binding(2) var<storage, read> argmax: array<u32>;    // (N)
@group(0) @binding(3) var<storage, read_write> dX: array<f32>;  // (N, L)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let total = p.N * p.L;
  for (var i = wid.x * WG + lid; i < total; i += nwg.x * WG) {
    let r = i / p.L;
    var g = 0.0;
    if (i - r * p.L == argmax[r]) { g = dOut[r]; }
    dX[i] = g;
  }
}`;

function checkRowMax(op: string, dims: RowMaxDims): void {
  for (const k of ["N", "L"] as const) {
    const v = dims[k];
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new GpuError(`${op}: size ${k} = ${v} is not a non-negative integer`);
    }
  }
  if (dims.L === 0 && dims.N > 0) throw new GpuError(`${op}: rows of L = 0 have no max`);
}

/**
 * Records the max of each row of x (N, L) and its first index (ties: first, as torch.max).
 *
 * Shapes: x (N, L), out (N), argmax u32 (N).
 */
export function rowMaxForward(
  batch: Batch,
  out: Tensor,
  argmax: Tensor,
  x: Tensor,
  dims: RowMaxDims,
): void {
  const op = "rowMaxForward";
  checkRowMax(op, dims);
  const { N, L } = dims;
  assertSize(op, "x", x, N * L);
  assertSize(op, "out", out, N);
  assertDType(op, "argmax", argmax, "u32");
  assertSize(op, "argmax", argmax, N);
  const { pipe, wg } = kernel(batch.gpu, "row_max_fwd");
  const groups = Math.ceil(N / wg);
  const y = Math.max(1, Math.ceil(groups / 65535));
  dispatchDistinct(op, batch, pipe, [x, out, argmax], packParams([N, L]), [
    Math.ceil(groups / y),
    y,
  ]);
}

/**
 * Records dX (N, L) = dOut[r] at each row's argmax and 0 elsewhere (assigns dX).
 *
 * Shapes: dOut (N), argmax u32 (N) from {@linkcode rowMaxForward}, dX (N, L).
 */
export function rowMaxBackward(
  batch: Batch,
  dX: Tensor,
  dOut: Tensor,
  argmax: Tensor,
  dims: RowMaxDims,
): void {
  const op = "rowMaxBackward";
  checkRowMax(op, dims);
  const { N, L } = dims;
  assertSize(op, "dOut", dOut, N);
  assertDType(op, "argmax", argmax, "u32");
  assertSize(op, "argmax", argmax, N);
  assertSize(op, "dX", dX, N * L);
  const { pipe, wg } = kernel(batch.gpu, "row_max_bwd");
  const groups = strideGroups(batch.gpu, N * L, wg);
  dispatchDistinct(op, batch, pipe, [dOut, argmax, dX], packParams([N, L]), [groups]);
}

function checkTensors(op: string, tensors: readonly Tensor[]): void {
  if (tensors.length === 0) throw new GpuError(`${op}: no tensors given`);
  for (const [i, t] of tensors.entries()) {
    if (t.dtype !== "f32") {
      throw new GpuError(`${op}: tensor ${i} '${t.label}' ${shapeText(t.shape)} is ${t.dtype}`);
    }
  }
}

/**
 * Records out[0] = sqrt(sum of squares of all elements of all tensors), the global L2 norm of
 * torch.nn.utils.clip_grad_norm_. Deterministic: one dispatch per tensor writes its partial sums
 * into `scratch`, then one workgroup sums all partials in order. The norm stays on the GPU.
 *
 * Shapes: out (1), scratch f32 of at least {@linkcode globalNormScratchSize}(tensors) elements.
 *
 * @example
 * ```ts
 * const grads = params.map((p) => p.grad);
 * const scratch = tensor(gpu, [globalNormScratchSize(grads)], "norm partials");
 * globalNormForward(batch, norm, scratch, grads);
 * clipByGlobalNorm(batch, grads, norm, 1.0);
 * ```
 */
export function globalNormForward(
  batch: Batch,
  out: Tensor,
  scratch: Tensor,
  tensors: readonly Tensor[],
): void {
  const op = "globalNormForward";
  checkTensors(op, tensors);
  assertSize(op, "out", out, 1);
  assertDType(op, "scratch", scratch, "f32");
  assertSize(op, "scratch", scratch, globalNormScratchSize(tensors));
  let base = 0;
  for (const t of tensors) base += recordPartials(op, batch, scratch, base, t, t.size, true);
  recordFinal(op, batch, out, scratch, base, true);
}

const CLIP_WGSL = /* wgsl */ `
override WG: u32 = 256;
struct Params { n: u32, maxNorm: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> norm: array<f32>;     // (1)
@group(0) @binding(2) var<storage, read_write> g: array<f32>;  // (n)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // As torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1, always applied.
  let coef = min(1.0, p.maxNorm / (norm[0] + 1e-6));
  for (var i = wid.x * WG + lid; i < p.n; i += nwg.x * WG) { g[i] = g[i] * coef; }
}`;

/**
 * Records the scaling of every tensor by min(1, maxNorm / (norm + 1e-6)), as
 * torch.nn.utils.clip_grad_norm_, reading the norm on the GPU (no read-back).
 *
 * Shapes: norm (1) from {@linkcode globalNormForward}; tensors any f32.
 */
export function clipByGlobalNorm(
  batch: Batch,
  tensors: readonly Tensor[],
  norm: Tensor,
  maxNorm: number,
): void {
  const op = "clipByGlobalNorm";
  checkTensors(op, tensors);
  assertSize(op, "norm", norm, 1);
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) {
    throw new GpuError(`${op}: maxNorm = ${maxNorm} must be a positive finite number`);
  }
  const { pipe, wg } = kernel(batch.gpu, "clip_by_global_norm");
  for (const t of tensors) {
    const groups = strideGroups(batch.gpu, t.size, wg);
    dispatchDistinct(op, batch, pipe, [norm, t], packParams([t.size, { f32: maxNorm }]), [groups]);
  }
}

const NON_FINITE_WGSL = /* wgsl */ `
override WG: u32 = 256;
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                 // (n)
@group(0) @binding(2) var<storage, read_write> flag: array<atomic<u32>>;  // (1)
${WGSL_QUADS}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // Tested on the exponent bits: WGSL compilers may assume floats are never NaN or infinite,
  // so isNan-style comparisons could be folded away.
  var bad = false;
  for (var q = wid.x * WG + lid; q < quads(); q += nwg.x * WG) {
    let e = bitcast<vec4u>(quad(q));
    bad = bad || any((e & vec4u(0x7f800000u)) == vec4u(0x7f800000u));
  }
  if (bad) { atomicOr(&flag[0], 1u); }
}`;

/**
 * Records flag[0] |= 1 when any element of `tensors` is NaN or ±Infinity. The flag is sticky
 * (never cleared here), so one flag can cover a whole run of steps: training reads it back only
 * when it logs, then clears it with `batch.clear(flag)`. Passing just the global norm (1
 * element) is a cheap check of all gradients at once: it is non-finite when any gradient is (or
 * when their squares overflow).
 *
 * Shapes: flag u32 (1); tensors any f32.
 */
export function nonFiniteFlag(batch: Batch, flag: Tensor, tensors: readonly Tensor[]): void {
  const op = "nonFiniteFlag";
  checkTensors(op, tensors);
  assertDType(op, "flag", flag, "u32");
  assertSize(op, "flag", flag, 1);
  const { pipe, wg } = kernel(batch.gpu, "non_finite_flag");
  for (const t of tensors) {
    dispatchDistinct(op, batch, pipe, [t, flag], packParams([t.size]), [
      strideGroups(batch.gpu, t.size, wg),
    ]);
  }
}

// Every kernel of this file: WGSL, workgroup size and other override constants. Launchers and
// the warm-up share it, so the warm-up compiles exactly the variants the launchers use.
const KERNELS: Record<
  string,
  { module: string; code: string; wg: (gpu: Gpu) => number; constants?: Record<string, number> }
> = {
  reduce_partials_sum: { module: "reduce_partials_sum", code: partialsWgsl(false), wg: reduceWg },
  reduce_partials_sumsq: {
    module: "reduce_partials_sumsq",
    code: partialsWgsl(true),
    wg: reduceWg,
  },
  reduce_final: { module: "reduce_final", code: FINAL_WGSL, wg: reduceWg, constants: { SQRT: 0 } },
  reduce_final_sqrt: {
    module: "reduce_final",
    code: FINAL_WGSL,
    wg: reduceWg,
    constants: { SQRT: 1 },
  },
  // One invocation per row, serial over the row.
  row_max_fwd: { module: "row_max_fwd", code: ROW_MAX_FWD_WGSL, wg: () => 64 },
  row_max_bwd: { module: "row_max_bwd", code: ROW_MAX_BWD_WGSL, wg: () => 256 },
  clip_by_global_norm: { module: "clip_by_global_norm", code: CLIP_WGSL, wg: () => 256 },
  non_finite_flag: { module: "non_finite_flag", code: NON_FINITE_WGSL, wg: () => 256 },
};

function kernel(gpu: Gpu, name: string): { pipe: GPUComputePipeline; wg: number } {
  const k = KERNELS[name];
  const wg = k.wg(gpu);
  return { pipe: gpu.pipeline(k.module, k.code, { WG: wg, ...k.constants }), wg };
}

/**
 * Compiles every pipeline of the reductions now, at start-up, instead of at their first
 * dispatch (on llvmpipe a compile can take a noticeable time inside a training step).
 */
export function warmReduceKernels(gpu: Gpu): void {
  for (const name of Object.keys(KERNELS)) kernel(gpu, name);
}
