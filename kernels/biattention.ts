/**
 * BiAttention of WebShop's choice model (baseline_models/models/modules.py), forward and
 * backward: each action's tokens (the context) attend over its state's tokens (the memory).
 *
 * Shapes: A actions in S states, action a belongs to state s(a) and the actions of state s are
 * a contiguous run [offsets[s], offsets[s+1]); context x (A, Ta, C), memory m (S, Tm, C), memory
 * mask (S, Tm) with 1 keep, 0 pad; weights wIn (C), wMem (C), scale (C).
 *
 * Math (r = (a, i) an action token, j a memory token, s = s(a)):
 *   att[r, j] = x[r]·wIn + m[s, j]·wMem + Σ_c x[r, c]·scale[c]·m[s, j, c] − 1e30·(1 − mask[s, j])
 *   w1[r, :] = softmax_j att[r, :]              o1[r] = Σ_j w1[r, j]·m[s, j]        (A, Ta, C)
 *   mx[r] = max_j att[r, j]                     w2[a, :] = softmax_i mx[a, i]     (over all Ta)
 *   o2[a] = Σ_i w2[a, i]·x[a, i]                                                   (A, C)
 *   out[r] = [x[r], o1[r], x[r]⊙o1[r], o2[a]⊙o1[r]]                               (A, Ta, 4C)
 * WebShop's second softmax runs over every action position, padding included (the released
 * model was trained so), and its dropout is 0, so there is none here.
 *
 * Gradient rules: with g = dOut split in four (g0..g3),
 *   dx = g0 + g2⊙o1 + w2[a, i]·dO2[a] + dInDot[r]·wIn + scale⊙(dAtt[r]·m[s])
 *   dO1 = g1 + g2⊙x + g3⊙o2,   dO2[a] = Σ_i g3⊙o1,   dMx = w2⊙(dW2 − Σ w2·dW2), dW2 = dO2·x
 *   dAtt = w1⊙(dW1 − Σ_j w1·dW1) + dMx at the argmax, dW1 = dO1·m[s]ᵀ
 *   dm[s, j] = Σ_{r∈s} w1[r, j]·dO1[r] + scale⊙Σ_{r∈s} dAtt[r, j]·x[r] + (Σ_{r∈s} dAtt[r, j])·wMem
 *   dwIn += Σ_r dInDot[r]·x[r], dwMem += Σ dMemDot·m, dScale += Σ_r x[r]⊙(dAtt[r]·m[s]).
 * dX and dMem are assigned; weight gradients accumulate.
 *
 * @module
 */

