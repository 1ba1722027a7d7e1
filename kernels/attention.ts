/**
 * Multi-head scaled dot-product attention with an additive padding mask and dropout on the
 * probabilities, as Hugging Face BERT's self-attention computes it after its Q, K, V projections:
 *   S[b,h,i,j]   = q[b,i,h]·k[b,j,h]/√D + mask[b,j]
 *   P[b,h,i,:]   = softmax(S[b,h,i,:])                      (saved in probs)
 *   out[b,i,h]   = Σ_j dropout(P)[b,h,i,j]·v[b,j,h]
 * where q[b,i,h] is the D channels h·D..h·D+D-1 of token i (HF's head-interleaved layout).
 * Gradients (assigned): with Pd = dropout(P) and keep/(1-p) the dropout factor,
 *   dV = Pdᵀ·dOut,  dP = (dOut·Vᵀ)·keep/(1-p),  dS = P·(dP - Σ_j P·dP),
 *   dQ = dS·K/√D,   dK = dSᵀ·Q/√D.
 * The dropout mask is regenerated from (seed, index into probs) in the backward.
 *
 * The products run on the library matmul (matmul.ts, strided batches over (b, h)), except the
 * forward's dropout(P)·V, which uses this file's own strided batched matmul that applies dropout
 * while loading A (one 4×4 output block per invocation, no workgroup memory; vec4 loads where T
 * and D are multiples of 4); the backward materialises dropout(P) in the scratch instead. Row
 * kernels do the softmax (shared with softmax.ts) and its backward.
 *
 * Shapes: q, k, v, out, dQ, dK, dV, dOut (B, T, C) with C = H·D; mask (B, T), 0 to keep and a
 * large negative value (e.g. -10000) to pad; probs and scratch (B, H, T, T).
 *
 * @module
 */

import { type Batch, f32, GpuError, packParams } from "./device.ts";
import { assertNoAlias, assertSize, type Tensor } from "./tensor.ts";
import { dropoutForward, dropoutParams, WGSL_DROPOUT } from "./dropout.ts";
import { matmul } from "./matmul.ts";
import { type RowKernelOptions, rowLaunch, WGSL_ROW_REDUCE } from "./row.ts";
import { softmaxForward } from "./softmax.ts";

// The uniform block both GEMM kernels read: one launcher packs it for either, so it is defined once.
const GEMM_PARAMS_WGSL = /* wgsl */ `
override WG_X: u32 = 8;
override WG_Y: u32 = 8;
override DROPOUT: bool = false;
struct Params {
  M: u32, N: u32, K: u32, H: u32,
  aB: u32, aH: u32, aM: u32, aK: u32,
  bB: u32, bH: u32, bK: u32, bN: u32,
  oB: u32, oH: u32, oM: u32, oN: u32,
  alpha: f32, threshold: u32, seedHash: u32, dscale: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
`;

const GEMM_WGSL = /* wgsl */ `
${GEMM_PARAMS_WGSL}@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${WGSL_DROPOUT}

fn loadA(idx: u32) -> f32 {
  if (DROPOUT) {
    return select(0.0, a[idx] * p.dscale, dropoutKeep(p.seedHash, idx, p.threshold));
  }
  return a[idx];
}

fn store(oBase: u32, m: u32, n0: u32, v: vec4f) {
  if (m >= p.M) { return; }
  let o = oBase + m * p.oM + n0 * p.oN;
  out[o] = p.alpha * v.x;
  if (n0 + 1u < p.N) { out[o + p.oN] = p.alpha * v.y; }
  if (n0 + 2u < p.N) { out[o + 2u * p.oN] = p.alpha * v.z; }
  if (n0 + 3u < p.N) { out[o + 3u * p.oN] = p.alpha * v.w; }
}

// out[z](m, n) = alpha·Σ_k A[z](m, k)·B[z](k, n), z = bb·H + h; each invocation a 4×4 block.
@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let z = wid.z;
  let bb = z / p.H;
  let h = z - bb * p.H;
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let aBase = bb * p.aB + h * p.aH;
  let bBase = bb * p.bB + h * p.bH;
  // Rows and columns past the edge are clamped (valid reads) and not written. Four named
  // accumulators, not an array: CPU rasterisers spill dynamically indexed arrays to memory.
  let a0 = aBase + min(m0, p.M - 1u) * p.aM;
  let a1 = aBase + min(m0 + 1u, p.M - 1u) * p.aM;
  let a2 = aBase + min(m0 + 2u, p.M - 1u) * p.aM;
  let a3 = aBase + min(m0 + 3u, p.M - 1u) * p.aM;
  let b0 = bBase + min(n0, p.N - 1u) * p.bN;
  let b1 = bBase + min(n0 + 1u, p.N - 1u) * p.bN;
  let b2 = bBase + min(n0 + 2u, p.N - 1u) * p.bN;
  let b3 = bBase + min(n0 + 3u, p.N - 1u) * p.bN;
  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  for (var k = 0u; k < p.K; k++) {
    let kb = k * p.bK;
    let ka = k * p.aK;
    let bv = vec4f(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
    c0 += loadA(a0 + ka) * bv;
    c1 += loadA(a1 + ka) * bv;
    c2 += loadA(a2 + ka) * bv;
    c3 += loadA(a3 + ka) * bv;
  }
  let oBase = bb * p.oB + h * p.oH;
  store(oBase, m0, n0, c0);
  store(oBase, m0 + 1u, n0, c1);
  store(oBase, m0 + 2u, n0, c2);
  store(oBase, m0 + 3u, n0, c3);
}`;

// The same product with vec4 loads and stores, for shapes where every dimension and every
// non-unit stride is a multiple of 4 (BERT's T and D are): A is contiguous along k ("k") or
// along m ("m"), B along k ("k") or along n ("n"), out along n. A quarter of the loads of
// GEMM_WGSL: on CPU rasterisers each per-invocation load is a gather, and loads dominate.
const gemmVecWgsl = (aLayout: "k" | "m", bLayout: "k" | "n") => /* wgsl */ `
${GEMM_PARAMS_WGSL}@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
${WGSL_DROPOUT}

// The 4 floats at float index i (a multiple of 4), dropout applied per float index.
fn loadA(i: u32) -> vec4f {
  let v = a[i / 4u];
  if (DROPOUT) {
    let keep = vec4f(
      select(0.0, p.dscale, dropoutKeep(p.seedHash, i, p.threshold)),
      select(0.0, p.dscale, dropoutKeep(p.seedHash, i + 1u, p.threshold)),
      select(0.0, p.dscale, dropoutKeep(p.seedHash, i + 2u, p.threshold)),
      select(0.0, p.dscale, dropoutKeep(p.seedHash, i + 3u, p.threshold)));
    return v * keep;
  }
  return v;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let z = wid.z;
  let bb = z / p.H;
  let h = z - bb * p.H;
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let aBase = bb * p.aB + h * p.aH;
  let bBase = bb * p.bB + h * p.bH;
  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  for (var k = 0u; k < p.K; k += 4u) {
${
  aLayout === "k"
    ? `    // Rows m0..m0+3 of A, floats k..k+3 of each.
    let a0 = loadA(aBase + m0 * p.aM + k);
    let a1 = loadA(aBase + (m0 + 1u) * p.aM + k);
    let a2 = loadA(aBase + (m0 + 2u) * p.aM + k);
    let a3 = loadA(aBase + (m0 + 3u) * p.aM + k);`
    : `    // Columns k..k+3 of A, floats m0..m0+3 of each; transposed to rows.
    let t0 = loadA(aBase + k * p.aK + m0);
    let t1 = loadA(aBase + (k + 1u) * p.aK + m0);
    let t2 = loadA(aBase + (k + 2u) * p.aK + m0);
    let t3 = loadA(aBase + (k + 3u) * p.aK + m0);
    let a0 = vec4f(t0.x, t1.x, t2.x, t3.x);
    let a1 = vec4f(t0.y, t1.y, t2.y, t3.y);
    let a2 = vec4f(t0.z, t1.z, t2.z, t3.z);
    let a3 = vec4f(t0.w, t1.w, t2.w, t3.w);`
}
${
  bLayout === "k"
    ? `    // Columns n0..n0+3 of B, floats k..k+3 of each.
    let b0 = b[(bBase + n0 * p.bN + k) / 4u];
    let b1 = b[(bBase + (n0 + 1u) * p.bN + k) / 4u];
    let b2 = b[(bBase + (n0 + 2u) * p.bN + k) / 4u];
    let b3 = b[(bBase + (n0 + 3u) * p.bN + k) / 4u];
    c0 += vec4f(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
    c1 += vec4f(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
    c2 += vec4f(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
    c3 += vec4f(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));`
    : `    // Rows k..k+3 of B, floats n0..n0+3 of each.
    let r0 = b[(bBase + k * p.bK + n0) / 4u];
    let r1 = b[(bBase + (k + 1u) * p.bK + n0) / 4u];
    let r2 = b[(bBase + (k + 2u) * p.bK + n0) / 4u];
    let r3 = b[(bBase + (k + 3u) * p.bK + n0) / 4u];
    c0 += a0.x * r0 + a0.y * r1 + a0.z * r2 + a0.w * r3;
    c1 += a1.x * r0 + a1.y * r1 + a1.z * r2 + a1.w * r3;
    c2 += a2.x * r0 + a2.y * r1 + a2.z * r2 + a2.w * r3;
    c3 += a3.x * r0 + a3.y * r1 + a3.z * r2 + a3.w * r3;`
}
  }
  let o = (bb * p.oB + h * p.oH + m0 * p.oM + n0) / 4u;
  let step = p.oM / 4u;
  out[o] = p.alpha * c0;
  out[o + step] = p.alpha * c1;
  out[o + 2u * step] = p.alpha * c2;
  out[o + 3u * step] = p.alpha * c3;
}`;

const GEMM_VEC_WGSL = {
  kk: gemmVecWgsl("k", "k"),
  kn: gemmVecWgsl("k", "n"),
  mn: gemmVecWgsl("m", "n"),
};

// scratch holds dOut·Vᵀ on entry and dS/√D on exit, row by row in place (each lane writes only
// the elements it read, after the row's reduction).
const DSCORES_WGSL = /* wgsl */ `
${WGSL_ROW_REDUCE}
override DROPOUT: bool = false;
struct Params { N: u32, L: u32, scale: f32, threshold: u32, seedHash: u32, dscale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read_write> scratch: array<f32>;
${WGSL_DROPOUT}

fn dP(idx: u32) -> f32 {
  if (DROPOUT) {
    return select(0.0, scratch[idx] * p.dscale, dropoutKeep(p.seedHash, idx, p.threshold));
  }
  return scratch[idx];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let wgIndex = wid.x + wid.y * nwg.x;
  let lane = lid % LANES;
  let row = wgIndex * (WG / LANES) + lid / LANES;
  let r = min(row, p.N - 1u);
  let o = r * p.L;
  var d = 0.0;
  for (var j = lane; j < p.L; j += LANES) { d += probs[o + j] * dP(o + j); }
  d = rowSum(d, lid);
  if (row < p.N) {
    for (var j = lane; j < p.L; j += LANES) {
      scratch[o + j] = probs[o + j] * (dP(o + j) - d) * p.scale;
    }
  }
}`;

/** Sizes of an attention call: B sequences of T tokens, H heads of width D; optional dropout. */
export interface AttentionDims extends RowKernelOptions {
  B: number;
  T: number;
  H: number;
  D: number;
  /**
   * The kernel of the dropout-free products: the library matmul (default) or this file's own
   * batched matmul. For tests and benchmarks: the library's register-blocked kernels take tens
   * of seconds each to compile on a CPU rasteriser, this file's a fraction of a second.
   */
  matmul?: "library" | "own";
  /** Dropout probability on the attention probabilities (default 0: none). */
  dropoutP?: number;
  /** Seed of the dropout mask; the backward must get the same one. */
  seed?: number;
}

/** Elements (f32) of the scratch tensor {@linkcode attentionBackward} needs: B·H·T·T. */
export function attentionScratchSize(dims: AttentionDims): number {
  return dims.B * dims.H * dims.T * dims.T;
}

interface Strides {
  b: number;
  h: number;
  r: number; // row (m for A and out, k for B)
  c: number; // column (k for A, n for B and out)
}

function gemm(
  batch: Batch,
  out: Tensor,
  a: Tensor,
  b: Tensor,
  d: { Z: number; H: number; M: number; N: number; K: number },
  sa: Strides,
  sb: Strides,
  so: Strides,
  alpha: number,
  dropout: [number, number, number] | null,
): void {
  // The vec4 kernel needs 4-aligned sizes and strides and a layout it has (see gemmVecWgsl).
  const aLayout = sa.c === 1 ? "k" : sa.r === 1 ? "m" : null;
  const bLayout = sb.r === 1 ? "k" : sb.c === 1 ? "n" : null;
  const key = `${aLayout}${bLayout}`;
  const aligned = [d.M, d.N, d.K].every((v) => v % 4 === 0) && so.c === 1 &&
    [sa.b, sa.h, sa.r, sa.c, sb.b, sb.h, sb.r, sb.c, so.b, so.h, so.r]
      .every((v) => v === 1 || v % 4 === 0);
  const vec = aligned && key in GEMM_VEC_WGSL ? key as keyof typeof GEMM_VEC_WGSL : null;
  const pipe = batch.gpu.pipeline(
    vec ? `attention_gemm_vec4_${vec}` : "attention_gemm",
    vec ? GEMM_VEC_WGSL[vec] : GEMM_WGSL,
    { WG_X: 8, WG_Y: 8, DROPOUT: dropout ? 1 : 0 },
  );
  const [thr, seedHash, dscale] = dropout ?? [0, 0, 1];
  const params = packParams([
    d.M,
    d.N,
    d.K,
    d.H,
    sa.b,
    sa.h,
    sa.r,
    sa.c,
    sb.b,
    sb.h,
    sb.r,
    sb.c,
    so.b,
    so.h,
    so.r,
    so.c,
    f32(alpha),
    thr,
    seedHash,
    f32(dscale),
  ]);
  const groups = [Math.ceil(d.N / 32), Math.ceil(d.M / 32), d.Z];
  if (groups[2] > 65535) {
    throw new GpuError(`attention: B·H = ${d.Z} is over the 65535 workgroups of one dispatch`);
  }
  batch.dispatch(pipe, [a, b, out], params, groups);
}

/**
 * One of attention's products: through the library matmul (its register-blocked kernel is several
 * times faster on CPU rasterisers than `gemm`) unless dropout must be applied while loading A,
 * which only `gemm` does.
 */
function product(
  batch: Batch,
  out: Tensor,
  a: Tensor,
  b: Tensor,
  d: { Z: number; H: number; M: number; N: number; K: number },
  sa: Strides,
  sb: Strides,
  so: Strides,
  alpha: number,
  dropout: [number, number, number] | null,
  kind: "library" | "own",
): void {
  if (dropout || so.c !== 1 || kind === "own") {
    gemm(batch, out, a, b, d, sa, sb, so, alpha, dropout);
    return;
  }
  // A is (M,K) with row stride sa.r when k is contiguous, else stored (K,M); B likewise.
  const transA = sa.c !== 1, transB = sb.c !== 1;
  matmul(batch, out, a, b, {
    m: d.M,
    k: d.K,
    n: d.N,
    transA,
    transB,
    alpha,
    lda: transA ? sa.c : sa.r,
    ldb: transB ? sb.c : sb.r,
    ldo: so.r,
    batch: { outer: d.Z / d.H, inner: d.H, a: [sa.b, sa.h], b: [sb.b, sb.h], out: [so.b, so.h] },
  });
}

function checkDims(op: string, dims: AttentionDims): [number, number, number, number, number] {
  const { B, T, H, D } = dims;
  for (const [k, v] of Object.entries({ B, T, H, D })) {
    if (!Number.isInteger(v) || v < 0) throw new GpuError(`${op}: ${k} = ${v} is not a size`);
  }
  return [B, T, H, D, H * D];
}

function matmulKind(op: string, dims: AttentionDims): "library" | "own" {
  const kind = dims.matmul ?? "library";
  if (kind !== "library" && kind !== "own") {
    throw new GpuError(`${op}: matmul '${kind}' is not 'library' or 'own'`);
  }
  return kind;
}

function dropoutOf(op: string, dims: AttentionDims): [number, number, number] | null {
  const p = dims.dropoutP ?? 0;
  const params = dropoutParams(op, p, dims.seed ?? 0);
  return p > 0 ? params : null;
}

/**
 * Records out (B, T, C) = attention(q, k, v) with padding mask (B, T), saving the softmax
 * probabilities (before dropout) in probs (B, H, T, T).
 *
 * @example
 * ```ts ignore
 * const dims = { B, T, H: 12, D: 64, dropoutP: 0.1, seed };
 * gpu.run("attn", (b) => attentionForward(b, ctx, probs, q, k, v, mask, dims));
 * // later, same dims (and seed): scratch holds attentionScratchSize(dims) floats
 * gpu.run("attn bwd", (b) => attentionBackward(b, dQ, dK, dV, dCtx, probs, q, k, v, scratch, dims));
 * ```
 */
export function attentionForward(
  batch: Batch,
  out: Tensor,
  probs: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor,
  dims: AttentionDims,
): void {
  const op = "attentionForward";
  const [B, T, H, D, C] = checkDims(op, dims);
  for (const [name, t] of [["out", out], ["q", q], ["k", k], ["v", v]] as const) {
    assertSize(op, name, t, B * T * C);
  }
  assertSize(op, "mask", mask, B * T);
  assertSize(op, "probs", probs, B * H * T * T);
  const drop = dropoutOf(op, dims), mm = matmulKind(op, dims);
  assertNoAlias(op, [["out", out], ["probs", probs]], [["q", q], ["k", k], ["v", v], [
    "mask",
    mask,
  ]]);
  if (B * H * T * D === 0) return;
  const Z = B * H, TT = T * T;
  const tok: Strides = { b: T * C, h: D, r: C, c: 1 }; // (B, T, C) as rows of head h
  const tokT: Strides = { b: T * C, h: D, r: 1, c: C }; // its transpose (D × T)
  const pr: Strides = { b: H * TT, h: TT, r: T, c: 1 }; // (B, H, T, T)
  product(
    batch,
    probs,
    q,
    k,
    { Z, H, M: T, N: T, K: D },
    tok,
    tokT,
    pr,
    1 / Math.sqrt(D),
    null,
    mm,
  );
  softmaxForward(batch, probs, probs, {
    N: Z * T,
    L: T,
    mask,
    maskRowsPer: H * T,
    lanes: dims.lanes,
  });
  product(batch, out, probs, v, { Z, H, M: T, N: D, K: T }, pr, tok, tok, 1, drop, mm);
}

/**
 * Records dQ, dK, dV (B, T, C) (assigned) of {@linkcode attentionForward} from dOut and the saved
 * probs; scratch holds {@linkcode attentionScratchSize} elements. Same dropoutP and seed as the
 * forward.
 */
export function attentionBackward(
  batch: Batch,
  dQ: Tensor,
  dK: Tensor,
  dV: Tensor,
  dOut: Tensor,
  probs: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  scratch: Tensor,
  dims: AttentionDims,
): void {
  const op = "attentionBackward";
  const [B, T, H, D, C] = checkDims(op, dims);
  for (
    const [name, t] of [["dQ", dQ], ["dK", dK], ["dV", dV], ["dOut", dOut], ["q", q], ["k", k], [
      "v",
      v,
    ]] as const
  ) {
    assertSize(op, name, t, B * T * C);
  }
  assertSize(op, "probs", probs, B * H * T * T);
  assertSize(op, "scratch", scratch, attentionScratchSize(dims));
  const drop = dropoutOf(op, dims), mm = matmulKind(op, dims);
  assertNoAlias(op, [["dQ", dQ], ["dK", dK], ["dV", dV], ["scratch", scratch]], [
    ["dOut", dOut],
    ["probs", probs],
    ["q", q],
    ["k", k],
    ["v", v],
  ]);
  if (B * H * T * D === 0) return;
  const Z = B * H, TT = T * T;
  const tok: Strides = { b: T * C, h: D, r: C, c: 1 };
  const tokT: Strides = { b: T * C, h: D, r: 1, c: C };
  const pr: Strides = { b: H * TT, h: TT, r: T, c: 1 };
  const prT: Strides = { b: H * TT, h: TT, r: 1, c: T };
  const d = { Z, H, M: T, N: D, K: T };
  // dV = dropout(P)ᵀ·dOut first, while scratch is free: with dropout, scratch = dropout(P) (the
  // same generator indices as the forward) so the fast matmul can run.
  if (drop) {
    dropoutForward(batch, scratch, probs, Z * TT, { p: dims.dropoutP!, seed: dims.seed ?? 0 });
    product(batch, dV, scratch, dOut, d, prT, tok, tok, 1, null, mm);
  } else {
    product(batch, dV, probs, dOut, d, prT, tok, tok, 1, null, mm);
  }
  // dP before dropout: scratch = dOut·Vᵀ (B, H, T, T).
  product(batch, scratch, dOut, v, { Z, H, M: T, N: T, K: D }, tok, tokT, pr, 1, null, mm);
  // scratch = P·(dP - Σ P·dP)/√D, dropout applied to dP on the way.
  const shape = rowLaunch(batch.gpu, Z * T, T, dims.lanes);
  const pipe = batch.gpu.pipeline("attention_dscores", DSCORES_WGSL, {
    ...shape.constants,
    DROPOUT: drop ? 1 : 0,
  });
  const [thr, seedHash, dscale] = drop ?? [0, 0, 1];
  batch.dispatch(
    pipe,
    [probs, scratch],
    packParams([Z * T, T, f32(1 / Math.sqrt(D)), thr, seedHash, f32(dscale)]),
    shape.workgroups,
  );
  product(batch, dQ, scratch, k, d, pr, tok, tok, 1, null, mm);
  product(batch, dK, scratch, q, d, prT, tok, tok, 1, null, mm);
}