import { type Batch, type Gpu, GpuError, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { warmCopyRows } from "./copy.ts";
import { assertDType, assertSize, type Tensor, tensor } from "./tensor.ts";

/** Sizes of a BiAttention call. */
export interface BiAttentionDims {
  /** Actions (rows of the context). */
  A: number;
  /** States (rows of the memory). */
  S: number;
  /** Tokens per action (padded). */
  Ta: number;
  /** Tokens per state memory (padded). */
  Tm: number;
  /** Channels. */
  C: number;
  /**
   * Batched-matmul kernel: `register` (blocks in registers, no workgroup memory: fast on CPU
   * rasterisers), `shared` (16×16 workgroup tiles: real GPUs), `auto` (by adapter; default).
   */
  kernel?: "auto" | "register" | "shared";
}

/**
 * Buffers the forward saves for the backward and the backward's scratch, allocated once for
 * the largest dims with {@linkcode biattentionBuffers}.
 */
export interface BiAttentionBuffers {
  /** u32 [stateOf (A) | offsets (S+1)], written by {@linkcode writeBiAttentionIndex}. */
  index: Tensor;
  /** [x·wIn (A·Ta) | m·wMem (S·Tm)] in the forward; their gradients in the backward. */
  dots: Tensor;
  dDots: Tensor;
  /** Attention probabilities w1 (A, Ta, Tm); the backward turns a copy into dAtt. */
  w1: Tensor;
  dAtt: Tensor;
  /** Row max of att (A·Ta) and its argmax (u32), then w2 (A, Ta) and dMx. */
  mx: Tensor;
  argmax: Tensor;
  w2: Tensor;
  dMx: Tensor;
  o1: Tensor;
  o2: Tensor;
  /** Backward scratch: dO1 (A, Ta, C), dO2 (A, C), q = dAtt·m (A, Ta, C). */
  dO1: Tensor;
  dO2: Tensor;
  q: Tensor;
  /** An unused 4-byte binding for kernels whose optional inputs are absent. */
  dummy: Tensor;
  dummyU: Tensor;
  /** The largest dims these buffers hold. */
  max: BiAttentionDims;
}

/** Allocates the saved and scratch buffers for dims up to `max`. */
export function biattentionBuffers(
  gpu: Gpu,
  max: BiAttentionDims,
  label = "biattn",
): BiAttentionBuffers {
  const { A, S, Ta, Tm, C } = max;
  const f = (shape: number[], name: string) => tensor(gpu, shape, `${label} ${name}`);
  return {
    index: tensor(gpu, [A + S + 1], `${label} index`, undefined, "u32"),
    dots: f([A * Ta + S * Tm], "dots"),
    dDots: f([A * Ta + S * Tm], "dDots"),
    w1: f([A, Ta, Tm], "w1"),
    dAtt: f([A, Ta, Tm], "dAtt"),
    mx: f([A, Ta], "mx"),
    argmax: tensor(gpu, [A, Ta], `${label} argmax`, undefined, "u32"),
    w2: f([A, Ta], "w2"),
    dMx: f([A, Ta], "dMx"),
    o1: f([A, Ta, C], "o1"),
    o2: f([A, C], "o2"),
    dO1: f([A, Ta, C], "dO1"),
    dO2: f([A, C], "dO2"),
    q: f([A, Ta, C], "q"),
    dummy: f([1], "dummy"),
    dummyU: tensor(gpu, [1], `${label} dummy u32`, undefined, "u32"),
    max: { ...max },
  };
}

/**
 * Uploads the action→state map of `sizes` (actions per state, summing to A) into
 * `bufs.index`. Returns the dims' A and S for checking.
 */
export function writeBiAttentionIndex(bufs: BiAttentionBuffers, sizes: readonly number[]): void {
  const S = sizes.length, A = sizes.reduce((x, y) => x + y, 0);
  if (A > bufs.max.A || S > bufs.max.S) {
    throw new GpuError(
      `writeBiAttentionIndex: ${A} actions in ${S} states exceed the buffers' ${bufs.max.A} / ${bufs.max.S}`,
    );
  }
  const idx = new Uint32Array(A + S + 1);
  let a = 0;
  sizes.forEach((n, s) => {
    if (!Number.isInteger(n) || n < 0) {
      throw new GpuError(`writeBiAttentionIndex: size ${s} = ${n}`);
    }
    idx[A + s] = a;
    for (let k = 0; k < n; k++) idx[a++] = s;
  });
  idx[A + S] = A;
  bufs.index.write(idx);
}

// ---------------------------------------------------------------------------------------------
// What both BiAttention products share: the compile-time options, the uniform block, the
// bindings, B's batch and the k range of matrix z, and the epilogue of one output.
const BMM_COMMON = /* wgsl */ `
override SCALE_K: bool = false;
override SCALE_N: bool = false;
override B_INDIRECT: bool = false;
override GROUPED: bool = false;
override ACCUM: bool = false;
override SCORES: bool = false;
struct Params {
  M: u32, N: u32, K: u32, am: u32,
  ak: u32, aZ: u32, bk: u32, bn: u32,
  bZ: u32, oZ: u32, nA: u32, kMul: u32,
  memDots: u32, _p0: u32, _p1: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> idx: array<u32>;
@group(0) @binding(5) var<storage, read> vec: array<f32>;
@group(0) @binding(6) var<storage, read> dots: array<f32>;
@group(0) @binding(7) var<storage, read> mask: array<f32>;

// Matrix z's batch of B: stateOf[z] when B_INDIRECT.
fn bBatch(z: u32) -> u32 {
  if (B_INDIRECT) { return idx[z]; }
  return z;
}

// The k range [x, y) of matrix z: its actions' token rows when GROUPED, else all of K.
fn kRange(z: u32) -> vec2u {
  if (GROUPED) { return vec2u(idx[p.nA + z], idx[p.nA + z + 1u]) * p.kMul; }
  return vec2u(0u, p.K);
}

// Stores out[z, row, col] from its product acc: column scale, score terms, accumulation.
fn store(z: u32, zb: u32, row: u32, col: u32, product: f32) {
  var acc = product;
  let o = z * p.oZ + row * p.N + col;
  if (SCALE_N) { acc *= vec[col]; }
  if (SCORES) {
    acc += dots[z * p.M + row] + dots[p.memDots + zb * p.N + col]
      - 1e30 * (1.0 - mask[zb * p.N + col]);
  }
  if (ACCUM) { acc += out[o]; }
  out[o] = acc;
}
`;

// Batched 16×16-tiled matmul with the state indirection of BiAttention:
//   out[z, m, n] (+)= colScale[n]? · Σ_k A(z, m, k)·kScale[k]? · B(z', k, n)  (+ scores epilogue)
// A(z, m, k) = a[z·aZ + m·am + k·ak], B(z', k, n) = b[z'·bZ + k·bk + n·bn], z' = stateOf[z] when
// B_INDIRECT. GROUPED: z is a state, k runs over the rows of its actions' tokens,
// [offsets[z]·kMul, offsets[z+1]·kMul), addressed absolutely (aZ = bZ = 0).
const BMM_WGSL = /* wgsl */ `${BMM_COMMON}
var<workgroup> As: array<array<f32, 16>, 16>;
var<workgroup> Bs: array<array<f32, 17>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let z = wid.z;
  let row = wid.y * 16u + lid.y;
  let col = wid.x * 16u + lid.x;
  let zb = bBatch(z);
  let ks = kRange(z);
  let k0 = ks.x;
  let k1 = ks.y;
  let aBase = z * p.aZ;
  let bBase = zb * p.bZ;
  var acc = 0.0;
  for (var kt = k0; kt < k1; kt += 16u) {
    // As[y][x] = A(m0 + y, kt + x); Bs[y][x] = B(kt + y, n0 + x).
    let ar = wid.y * 16u + lid.y;
    let ac = kt + lid.x;
    var av = 0.0;
    if (ar < p.M && ac < k1) {
      av = a[aBase + ar * p.am + ac * p.ak];
      if (SCALE_K) { av *= vec[ac]; }
    }
    As[lid.y][lid.x] = av;
    let br = kt + lid.y;
    var bv = 0.0;
    if (br < k1 && col < p.N) { bv = b[bBase + br * p.bk + col * p.bn]; }
    Bs[lid.y][lid.x] = bv;
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) { acc += As[lid.y][kk] * Bs[kk][lid.x]; }
    workgroupBarrier();
  }
  if (row >= p.M || col >= p.N) { return; }
  store(z, zb, row, col, acc);
}`;

// The same product for CPU rasterisers: each invocation keeps a 4×4 block of out in registers
// and loads A and B straight from storage (no workgroup memory, no barriers), clamping indices
// so every load runs with all lanes active; an 8×8 workgroup covers a 32×32 tile.
const BMM_REG_WGSL = /* wgsl */ `${BMM_COMMON}
@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let z = wid.z;
  let m0 = (wid.y * 8u + lid.y) * 4u;
  let n0 = (wid.x * 8u + lid.x) * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let zb = bBatch(z);
  let ks = kRange(z);
  let k0 = ks.x;
  let k1 = ks.y;
  let aBase = z * p.aZ;
  let bBase = zb * p.bZ;
  let a0 = aBase + min(m0, p.M - 1u) * p.am;
  let a1 = aBase + min(m0 + 1u, p.M - 1u) * p.am;
  let a2 = aBase + min(m0 + 2u, p.M - 1u) * p.am;
  let a3 = aBase + min(m0 + 3u, p.M - 1u) * p.am;
  let b0 = bBase + min(n0, p.N - 1u) * p.bn;
  let b1 = bBase + min(n0 + 1u, p.N - 1u) * p.bn;
  let b2 = bBase + min(n0 + 2u, p.N - 1u) * p.bn;
  let b3 = bBase + min(n0 + 3u, p.N - 1u) * p.bn;
  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  for (var k = k0; k < k1; k++) {
    let ka = k * p.ak;
    let kb = k * p.bk;
    var av = vec4f(a[a0 + ka], a[a1 + ka], a[a2 + ka], a[a3 + ka]);
    if (SCALE_K) { av *= vec[k]; }
    let bv = vec4f(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
    c0 += av.x * bv;
    c1 += av.y * bv;
    c2 += av.z * bv;
    c3 += av.w * bv;
  }
  let rows = array<vec4f, 4>(c0, c1, c2, c3);
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + i;
    if (row >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = n0 + j;
      if (col >= p.N) { break; }
      store(z, zb, row, col, rows[i][j]);
    }
  }
}`;

interface BmmArgs {
  a: Tensor;
  b: Tensor;
  out: Tensor;
  idx: Tensor;
  vec: Tensor;
  dots: Tensor;
  mask: Tensor;
  Z: number;
  M: number;
  N: number;
  K: number;
  am: number;
  ak: number;
  aZ: number;
  bk: number;
  bn: number;
  bZ: number;
  nA?: number;
  kMul?: number;
  memDots?: number;
  flags: {
    SCALE_K?: boolean;
    SCALE_N?: boolean;
    B_INDIRECT?: boolean;
    GROUPED?: boolean;
    ACCUM?: boolean;
    SCORES?: boolean;
  };
}

type BmmKernel = "register" | "shared";

function bmmKind(gpu: Gpu, kernel: BiAttentionDims["kernel"]): BmmKernel {
  return !kernel || kernel === "auto" ? (gpu.isSoftware ? "register" : "shared") : kernel;
}

function bmmPipeline(gpu: Gpu, f: BmmArgs["flags"], kind: BmmKernel): GPUComputePipeline {
  const constants: Record<string, number> = {};
  for (const k of ["SCALE_K", "SCALE_N", "B_INDIRECT", "GROUPED", "ACCUM", "SCORES"] as const) {
    constants[k] = f[k] ? 1 : 0;
  }
  return kind === "register"
    ? gpu.pipeline("biattn_bmm_register", BMM_REG_WGSL, constants)
    : gpu.pipeline("biattn_bmm", BMM_WGSL, constants);
}

// The bmm variants the launchers use (scores; w1·m and the backward products; the grouped
// memory gradient, plain and scaled-accumulating).
const BMM_VARIANTS: BmmArgs["flags"][] = [
  { SCALE_K: true, B_INDIRECT: true, SCORES: true },
  { B_INDIRECT: true },
  { GROUPED: true },
  { GROUPED: true, SCALE_N: true, ACCUM: true },
];

function bmm(batch: Batch, x: BmmArgs, kernel: BiAttentionDims["kernel"]): void {
  const kind = bmmKind(batch.gpu, kernel);
  const pipe = bmmPipeline(batch.gpu, x.flags, kind);
  const tile = kind === "register" ? 32 : 16;
  const params = packParams([
    x.M,
    x.N,
    x.K,
    x.am,
    x.ak,
    x.aZ,
    x.bk,
    x.bn,
    x.bZ,
    x.M * x.N,
    x.nA ?? 0,
    x.kMul ?? 0,
    x.memDots ?? 0,
    0,
    0,
    0,
  ]);
  if (x.Z > 65535) throw new GpuError(`biattention: ${x.Z} batches exceed 65535`);
  batch.dispatch(
    pipe,
    [x.a, x.b, x.out, x.idx, x.vec, x.dots, x.mask],
    params,
    [Math.ceil(x.N / tile), Math.ceil(x.M / tile), x.Z],
  );
}

// Row dots: out[off + r] = Σ_c x[r, c]·w[c], one workgroup per row.
const ROWDOT_WGSL = /* wgsl */ `
struct Params { R: u32, C: u32, off: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let r = wgIndex;
  if (r >= p.R) { return; }
  var s = 0.0;
  for (var c = lid; c < p.C; c += 64u) { s += x[r * p.C + c] * w[c]; }
  red[lid] = s;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[p.off + r] = red[0]; }
}`;

function rowDot(
  batch: Batch,
  out: Tensor,
  off: number,
  x: Tensor,
  w: Tensor,
  R: number,
  C: number,
) {
  const pipe = batch.gpu.pipeline("biattn_rowdot", ROWDOT_WGSL);
  batch.dispatch(pipe, [x, w, out], packParams([R, C, off]), grid(R));
}

// Softmax of each att row over Tm (in place: att → w1) with the row's max and first argmax;
// then, per action, softmax over Ta of the row maxes (w2).
const SOFTMAX_ROWS_WGSL = /* wgsl */ `
struct Params { R: u32, L: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w1: array<f32>;
@group(0) @binding(2) var<storage, read_write> mx: array<f32>;
@group(0) @binding(3) var<storage, read_write> am: array<u32>;
var<workgroup> rv: array<f32, 64>;
var<workgroup> ri: array<u32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let r = wgIndex;
  if (r >= p.R) { return; }
  let base = r * p.L;
  var best = -3.4e38;
  var bi = 0u;
  for (var j = lid; j < p.L; j += 64u) {
    let v = w1[base + j];
    if (v > best) { best = v; bi = j; }
  }
  rv[lid] = best;
  ri[lid] = bi;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (lid < k) {
      let v = rv[lid + k];
      let i = ri[lid + k];
      if (v > rv[lid] || (v == rv[lid] && i < ri[lid])) { rv[lid] = v; ri[lid] = i; }
    }
    workgroupBarrier();
  }
  let m = rv[0];
  let mi = ri[0];
  workgroupBarrier();
  var s = 0.0;
  for (var j = lid; j < p.L; j += 64u) { s += exp(w1[base + j] - m); }
  rv[lid] = s;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (lid < k) { rv[lid] += rv[lid + k]; }
    workgroupBarrier();
  }
  let inv = 1.0 / rv[0];
  for (var j = lid; j < p.L; j += 64u) { w1[base + j] = exp(w1[base + j] - m) * inv; }
  if (lid == 0u) { mx[r] = m; am[r] = mi; }
}`;

// w2[a, :] = softmax over Ta of mx[a, :]; one thread per action (Ta is short).
const SOFTMAX2_WGSL = /* wgsl */ `
struct Params { A: u32, Ta: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mx: array<f32>;
@group(0) @binding(2) var<storage, read_write> w2: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let a = gid.x;
  if (a >= p.A) { return; }
  var m = -3.4e38;
  for (var i = 0u; i < p.Ta; i++) { m = max(m, mx[a * p.Ta + i]); }
  var s = 0.0;
  for (var i = 0u; i < p.Ta; i++) { s += exp(mx[a * p.Ta + i] - m); }
  for (var i = 0u; i < p.Ta; i++) { w2[a * p.Ta + i] = exp(mx[a * p.Ta + i] - m) / s; }
}`;

// o2[a, c] = Σ_i w2[a, i]·x[a, i, c], and its backward dO2[a, c] = Σ_i g3[a, i, c]·o1[a, i, c]
// (MODE 1: reads g3 from dOut with row stride 4C at offset 3C).
const O2_WGSL = /* wgsl */ `
override MODE: u32 = 0;
struct Params { A: u32, Ta: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.A * p.C) { return; }
  let a = e / p.C;
  let c = e % p.C;
  var s = 0.0;
  for (var i = 0u; i < p.Ta; i++) {
    let r = a * p.Ta + i;
    if (MODE == 0u) { s += u[r] * v[r * p.C + c]; }
    else { s += u[r * 4u * p.C + 3u * p.C + c] * v[r * p.C + c]; }
  }
  out[e] = s;
}`;

// out[r] = [x, o1, x⊙o1, o2[a]⊙o1] (A·Ta rows of 4C).
const CONCAT_WGSL = /* wgsl */ `
struct Params { R: u32, Ta: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> o1: array<f32>;
@group(0) @binding(3) var<storage, read> o2: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.R * p.C) { return; }
  let r = e / p.C;
  let c = e % p.C;
  let a = r / p.Ta;
  let xv = x[e];
  let ov = o1[e];
  let o = r * 4u * p.C + c;
  out[o] = xv;
  out[o + p.C] = ov;
  out[o + 2u * p.C] = xv * ov;
  out[o + 3u * p.C] = o2[a * p.C + c] * ov;
}`;

// Backward of the concat: dX = g0 + g2⊙o1 (assigned), dO1 = g1 + g2⊙x + g3⊙o2.
const CONCAT_BWD_WGSL = /* wgsl */ `
struct Params { R: u32, Ta: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> o1: array<f32>;
@group(0) @binding(4) var<storage, read> o2: array<f32>;
@group(0) @binding(5) var<storage, read_write> dX: array<f32>;
@group(0) @binding(6) var<storage, read_write> dO1: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.R * p.C) { return; }
  let r = e / p.C;
  let c = e % p.C;
  let a = r / p.Ta;
  let o = r * 4u * p.C + c;
  let g0 = g[o];
  let g1 = g[o + p.C];
  let g2 = g[o + 2u * p.C];
  let g3 = g[o + 3u * p.C];
  dX[e] = g0 + g2 * o1[e];
  dO1[e] = g1 + g2 * x[e] + g3 * o2[a * p.C + c];
}`;

// Per action: dW2[i] = dO2[a]·x[a, i]; dMx = w2⊙(dW2 − Σ w2·dW2). One workgroup per action.
const W2_BWD_WGSL = /* wgsl */ `
struct Params { A: u32, Ta: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dO2: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w2: array<f32>;
@group(0) @binding(4) var<storage, read_write> dMx: array<f32>;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let a = wgIndex;
  if (a >= p.A) { return; }
  // dMx temporarily holds dW2; thread lid owns positions i ≡ lid (mod 64).
  for (var i = 0u; i < p.Ta; i++) {
    var s = 0.0;
    for (var c = lid; c < p.C; c += 64u) { s += dO2[a * p.C + c] * x[(a * p.Ta + i) * p.C + c]; }
    red[lid] = s;
    workgroupBarrier();
    for (var k = 32u; k > 0u; k >>= 1u) {
      if (lid < k) { red[lid] += red[lid + k]; }
      workgroupBarrier();
    }
    if (lid == i % 64u) { dMx[a * p.Ta + i] = red[0]; }
    workgroupBarrier();
  }
  var d = 0.0;
  for (var i = lid; i < p.Ta; i += 64u) { d += w2[a * p.Ta + i] * dMx[a * p.Ta + i]; }
  red[lid] = d;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  let dot = red[0];
  for (var i = lid; i < p.Ta; i += 64u) {
    let r = a * p.Ta + i;
    dMx[r] = w2[r] * (dMx[r] - dot);
  }
}`;

// Per row r: dAtt = w1⊙(dW1 − Σ w1·dW1) (+ dMx[r] at the argmax), in place over dW1; its row sum
// is dInDot[r].
const ATT_BWD_WGSL = /* wgsl */ `
struct Params { R: u32, L: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> d: array<f32>;
@group(0) @binding(2) var<storage, read> w1: array<f32>;
@group(0) @binding(3) var<storage, read> dMx: array<f32>;
@group(0) @binding(4) var<storage, read> am: array<u32>;
@group(0) @binding(5) var<storage, read_write> dDots: array<f32>;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let r = wgIndex;
  if (r >= p.R) { return; }
  let base = r * p.L;
  var s = 0.0;
  for (var j = lid; j < p.L; j += 64u) { s += w1[base + j] * d[base + j]; }
  red[lid] = s;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  let dot = red[0];
  workgroupBarrier();
  let amax = am[r];
  var t = 0.0;
  for (var j = lid; j < p.L; j += 64u) {
    var v = w1[base + j] * (d[base + j] - dot);
    if (j == amax) { v += dMx[r]; }
    d[base + j] = v;
    t += v;
  }
  red[lid] = t;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (lid < k) { red[lid] += red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { dDots[r] = red[0]; }
}`;

// dMemDot[s, j] = Σ over the rows r of state s's actions of dAtt[r, j]; one thread per (s, j).
const MEMDOT_BWD_WGSL = /* wgsl */ `
struct Params { S: u32, Tm: u32, Ta: u32, nA: u32, off: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dAtt: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dDots: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.S * p.Tm) { return; }
  let s = e / p.Tm;
  let j = e % p.Tm;
  let r0 = idx[p.nA + s] * p.Ta;
  let r1 = idx[p.nA + s + 1u] * p.Ta;
  var acc = 0.0;
  for (var r = r0; r < r1; r++) { acc += dAtt[r * p.Tm + j]; }
  dDots[p.off + e] = acc;
}`;

// dX[r, c] += scale[c]·q[r, c] + dInDot[r]·wIn[c] + w2[r]·dO2[a, c].
const DX_WGSL = /* wgsl */ `
struct Params { R: u32, Ta: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dX: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read> dDots: array<f32>;
@group(0) @binding(5) var<storage, read> wIn: array<f32>;
@group(0) @binding(6) var<storage, read> w2: array<f32>;
@group(0) @binding(7) var<storage, read> dO2: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.R * p.C) { return; }
  let r = e / p.C;
  let c = e % p.C;
  let a = r / p.Ta;
  dX[e] += scale[c] * q[e] + dDots[r] * wIn[c] + w2[r] * dO2[a * p.C + c];
}`;

// dMem[s, j, c] += dMemDot[s, j]·wMem[c].
const RANK1_WGSL = /* wgsl */ `
struct Params { R: u32, C: u32, off: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.R * p.C) { return; }
  out[e] += u[p.off + e / p.C] * w[e % p.C];
}`;

// Column sums: out[c] += Σ_r x[r, c]·(ROWVEC ? v[off + r] : v[r, c]). A workgroup owns 64
// columns and splits the rows over 4 lanes of y.
const COLSUM_WGSL = /* wgsl */ `
override ROWVEC: bool = false;
struct Params { R: u32, C: u32, off: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<workgroup> red: array<array<f32, 64>, 4>;
@compute @workgroup_size(64, 4)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = wid.x * 64u + lid.x;
  var s = 0.0;
  if (c < p.C) {
    for (var r = lid.y; r < p.R; r += 4u) {
      var f = 0.0;
      if (ROWVEC) { f = v[p.off + r]; } else { f = v[r * p.C + c]; }
      s += x[r * p.C + c] * f;
    }
  }
  red[lid.y][lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && c < p.C) {
    out[c] += red[0][lid.x] + red[1][lid.x] + red[2][lid.x] + red[3][lid.x];
  }
}`;

function elementwise(
  batch: Batch,
  name: string,
  code: string,
  buffers: Tensor[],
  params: number[],
  n: number,
  constants: Record<string, number> = {},
): void {
  const pipe = batch.gpu.pipeline(name, code, constants);
  batch.dispatch(pipe, buffers, packParams(params), grid(Math.ceil(n / 64)));
}

function colSum(
  batch: Batch,
  out: Tensor,
  x: Tensor,
  v: Tensor,
  R: number,
  C: number,
  rowVec: boolean,
  off = 0,
): void {
  const pipe = batch.gpu.pipeline("biattn_colsum", COLSUM_WGSL, { ROWVEC: rowVec ? 1 : 0 });
  batch.dispatch(pipe, [x, v, out], packParams([R, C, off]), [Math.ceil(C / 64)]);
}

function checkDims(op: string, d: BiAttentionDims, bufs: BiAttentionBuffers): void {
  for (const k of ["A", "S", "Ta", "Tm", "C"] as const) {
    if (!Number.isInteger(d[k]) || d[k] < 0) throw new GpuError(`${op}: ${k} = ${d[k]}`);
    if (d[k] > bufs.max[k] && k !== "C") {
      throw new GpuError(`${op}: ${k} = ${d[k]} exceeds the buffers' ${bufs.max[k]}`);
    }
  }
  if (d.C !== bufs.max.C) throw new GpuError(`${op}: C = ${d.C}, buffers hold ${bufs.max.C}`);
}

/**
 * Records BiAttention's forward: `out` (A, Ta, 4C) from context `x` (A, Ta, C), memory `mem`
 * (S, Tm, C) and its mask (S, Tm). Call {@linkcode writeBiAttentionIndex} with the group sizes
 * first. Saves w1, argmax, w2, o1, o2 in `bufs`.
 */
export function biattentionForward(
  batch: Batch,
  out: Tensor,
  bufs: BiAttentionBuffers,
  x: Tensor,
  mem: Tensor,
  mask: Tensor,
  wIn: Tensor,
  wMem: Tensor,
  scale: Tensor,
  d: BiAttentionDims,
): void {
  const op = "biattentionForward";
  checkDims(op, d, bufs);
  const { A, S, Ta, Tm, C } = d;
  assertSize(op, "x", x, A * Ta * C);
  assertSize(op, "mem", mem, S * Tm * C);
  assertSize(op, "mask", mask, S * Tm);
  assertDType(op, "mask", mask, "f32");
  assertSize(op, "out", out, A * Ta * 4 * C);
  for (const [n, t] of [["wIn", wIn], ["wMem", wMem], ["scale", scale]] as const) {
    assertSize(op, n, t, C);
  }
  const memDots = A * Ta;
  rowDot(batch, bufs.dots, 0, x, wIn, A * Ta, C);
  rowDot(batch, bufs.dots, memDots, mem, wMem, S * Tm, C);
  bmm(batch, {
    a: x,
    b: mem,
    out: bufs.w1,
    idx: bufs.index,
    vec: scale,
    dots: bufs.dots,
    mask,
    Z: A,
    M: Ta,
    N: Tm,
    K: C,
    am: C,
    ak: 1,
    aZ: Ta * C,
    bk: 1,
    bn: C,
    bZ: Tm * C,
    memDots,
    flags: { SCALE_K: true, B_INDIRECT: true, SCORES: true },
  }, d.kernel);
  const rowwise = bmmKind(batch.gpu, d.kernel) === "register";
  if (rowwise) {
    const sm = batch.gpu.pipeline("biattn_softmax_rows_1", SOFTMAX_ROWS_1_WGSL);
    const n = Math.ceil((A * Ta) / 64);
    batch.dispatch(sm, [bufs.w1, bufs.mx, bufs.argmax], packParams([A * Ta, Tm]), grid(n));
  } else {
    const sm = batch.gpu.pipeline("biattn_softmax_rows", SOFTMAX_ROWS_WGSL);
    batch.dispatch(sm, [bufs.w1, bufs.mx, bufs.argmax], packParams([A * Ta, Tm]), grid(A * Ta));
  }
  const sm2 = batch.gpu.pipeline("biattn_softmax2", SOFTMAX2_WGSL);
  batch.dispatch(sm2, [bufs.mx, bufs.w2], packParams([A, Ta]), [Math.ceil(A / 64)]);
  bmm(batch, {
    a: bufs.w1,
    b: mem,
    out: bufs.o1,
    idx: bufs.index,
    vec: bufs.dummy,
    dots: bufs.dummy,
    mask: bufs.dummy,
    Z: A,
    M: Ta,
    N: C,
    K: Tm,
    am: Tm,
    ak: 1,
    aZ: Ta * Tm,
    bk: C,
    bn: 1,
    bZ: Tm * C,
    flags: { B_INDIRECT: true },
  }, d.kernel);
  elementwise(batch, "biattn_o2", O2_WGSL, [bufs.w2, x, bufs.o2], [A, Ta, C], A * C, { MODE: 0 });
  elementwise(
    batch,
    "biattn_concat",
    CONCAT_WGSL,
    [x, bufs.o1, bufs.o2, out],
    [A * Ta, Ta, C],
    A * Ta * C,
  );
}

/**
 * Records BiAttention's backward from `dOut` (A, Ta, 4C): assigns `dX` (A, Ta, C) and `dMem`
 * (S, Tm, C); accumulates `dWIn`, `dWMem`, `dScale` (C). Uses the saved buffers of the last
 * {@linkcode biattentionForward} with the same inputs.
 */
export function biattentionBackward(
  batch: Batch,
  dX: Tensor,
  dMem: Tensor,
  dWIn: Tensor,
  dWMem: Tensor,
  dScale: Tensor,
  dOut: Tensor,
  bufs: BiAttentionBuffers,
  x: Tensor,
  mem: Tensor,
  wIn: Tensor,
  wMem: Tensor,
  scale: Tensor,
  d: BiAttentionDims,
): void {
  const op = "biattentionBackward";
  checkDims(op, d, bufs);
  const { A, S, Ta, Tm, C } = d;
  assertSize(op, "dOut", dOut, A * Ta * 4 * C);
  assertSize(op, "dX", dX, A * Ta * C);
  assertSize(op, "dMem", dMem, S * Tm * C);
  for (const [n, t] of [["dWIn", dWIn], ["dWMem", dWMem], ["dScale", dScale]] as const) {
    assertSize(op, n, t, C);
  }
  const R = A * Ta, memDots = A * Ta;
  elementwise(
    batch,
    "biattn_concat_bwd",
    CONCAT_BWD_WGSL,
    [dOut, x, bufs.o1, bufs.o2, dX, bufs.dO1],
    [R, Ta, C],
    R * C,
  );
  elementwise(batch, "biattn_o2", O2_WGSL, [dOut, bufs.o1, bufs.dO2], [A, Ta, C], A * C, {
    MODE: 1,
  });
  const rowwise = bmmKind(batch.gpu, d.kernel) === "register";
  if (rowwise) {
    const p1 = batch.gpu.pipeline("biattn_w2_bwd_1", W2_BWD_1_WGSL);
    const n = Math.ceil((A * Ta) / 64);
    batch.dispatch(p1, [bufs.dO2, x, bufs.dMx], packParams([A, Ta, C]), grid(n));
    const p2 = batch.gpu.pipeline("biattn_w2_bwd_2", W2_BWD_2_WGSL);
    batch.dispatch(p2, [bufs.w2, bufs.dMx], packParams([A, Ta]), [Math.ceil(A / 64)]);
  } else {
    const w2b = batch.gpu.pipeline("biattn_w2_bwd", W2_BWD_WGSL);
    batch.dispatch(w2b, [bufs.dO2, x, bufs.w2, bufs.dMx], packParams([A, Ta, C]), grid(A));
  }
  // dW1 = dO1·m[s]ᵀ into dAtt, then the softmax and max backward in place.
  bmm(batch, {
    a: bufs.dO1,
    b: mem,
    out: bufs.dAtt,
    idx: bufs.index,
    vec: bufs.dummy,
    dots: bufs.dummy,
    mask: bufs.dummy,
    Z: A,
    M: Ta,
    N: Tm,
    K: C,
    am: C,
    ak: 1,
    aZ: Ta * C,
    bk: 1,
    bn: C,
    bZ: Tm * C,
    flags: { B_INDIRECT: true },
  }, d.kernel);
  const ab = rowwise
    ? batch.gpu.pipeline("biattn_att_bwd_1", ATT_BWD_1_WGSL)
    : batch.gpu.pipeline("biattn_att_bwd", ATT_BWD_WGSL);
  batch.dispatch(
    ab,
    [bufs.dAtt, bufs.w1, bufs.dMx, bufs.argmax, bufs.dDots],
    packParams([R, Tm]),
    grid(rowwise ? Math.ceil(R / 64) : R),
  );
  elementwise(
    batch,
    "biattn_memdot_bwd",
    MEMDOT_BWD_WGSL,
    [bufs.dAtt, bufs.index, bufs.dDots],
    [S, Tm, Ta, A, memDots],
    S * Tm,
  );
  // q = dAtt·m[s] (A, Ta, C).
  bmm(batch, {
    a: bufs.dAtt,
    b: mem,
    out: bufs.q,
    idx: bufs.index,
    vec: bufs.dummy,
    dots: bufs.dummy,
    mask: bufs.dummy,
    Z: A,
    M: Ta,
    N: C,
    K: Tm,
    am: Tm,
    ak: 1,
    aZ: Ta * Tm,
    bk: C,
    bn: 1,
    bZ: Tm * C,
    flags: { B_INDIRECT: true },
  }, d.kernel);
  elementwise(
    batch,
    "biattn_dx",
    DX_WGSL,
    [dX, bufs.q, scale, bufs.dDots, wIn, bufs.w2, bufs.dO2],
    [R, Ta, C],
    R * C,
  );
  colSum(batch, dScale, x, bufs.q, R, C, false);
  colSum(batch, dWIn, x, bufs.dDots, R, C, true, 0);
  // dMem[s] = Σ_{r∈s} w1[r]ᵀ·dO1[r] + scale⊙Σ_{r∈s} dAtt[r]ᵀ·x[r] + dMemDot⊗wMem.
  const grouped = {
    idx: bufs.index,
    dots: bufs.dummy,
    mask: bufs.dummy,
    Z: S,
    M: Tm,
    N: C,
    K: 0,
    am: 1,
    ak: Tm,
    aZ: 0,
    bk: C,
    bn: 1,
    bZ: 0,
    nA: A,
    kMul: Ta,
  };
  bmm(batch, {
    ...grouped,
    a: bufs.w1,
    b: bufs.dO1,
    out: dMem,
    vec: bufs.dummy,
    flags: { GROUPED: true },
  }, d.kernel);
  bmm(batch, {
    ...grouped,
    a: bufs.dAtt,
    b: x,
    out: dMem,
    vec: scale,
    flags: { GROUPED: true, SCALE_N: true, ACCUM: true },
  }, d.kernel);
  elementwise(
    batch,
    "biattn_rank1",
    RANK1_WGSL,
    [dMem, bufs.dDots, wMem],
    [S * Tm, C, memDots],
    S * Tm * C,
  );
  colSum(batch, dWMem, mem, bufs.dDots, S * Tm, C, true, memDots);
}

// Row kernels for CPU rasterisers: one invocation per row (per action for w2), no workgroup
// memory and no barriers, which cost more there than the reductions they parallelise.
const SOFTMAX_ROWS_1_WGSL = /* wgsl */ `
struct Params { R: u32, L: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w1: array<f32>;
@group(0) @binding(2) var<storage, read_write> mx: array<f32>;
@group(0) @binding(3) var<storage, read_write> am: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let r = wgIndex * 64u + lid;
  if (r >= p.R) { return; }
  let base = r * p.L;
  var best = -3.4e38;
  var bi = 0u;
  for (var j = 0u; j < p.L; j++) {
    let v = w1[base + j];
    if (v > best) { best = v; bi = j; }
  }
  var s = 0.0;
  for (var j = 0u; j < p.L; j++) { s += exp(w1[base + j] - best); }
  let inv = 1.0 / s;
  for (var j = 0u; j < p.L; j++) { w1[base + j] = exp(w1[base + j] - best) * inv; }
  mx[r] = best;
  am[r] = bi;
}`;

const ATT_BWD_1_WGSL = /* wgsl */ `
struct Params { R: u32, L: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> d: array<f32>;
@group(0) @binding(2) var<storage, read> w1: array<f32>;
@group(0) @binding(3) var<storage, read> dMx: array<f32>;
@group(0) @binding(4) var<storage, read> am: array<u32>;
@group(0) @binding(5) var<storage, read_write> dDots: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let r = wgIndex * 64u + lid;
  if (r >= p.R) { return; }
  let base = r * p.L;
  var dot = 0.0;
  for (var j = 0u; j < p.L; j++) { dot += w1[base + j] * d[base + j]; }
  let amax = am[r];
  var t = 0.0;
  for (var j = 0u; j < p.L; j++) {
    var v = w1[base + j] * (d[base + j] - dot);
    if (j == amax) { v += dMx[r]; }
    d[base + j] = v;
    t += v;
  }
  dDots[r] = t;
}`;

const W2_BWD_1_WGSL = /* wgsl */ `
struct Params { A: u32, Ta: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dO2: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dMx: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.A * p.Ta) { return; }
  // Pass 1 (this dispatch): dW2[a, i] = dO2[a]·x[a, i], one invocation per (a, i).
  let a = e / p.Ta;
  var s = 0.0;
  for (var c = 0u; c < p.C; c++) { s += dO2[a * p.C + c] * x[e * p.C + c]; }
  dMx[e] = s;
}`;

// Pass 2: dMx = w2⊙(dW2 − Σ_i w2·dW2), one invocation per action.
const W2_BWD_2_WGSL = /* wgsl */ `
struct Params { A: u32, Ta: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w2: array<f32>;
@group(0) @binding(2) var<storage, read_write> dMx: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let a = gid.x;
  if (a >= p.A) { return; }
  var dot = 0.0;
  for (var i = 0u; i < p.Ta; i++) { dot += w2[a * p.Ta + i] * dMx[a * p.Ta + i]; }
  for (var i = 0u; i < p.Ta; i++) {
    let r = a * p.Ta + i;
    dMx[r] = w2[r] * (dMx[r] - dot);
  }
}`;

// Strided row copy: dst[r·dStride + dOff + c] (+)= src[r·sStride + sOff + c] for c < width.
/**
 * Compiles every pipeline of this file now, at start-up, instead of at its first dispatch (on
 * CPU rasterisers a compile takes a noticeable time inside a step).
 */
export function warmBiAttentionKernels(gpu: Gpu): void {
  for (const f of BMM_VARIANTS) bmmPipeline(gpu, f, bmmKind(gpu, "auto"));
  gpu.pipeline("biattn_rowdot", ROWDOT_WGSL);
  if (bmmKind(gpu, "auto") === "register") {
    gpu.pipeline("biattn_softmax_rows_1", SOFTMAX_ROWS_1_WGSL);
    gpu.pipeline("biattn_att_bwd_1", ATT_BWD_1_WGSL);
    gpu.pipeline("biattn_w2_bwd_1", W2_BWD_1_WGSL);
    gpu.pipeline("biattn_w2_bwd_2", W2_BWD_2_WGSL);
  } else {
    gpu.pipeline("biattn_softmax_rows", SOFTMAX_ROWS_WGSL);
    gpu.pipeline("biattn_att_bwd", ATT_BWD_WGSL);
    gpu.pipeline("biattn_w2_bwd", W2_BWD_WGSL);
  }
  gpu.pipeline("biattn_softmax2", SOFTMAX2_WGSL);
  gpu.pipeline("biattn_o2", O2_WGSL, { MODE: 0 });
  gpu.pipeline("biattn_o2", O2_WGSL, { MODE: 1 });
  gpu.pipeline("biattn_concat", CONCAT_WGSL);
  gpu.pipeline("biattn_concat_bwd", CONCAT_BWD_WGSL);
  gpu.pipeline("biattn_memdot_bwd", MEMDOT_BWD_WGSL);
  gpu.pipeline("biattn_dx", DX_WGSL);
  gpu.pipeline("biattn_rank1", RANK1_WGSL);
  gpu.pipeline("biattn_colsum", COLSUM_WGSL, { ROWVEC: 0 });
  gpu.pipeline("biattn_colsum", COLSUM_WGSL, { ROWVEC: 1 });
  warmCopyRows(gpu);
}
