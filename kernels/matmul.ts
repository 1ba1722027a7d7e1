/**
 * matmul family: out = alpha · op(A)·op(B) (+ bias), optionally accumulated (out +=), with row
 * strides and strided batching for attention heads; PyTorch's Linear forward and backward and the
 * bias gradient on top of it.
 *
 * Shapes (row-major, `ld*` = row stride in elements, dense by default):
 * - op(A) is (M,K): A is stored (M,K), or (K,M) with `transA`;
 * - op(B) is (K,N): B is stored (K,N), or (N,K) with `transB` (a PyTorch Linear weight);
 * - out (M,N), bias (N) added to every row.
 * Batched: matrix z in [0, outer·inner) starts at element floor(z/inner)·X[0] + (z%inner)·X[1] of
 * each operand X, so (B,H,T,d) heads and (B,T,H·d) interleaved heads are both addressable.
 *
 * Gradients (llm.c convention: parameter gradients accumulate, activation gradients assign):
 * y = x·Wᵀ + b  ⇒  dX = dY·W,  dW += dYᵀ·X,  dBias += Σ_rows dY.
 *
 * Kernels (all tested against {@linkcode matmulCpu} and each other):
 * - `naive`: one output per invocation, plain loops: the simple twin the fast kernels are checked
 *   against.
 * - `texture` (CPU rasterisers, what `auto` picks there): a small kernel packs each operand into
 *   an rgba32float texture (zero-padded, laid out so one texel holds four rows of op(A) or four
 *   columns of op(B) at one k; the transpose forms, strides and batch offsets are all handled by
 *   the pack), then the product kernel computes a 16×16 block per invocation reading operands
 *   with `textureLoad`, four k steps per loop iteration. Bias and accumulation are fused into its
 *   vec4 store when out rows are vec4-aligned, else it goes through the `matmul_epilogue` pass.
 *   On lavapipe (AMD EPYC, LLVM 15) it runs 15-19 GFLOP/s at BERT shapes, 2-4x the `register`
 *   kernel (Mesa 25.0 / 22.3). Its machine code spends about as many instructions on spilling
 *   the 64 loop-carried vec4 accumulators and on per-lane texel fetches (each with a bounds
 *   check) as on the arithmetic; blocks of 16×16 to 32×32 outputs all run at 16-18 GFLOP/s, 8×16
 *   at 11-14. Operands too big for the device's 2D textures fall back to `register`.
 * - `register` (CPU rasterisers, fallback): each invocation computes a 32×16 block (16×8 when an
 *   operand is not vec4-aligned) in registers, no workgroup memory and no barriers. On lavapipe
 *   (Mesa 22.3 and 25.0) every storage-buffer or workgroup-memory load whose address is not a
 *   compile-time constant is a per-lane loop with a branch
 *   (measured ~30 ns of CPU per vec4 per invocation, ~5 ns for a textureLoad), while arithmetic
 *   runs 8 lanes wide; so the kernel maximises FMAs per load and uses vec4 loads (one loop
 *   iteration moves four floats) where alignment allows, and clamps indices instead of branching
 *   so every load runs with all lanes active. Its epilogue only stores alpha·A·B; bias and
 *   accumulation, when asked for, run as a second elementwise pass (`matmul_epilogue`) over a
 *   scratch buffer, because storage loads after the K loop made LLVM take 10-80 s to compile this
 *   kernel (its 32×16 block with scalar loads; the texture kernel with vec4 ones compiles in 1-3 s).
 * - `shared` (real GPUs): 64×64 workgroup tiles staged through workgroup memory in K-slices of 16,
 *   4×4 outputs per invocation, coalesced tile loads for either storage order.
 * Block shapes are compile-time constants baked into the generated WGSL (WGSL cannot size a
 * function-scope array by an `override`); workgroup sizes are `override` constants. Both are part
 * of the pipeline cache key, never runtime sizes.
 *
 * @module
 */

import { type Batch, f32, type Gpu, GpuError, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { assertDType, assertSize, shapeText, type Tensor, tensor } from "./tensor.ts";

/** Options of {@linkcode matmul}: out = alpha · op(A)·op(B) (+ bias), or out += that. */
export interface MatmulOptions {
  /** Rows of op(A) and of out. */
  m: number;
  /** Columns of op(A), rows of op(B): the reduced dimension. */
  k: number;
  /** Columns of op(B) and of out. */
  n: number;
  /** A stored (K,M) instead of (M,K). Default false. */
  transA?: boolean;
  /** B stored (N,K) instead of (K,N), as a PyTorch Linear weight. Default false. */
  transB?: boolean;
  /** Scale of the product (not of the bias or the accumulated value). Default 1. */
  alpha?: number;
  /** (N) added to every row of the result. */
  bias?: Tensor;
  /** out += result instead of out = result (weight gradients). Default false. */
  accumulate?: boolean;
  /** Row stride of A as stored, in elements. Default: its dense row length. */
  lda?: number;
  /** Row stride of B as stored, in elements. Default: its dense row length. */
  ldb?: number;
  /** Row stride of out, in elements. Default N. */
  ldo?: number;
  /**
   * Strided batch: matrices z in [0, outer·inner); matrix z of operand X starts at element
   * floor(z/inner)·X[0] + (z%inner)·X[1].
   */
  batch?: {
    outer: number;
    inner: number;
    a: [number, number];
    b: [number, number];
    out: [number, number];
  };
}

/**
 * Which matmul kernel to run; `auto` picks `texture` on CPU rasterisers (`register` when an
 * operand does not fit the device's texture size), else `shared`.
 */
export type MatmulKernel = "auto" | "naive" | "register" | "texture" | "shared";

/** Everything a launcher needs, validated. */
interface Plan {
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  lda: number;
  ldb: number;
  ldo: number;
  alpha: number;
  bias: Tensor | null;
  accumulate: boolean;
  outer: number;
  inner: number;
  offA: [number, number];
  offB: [number, number];
  offO: [number, number];
}

function isCount(x: unknown, min: number): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= min && x <= 0xffffffff;
}

/** Validates `o` against the tensors and resolves defaults; throws a GpuError naming `op`. */
function plan(op: string, out: Tensor, a: Tensor, b: Tensor, o: MatmulOptions): Plan {
  const { m, k, n } = o;
  const dims = `(M,K,N)=(${m},${k},${n})`;
  for (const [name, v] of [["m", m], ["k", k], ["n", n]] as const) {
    if (!isCount(v, 1)) throw new GpuError(`${op}: ${name} must be a positive integer, got ${v}`);
  }
  assertDType(op, "out", out, "f32");
  assertDType(op, "a", a, "f32");
  assertDType(op, "b", b, "f32");
  if (out.buffer === a.buffer || out.buffer === b.buffer) {
    throw new GpuError(`${op}: out '${out.label}' shares its buffer with an input`);
  }
  const transA = o.transA ?? false, transB = o.transB ?? false;
  const aCols = transA ? m : k, bCols = transB ? k : n;
  const lda = o.lda ?? aCols, ldb = o.ldb ?? bCols, ldo = o.ldo ?? n;
  for (const [name, v, min] of [["lda", lda, aCols], ["ldb", ldb, bCols], ["ldo", ldo, n]]) {
    if (!isCount(v, min as number)) {
      throw new GpuError(`${op}: ${name} must be an integer >= ${min} for ${dims}, got ${v}`);
    }
  }
  const alpha = o.alpha ?? 1;
  if (!Number.isFinite(alpha)) throw new GpuError(`${op}: alpha must be finite, got ${alpha}`);
  const bt = o.batch ?? { outer: 1, inner: 1, a: [0, 0], b: [0, 0], out: [0, 0] };
  if (!isCount(bt.outer, 1) || !isCount(bt.inner, 1)) {
    throw new GpuError(`${op}: batch outer/inner must be positive, got ${bt.outer}/${bt.inner}`);
  }
  const count = bt.outer * bt.inner;
  if (count > 65535) throw new GpuError(`${op}: ${count} batched matrices is over 65535`);
  for (const [name, off] of [["a", bt.a], ["b", bt.b], ["out", bt.out]] as const) {
    if (!off || off.length !== 2 || !isCount(off[0], 0) || !isCount(off[1], 0)) {
      throw new GpuError(`${op}: batch.${name} must be two non-negative integers, got ${off}`);
    }
  }
  // Every binding must cover the last element any matrix of the batch touches.
  const last = (off: [number, number], rows: number, cols: number, ld: number) =>
    (bt.outer - 1) * off[0] + (bt.inner - 1) * off[1] + (rows - 1) * ld + cols;
  const where = `${dims}${transA ? " transA" : ""}${transB ? " transB" : ""}` +
    (o.batch ? ` batch ${bt.outer}x${bt.inner}` : "");
  const cover = (name: string, t: Tensor, need: number) => {
    if (t.size < need) {
      throw new GpuError(
        `${op}: ${name} '${t.label}' ${shapeText(t.shape)} holds ${t.size} elements, ` +
          `${where} needs ${need}`,
      );
    }
  };
  cover("a", a, last(bt.a, transA ? k : m, aCols, lda));
  cover("b", b, last(bt.b, transB ? n : k, bCols, ldb));
  cover("out", out, last(bt.out, m, n, ldo));
  const maxOff = Math.max(last(bt.a, 1, 1, 0), last(bt.b, 1, 1, 0), last(bt.out, 1, 1, 0));
  if (maxOff > 0xffffffff) throw new GpuError(`${op}: offsets of ${where} overflow 32 bits`);
  if (o.bias) {
    assertDType(op, "bias", o.bias, "f32");
    assertSize(op, "bias", o.bias, n);
    if (o.bias.buffer === out.buffer) {
      throw new GpuError(`${op}: bias '${o.bias.label}' shares its buffer with out`);
    }
  }
  return {
    m,
    k,
    n,
    transA,
    transB,
    lda,
    ldb,
    ldo,
    alpha,
    bias: o.bias ?? null,
    accumulate: o.accumulate ?? false,
    outer: bt.outer,
    inner: bt.inner,
    offA: bt.a,
    offB: bt.b,
    offO: bt.out,
  };
}

function params(p: Plan): ArrayBuffer {
  const flags = (p.bias ? 1 : 0) | (p.accumulate ? 2 : 0);
  return packParams([
    p.m,
    p.n,
    p.k,
    p.lda,
    p.ldb,
    p.ldo,
    f32(p.alpha),
    flags,
    p.inner,
    p.offA[0],
    p.offA[1],
    p.offB[0],
    p.offB[1],
    p.offO[0],
    p.offO[1],
    0,
  ]);
}

/**
 * Uniforms, bindings and the store every matmul kernel shares. With `fused`, emit() adds the bias
 * and the previous value as the flags say; without, it stores alpha·v only (see registerWgsl).
 */
function header(aType: string, bType: string, fused = true): string {
  return /* wgsl */ `
struct Params {
  m: u32, n: u32, k: u32, lda: u32,
  ldb: u32, ldo: u32, alpha: f32, flags: u32, // flags: 1 = bias, 2 = accumulate
  inner: u32, a0: u32, a1: u32, b0: u32,
  b1: u32, o0: u32, o1: u32, pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<${aType}>;
@group(0) @binding(2) var<storage, read> B: array<${bType}>;
${
    fused
      ? `@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;`
      : `@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;`
  }

// Element offsets of matrix z in A, B and out.
fn bases(z: u32) -> vec3u {
  let zo = z / p.inner;
  let zi = z % p.inner;
  return vec3u(zo * p.a0 + zi * p.a1, zo * p.b0 + zi * p.b1, zo * p.o0 + zi * p.o1);
}

${
    fused
      ? `fn emit(oBase: u32, row: u32, col: u32, v: f32) {
  let i = oBase + row * p.ldo + col;
  var r = p.alpha * v;
  if ((p.flags & 1u) != 0u) { r += bias[col]; }
  if ((p.flags & 2u) != 0u) { r += out[i]; }
  out[i] = r;
}`
      : `// Columns col .. col+3 of a row; oBase, ldo and col are multiples of 4.
fn emit4(oBase: u32, row: u32, col: u32, v: vec4f) {
  out[(oBase + row * p.ldo + col) / 4u] = p.alpha * v;
}`
  }
`;
}

const NAIVE_WGSL = header("f32", "f32") + /* wgsl */ `
override TA: bool = false;
override TB: bool = false;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row = gid.y;
  let col = gid.x;
  if (row >= p.m || col >= p.n) { return; }
  let o = bases(wid.z);
  var s = 0.0;
  for (var kk = 0u; kk < p.k; kk++) {
    let ia = select(o.x + row * p.lda + kk, o.x + kk * p.lda + row, TA);
    let ib = select(o.y + kk * p.ldb + col, o.y + col * p.ldb + kk, TB);
    s = fma(A[ia], B[ib], s);
  }
  emit(o.z, row, col, s);
}`;

/** Compile-time shape of the register-blocked kernel. */
interface RegisterKey {
  tm: number;
  tn: number;
  transA: boolean;
  transB: boolean;
  /** A is read as vec4 along its contiguous dimension. */
  vecA: boolean;
  /** B is read as vec4 along its contiguous dimension. */
  vecB: boolean;
  /** K is not a multiple of 4: clamp k and zero A past the end. */
  maskK: boolean;
}

const XYZW = "xyzw";

/**
 * WGSL of the register-blocked kernel: invocation (x, y) of matrix z computes out rows
 * [y·TM, y·TM+TM) × columns [x·TN, x·TN+TN), walking K four at a time. All loops over the block
 * are unrolled here so the accumulators stay SSA values. Row and column indices are clamped
 * into the matrix (the extra results are never stored) so no load sits under a branch.
 */
function registerWgsl(key: RegisterKey): string {
  const { tm, tn, transA, transB, vecA, vecB, maskK } = key;
  const L: string[] = [];
  const push = (s: string) => L.push(s);
  push(header(vecA ? "vec4f" : "f32", vecB ? "vec4f" : "f32", false));
  push(`override WX: u32 = 8;
override WY: u32 = 2;

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let o = bases(wid.z);
  let row0 = gid.y * ${tm}u;
  let col0 = gid.x * ${tn}u;
  let mLast = p.m - 1u;
  let nLast = p.n - 1u;
  let kLast = p.k - 1u;`);
  // Per-invocation base indices (element units, or vec4 units when read as vec4).
  if (!transA) {
    for (let i = 0; i < tm; i++) {
      push(`  let ar${i} = (o.x + min(row0 + ${i}u, mLast) * p.lda)${vecA ? " / 4u" : ""};`);
    }
  } else if (vecA) {
    push(`  let lda4 = p.lda / 4u;`);
    for (let g = 0; g < tm / 4; g++) {
      push(`  let ac${g} = (o.x + min(row0 + ${4 * g}u, p.m - 4u)) / 4u;`);
    }
  } else {
    for (let i = 0; i < tm; i++) push(`  let ac${i} = o.x + min(row0 + ${i}u, mLast);`);
  }
  if (transB) {
    for (let j = 0; j < tn; j++) {
      push(`  let br${j} = (o.y + min(col0 + ${j}u, nLast) * p.ldb)${vecB ? " / 4u" : ""};`);
    }
  } else if (vecB) {
    push(`  let ldb4 = p.ldb / 4u;`);
    for (let g = 0; g < tn / 4; g++) {
      push(`  let bc${g} = (o.y + min(col0 + ${4 * g}u, p.n - 4u)) / 4u;`);
    }
  } else {
    for (let j = 0; j < tn; j++) push(`  let bc${j} = o.y + min(col0 + ${j}u, nLast);`);
  }
  for (let i = 0; i < tm; i++) {
    for (let q = 0; q < tn / 4; q++) push(`  var c${i}_${q} = vec4f(0.0);`);
  }
  push(`  let nk4 = (p.k + 3u) / 4u;
  for (var kb = 0u; kb < nk4; kb++) {
    let k0 = kb * 4u;`);
  // k index of step kk of this block, clamped when K is not a multiple of 4.
  const kIdx = (kk: number) => maskK ? `min(k0 + ${kk}u, kLast)` : `(k0 + ${kk}u)`;
  if (maskK) {
    for (let kk = 1; kk < 4; kk++) push(`    let kv${kk} = k0 + ${kk}u < p.k;`);
  }
  // Loads of A; aVal(i, kk) is the expression of op(A)[row0+i, k0+kk].
  let aVal: (i: number, kk: number) => string;
  if (!transA && vecA) {
    for (let i = 0; i < tm; i++) push(`    let a${i} = A[ar${i} + kb];`);
    aVal = (i, kk) => `a${i}.${XYZW[kk]}`;
  } else if (!transA) {
    for (let i = 0; i < tm; i++) {
      for (let kk = 0; kk < 4; kk++) push(`    let a${i}_${kk} = A[ar${i} + ${kIdx(kk)}];`);
    }
    aVal = (i, kk) => `a${i}_${kk}`;
  } else if (vecA) {
    for (let kk = 0; kk < 4; kk++) {
      push(`    let ak${kk} = ${kIdx(kk)} * lda4;`);
      for (let g = 0; g < tm / 4; g++) push(`    let a${g}_${kk} = A[ac${g} + ak${kk}];`);
    }
    aVal = (i, kk) => `a${i >> 2}_${kk}.${XYZW[i & 3]}`;
  } else {
    for (let kk = 0; kk < 4; kk++) {
      push(`    let ak${kk} = ${kIdx(kk)} * p.lda;`);
      for (let i = 0; i < tm; i++) push(`    let a${i}_${kk} = A[ac${i} + ak${kk}];`);
    }
    aVal = (i, kk) => `a${i}_${kk}`;
  }
  if (maskK) {
    // Zero op(A) past K so the clamped duplicate loads add nothing (step 0 is always in range).
    const inner = aVal;
    aVal = (i, kk) => kk === 0 ? inner(i, kk) : `select(0.0, ${inner(i, kk)}, kv${kk})`;
  }
  // Loads of B; bVec(kk, q) is the vec4 of op(B)[k0+kk, col0+4q .. col0+4q+3].
  let bVec: (kk: number, q: number) => string;
  if (transB && vecB) {
    for (let j = 0; j < tn; j++) push(`    let b${j} = B[br${j} + kb];`);
    bVec = (kk, q) => `vec4f(${[0, 1, 2, 3].map((t) => `b${4 * q + t}.${XYZW[kk]}`).join(", ")})`;
  } else if (transB) {
    for (let j = 0; j < tn; j++) {
      for (let kk = 0; kk < 4; kk++) push(`    let b${j}_${kk} = B[br${j} + ${kIdx(kk)}];`);
    }
    bVec = (kk, q) => `vec4f(${[0, 1, 2, 3].map((t) => `b${4 * q + t}_${kk}`).join(", ")})`;
  } else if (vecB) {
    for (let kk = 0; kk < 4; kk++) {
      push(`    let bk${kk} = ${kIdx(kk)} * ldb4;`);
      for (let q = 0; q < tn / 4; q++) push(`    let b${q}_${kk} = B[bc${q} + bk${kk}];`);
    }
    bVec = (kk, q) => `b${q}_${kk}`;
  } else {
    for (let kk = 0; kk < 4; kk++) {
      push(`    let bk${kk} = ${kIdx(kk)} * p.ldb;`);
      for (let j = 0; j < tn; j++) push(`    let b${j}_${kk} = B[bc${j} + bk${kk}];`);
    }
    bVec = (kk, q) => `vec4f(${[0, 1, 2, 3].map((t) => `b${4 * q + t}_${kk}`).join(", ")})`;
  }
  for (let kk = 0; kk < 4; kk++) {
    for (let q = 0; q < tn / 4; q++) push(`    let v${kk}_${q} = ${bVec(kk, q)};`);
    for (let i = 0; i < tm; i++) {
      push(`    { let s = ${aVal(i, kk)};`);
      for (let q = 0; q < tn / 4; q++) {
        push(`      c${i}_${q} = fma(vec4f(s), v${kk}_${q}, c${i}_${q});`);
      }
      push(`    }`);
    }
  }
  push(`  }`);
  // The epilogue only stores, unrolled, as vec4: on lavapipe, storage loads after the K loop (the
  // bias, the accumulated value), scalar stores, or a loop over a dynamically indexed array of
  // the results made this kernel take 10-80 s to compile. matmul_epilogue adds bias and
  // accumulation in a second pass instead.
  for (let i = 0; i < tm; i++) {
    push(`  if (row0 + ${i}u < p.m) {`);
    for (let q = 0; q < tn / 4; q++) {
      push(
        `    if (col0 + ${4 * q}u < p.n) { emit4(o.z, row0 + ${i}u, col0 + ${
          4 * q
        }u, c${i}_${q}); }`,
      );
    }
    push(`  }`);
  }
  push(`}`);
  return L.join("\n");
}

/** Compile-time shape of the workgroup-memory kernel. */
interface SharedKey {
  transA: boolean;
  transB: boolean;
}

// Tile of the shared kernel: WG×WG invocations, each computing T×T outputs, K-slices of BK.
const SH_WG = 16, SH_T = 4, SH_BK = 16, SH_BM = SH_WG * SH_T;

/**
 * WGSL of the workgroup-memory kernel: the workgroup stages a BK×64 slice of op(A) and of op(B)
 * (k-major) in workgroup memory, zero-filled past the matrix, then each invocation accumulates its
 * 4×4 outputs from it. Tile loads walk the contiguous dimension of each operand's storage order.
 */
function sharedWgsl(key: SharedKey): string {
  const { transA, transB } = key;
  const per = (SH_BK * SH_BM) / (SH_WG * SH_WG);
  const L: string[] = [header("f32", "f32")];
  L.push(`var<workgroup> As: array<f32, ${SH_BK * SH_BM}>; // [kk][m]
var<workgroup> Bs: array<f32, ${SH_BK * SH_BM}>; // [kk][n]

@compute @workgroup_size(${SH_WG}, ${SH_WG})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let o = bases(wid.z);
  let tileRow = wid.y * ${SH_BM}u;
  let tileCol = wid.x * ${SH_BM}u;
  let tid = lid.y * ${SH_WG}u + lid.x;
  var acc: array<f32, ${SH_T * SH_T}>;
  for (var k0 = 0u; k0 < p.k; k0 += ${SH_BK}u) {
    for (var q = 0u; q < ${per}u; q++) {
      let e = tid + q * ${SH_WG * SH_WG}u;
      ${
    transA
      ? `let am = e % ${SH_BM}u; let ak = e / ${SH_BM}u;`
      : `let ak = e % ${SH_BK}u; let am = e / ${SH_BK}u;`
  }
      let ar = tileRow + am;
      let akg = k0 + ak;
      var av = 0.0;
      if (ar < p.m && akg < p.k) { av = A[o.x + ${
    transA ? "akg * p.lda + ar" : "ar * p.lda + akg"
  }]; }
      As[ak * ${SH_BM}u + am] = av;
      ${
    transB
      ? `let bk = e % ${SH_BK}u; let bn = e / ${SH_BK}u;`
      : `let bn = e % ${SH_BM}u; let bk = e / ${SH_BM}u;`
  }
      let bcg = tileCol + bn;
      let bkg = k0 + bk;
      var bv = 0.0;
      if (bcg < p.n && bkg < p.k) { bv = B[o.y + ${
    transB ? "bcg * p.ldb + bkg" : "bkg * p.ldb + bcg"
  }]; }
      Bs[bk * ${SH_BM}u + bn] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${SH_BK}u; kk++) {
      var a: array<f32, ${SH_T}>;
      var b: array<f32, ${SH_T}>;
      for (var t = 0u; t < ${SH_T}u; t++) {
        a[t] = As[kk * ${SH_BM}u + lid.y * ${SH_T}u + t];
        b[t] = Bs[kk * ${SH_BM}u + lid.x * ${SH_T}u + t];
      }
      for (var i = 0u; i < ${SH_T}u; i++) {
        for (var j = 0u; j < ${SH_T}u; j++) {
          acc[i * ${SH_T}u + j] = fma(a[i], b[j], acc[i * ${SH_T}u + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${SH_T}u; i++) {
    let row = tileRow + lid.y * ${SH_T}u + i;
    for (var j = 0u; j < ${SH_T}u; j++) {
      let col = tileCol + lid.x * ${SH_T}u + j;
      if (row < p.m && col < p.n) { emit(o.z, row, col, acc[i * ${SH_T}u + j]); }
    }
  }
}`);
  return L.join("\n");
}

/**
 * Block and workgroup shape of the register kernel. Scalar loads (unaligned operands) cost four
 * loops per vec4 and blow up LLVM's compile time at big blocks (a 32×16 all-scalar Aᵀ·Bᵀ kernel
 * took 80 s to compile on lavapipe), so that fallback uses a smaller block.
 */
function registerTile(vec: boolean): { tm: number; tn: number; wx: number; wy: number } {
  return vec ? { tm: 32, tn: 16, wx: 8, wy: 2 } : { tm: 16, tn: 8, wx: 8, wy: 2 };
}

function checkGrid(op: string, x: number, y: number): void {
  if (x > 65535 || y > 65535) {
    throw new GpuError(`${op}: ${x}x${y} workgroups is over the 65535 per-dimension limit`);
  }
}

function bindings(p: Plan, out: Tensor, a: Tensor, b: Tensor): Tensor[] {
  // Without a bias, A stands in for the binding (read-only twice is allowed; never read).
  return [a, b, p.bias ?? a, out];
}

function dispatchNaive(batch: Batch, op: string, p: Plan, out: Tensor, a: Tensor, b: Tensor) {
  const pipe = batch.gpu.pipeline("matmul_naive", NAIVE_WGSL, {
    TA: p.transA ? 1 : 0,
    TB: p.transB ? 1 : 0,
  });
  const x = Math.ceil(p.n / 8), y = Math.ceil(p.m / 8);
  checkGrid(op, x, y);
  batch.dispatch(pipe, bindings(p, out, a, b), params(p), [x, y, p.outer * p.inner]);
}

function dispatchRegister(batch: Batch, op: string, p: Plan, out: Tensor, a: Tensor, b: Tensor) {
  const aligned = (...xs: number[]) => xs.every((x) => x % 4 === 0);
  const vecA = aligned(p.transA ? p.m : p.k, p.lda, ...p.offA);
  const vecB = aligned(p.transB ? p.k : p.n, p.ldb, ...p.offB);
  const { tm, tn, wx, wy } = registerTile(vecA && vecB);
  const key: RegisterKey = {
    tm,
    tn,
    transA: p.transA,
    transB: p.transB,
    vecA,
    vecB,
    maskK: p.k % 4 !== 0,
  };
  const name = `matmul_register_${tm}x${tn}_${p.transA ? "t" : "n"}${p.transB ? "t" : "n"}` +
    `_v${+key.vecA}${+key.vecB}_m${+key.maskK}`;
  const pipe = batch.gpu.pipeline(name, registerWgsl(key), { WX: wx, WY: wy });
  const x = Math.ceil(p.n / (tn * wx)), y = Math.ceil(p.m / (tm * wy));
  checkGrid(op, x, y);
  const count = p.outer * p.inner;
  if (!p.bias && !p.accumulate && aligned(p.n, p.ldo, ...p.offO)) {
    batch.dispatch(pipe, [a, b, out], params(p), [x, y, count]);
    return;
  }
  // alpha·A·B into scratch (z, M, Np) with rows padded to vec4, then out = scratch + bias (+ out).
  const np = Math.ceil(p.n / 4) * 4, mnp = p.m * np;
  const scratch = scratchFor(batch, count * mnp);
  const dense: Plan = { ...p, ldo: np, offO: [p.inner * mnp, mnp], bias: null, accumulate: false };
  batch.dispatch(pipe, [a, b, scratch], params(dense), [x, y, count]);
  dispatchEpilogue(batch, p, scratch, out, np);
}

/** Records out = scratch (+ bias) (+ out) over every matrix; scratch rows are `np` long. */
function dispatchEpilogue(batch: Batch, p: Plan, scratch: Tensor, out: Tensor, np: number) {
  const count = p.outer * p.inner;
  const ep = batch.gpu.pipeline("matmul_epilogue", EPILOGUE_WGSL, { WG: 64 });
  batch.dispatch(
    ep,
    [scratch, p.bias ?? scratch, out],
    packParams([
      p.m,
      p.n,
      p.ldo,
      p.inner,
      p.offO[0],
      p.offO[1],
      (p.bias ? 1 : 0) | (p.accumulate ? 2 : 0),
      count * p.m * p.n,
      np,
    ]),
    grid(Math.ceil((count * p.m * p.n) / 64)),
  );
}

const EPILOGUE_WGSL = /* wgsl */ `
override WG: u32 = 64;
struct Params {
  m: u32, n: u32, ldo: u32, inner: u32,
  o0: u32, o1: u32, flags: u32, total: u32, // flags: 1 = bias, 2 = accumulate
  np: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>; // (z, M, Np), Np = N rounded up to 4
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let t = wgIndex * WG + lid;
  if (t >= p.total) { return; }
  let mn = p.m * p.n;
  let z = t / mn;
  let row = (t % mn) / p.n;
  let col = t % p.n;
  let i = (z / p.inner) * p.o0 + (z % p.inner) * p.o1 + row * p.ldo + col;
  var r = src[(z * p.m + row) * p.np + col];
  if ((p.flags & 1u) != 0u) { r += bias[col]; }
  if ((p.flags & 2u) != 0u) { r += out[i]; }
  out[i] = r;
}`;

const scratches = new WeakMap<Gpu, Tensor>();

/**
 * The register kernel's scratch for bias/accumulate results: one buffer per device, grown on
 * demand. Reusing it across dispatches is safe: dispatches of a pass run in order.
 */
function scratchFor(batch: Batch, elements: number): Tensor {
  const have = scratches.get(batch.gpu);
  if (have && have.size >= elements) return have;
  // Grow geometrically up to the binding limit; createBuffer names the limit if `elements` is over.
  const cap = Math.floor(batch.gpu.device.limits.maxStorageBufferBindingSize / 4);
  const size = Math.max(elements, Math.min(2 * (have?.size ?? 0), cap));
  // A replaced buffer is not destroyed: batches recorded earlier may still bind it.
  const t = tensor(batch.gpu, [size], "matmul scratch");
  scratches.set(batch.gpu, t);
  return t;
}

// ---- texture kernel (CPU rasterisers) ----

/** Texels per row of the operand textures; a power of two so texel (i) sits at (i & …, i >> …). */
const TEX_W = 4096;
const TEX_SHIFT = Math.log2(TEX_W);
/** Block of the texture kernel: TM×TN outputs per invocation, WX×WY invocations per workgroup. */
const TEX_TILE = { tm: 16, tn: 16, wx: 8, wy: 2 };
/**
 * K steps per loop iteration of the texture kernel (K is zero-padded to a multiple in the
 * textures): on lavapipe each iteration costs ~60 ns per 8 invocations of loop bookkeeping, and
 * every loop-carried accumulator is spilled, so summing four steps before updating it is ~25%
 * faster than one step per iteration.
 */
const TEX_KU = 4;

/**
 * Packs one operand into an rgba32float texture in the layout the product kernel reads: texel
 * at(z, k, c4) holds op(X)[k, 4·c4 .. 4·c4+3] of matrix z, where the "c" dimension is M for A
 * and N for B, zero past `cols` and past K up to Kp, K rounded up to TEX_KU (so the product
 * needs no bounds checks). Texels come in panels of `pw` along c (what one workgroup reads per
 * k), each panel contiguous over all k, so a workgroup streams one contiguous range of each
 * texture (with K = 3072 rows of 16 B strided texels it was 25-40% slower). `kmajor` says
 * whether X stores element (k, c) at k·ld + c (else c·ld + k); both transpose forms of both
 * operands reduce to one of the two. With aligned strides the pack reads vec4s: `kmajor` reads
 * four c at once, `block` four k of each of four c (a 4×4 transpose); else `scalar`.
 */
type PackMode = "scalar" | "kmajor" | "block";

function packWgsl(mode: PackMode): string {
  const head = /* wgsl */ `
override WG: u32 = 64;
struct Params {
  cols: u32, ld: u32, cp4: u32, perZ: u32, // perZ: invocations per matrix
  kmajor: u32, inner: u32, s0: u32, s1: u32,
  k: u32, kp: u32, pw: u32, // K, K padded, panel width in texels
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<${mode === "scalar" ? "f32" : "vec4f"}>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;

// Texel (k, c4) of matrix z: panels of pw texels along c, each contiguous over all k.
fn at(z: u32, k: u32, c4: u32) -> u32 {
  return (z * p.cp4 + (c4 / p.pw) * p.pw) * p.kp + k * p.pw + c4 % p.pw;
}

fn put(i: u32, v: vec4f) {
  textureStore(dst, vec2u(i & ${TEX_W - 1}u, i >> ${TEX_SHIFT}u), v);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let wgIndex = wid.x + wid.y * nwg.x;
  let t = wgIndex * WG + lid;
  if (t >= p.perZ) { return; }
  let z = wid.z;
  let base = (z / p.inner) * p.s0 + (z % p.inner) * p.s1;`;
  if (mode === "block") {
    // Invocation t packs k .. k+3 of c .. c+3 from four vec4 loads (one per c, along k) instead
    // of sixteen scalar ones (K, ld and the offsets are multiples of 4, so Kp = K).
    return head + /* wgsl */ `
  let k = (t / p.cp4) * 4u;
  let c4 = t % p.cp4;
  let c = c4 * 4u;
  var r: array<vec4f, 4>;
  for (var q = 0u; q < 4u; q++) {
    r[q] = vec4f(0.0);
    if (c + q < p.cols) { r[q] = src[(base + (c + q) * p.ld + k) / 4u]; }
  }
  let first = at(z, k, c4);
  put(first, vec4f(r[0].x, r[1].x, r[2].x, r[3].x));
  put(first + p.pw, vec4f(r[0].y, r[1].y, r[2].y, r[3].y));
  put(first + 2u * p.pw, vec4f(r[0].z, r[1].z, r[2].z, r[3].z));
  put(first + 3u * p.pw, vec4f(r[0].w, r[1].w, r[2].w, r[3].w));
}`;
  }
  return head + /* wgsl */ `
  let k = t / p.cp4;
  let c = (t % p.cp4) * 4u;
  let inK = k < p.k;
  ${
    mode === "kmajor"
      ? `var v = vec4f(0.0);
  if (c < p.cols && inK) { v = src[(base + k * p.ld + c) / 4u]; }`
      : `var v = vec4f(0.0);
  for (var q = 0u; q < 4u; q++) {
    if (c + q < p.cols && inK) {
      v[q] = src[base + select((c + q) * p.ld + k, k * p.ld + c + q, p.kmajor != 0u)];
    }
  }`
  }
  put(at(z, k, t % p.cp4), v);
}`;
}

/**
 * WGSL of the texture product kernel: invocation (x, y) of matrix z computes rows
 * [y·TM, y·TM+TM) × columns [x·TN, x·TN+TN) of alpha·op(A)·op(B) from the packed textures; per k
 * it loads TM/4 texels of A (four rows each) and TN/4 of B (four columns each) and does TM·TN/4
 * vec4 FMAs, TEX_KU steps of k per iteration (p.k is the padded Kp here). Everything is unrolled
 * here so the accumulators stay SSA values within an iteration, and the result is stored as vec4
 * only (scalar stores make LLVM's compile time explode); bias and the accumulated
 * value, when asked for, are vec4 loads in the store (compile-time variants, so the plain product
 * carries none of it).
 */
function textureWgsl(tm: number, tn: number, bias: boolean, accumulate: boolean): string {
  const L: string[] = [];
  const push = (s: string) => L.push(s);
  push(/* wgsl */ `
override WX: u32 = 8;
override WY: u32 = 2;
struct Params {
  m: u32, n: u32, k: u32, mp4: u32,
  np4: u32, ldo4: u32, alpha: f32, inner: u32,
  o0: u32, o1: u32, // vec4 offsets of out matrix z: floor(z/inner)·o0 + (z%inner)·o1
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var TA: texture_2d<f32>;
@group(0) @binding(2) var TB: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
${bias ? "@group(0) @binding(4) var<storage, read> bias: array<vec4f>;" : ""}

fn texel(t: texture_2d<f32>, i: u32) -> vec4f {
  return textureLoad(t, vec2u(i & ${TEX_W - 1}u, i >> ${TEX_SHIFT}u), 0);
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let z = wid.z;
  let r4 = gid.y * ${tm / 4}u;
  let c4 = gid.x * ${tn / 4}u;
  // This workgroup's panels (see packWgsl): PA texels of A, PB of B per k.
  let PA = WY * ${tm / 4}u;
  let PB = WX * ${tn / 4}u;
  var ia = (z * p.mp4 + wid.y * PA) * p.k + lid.y * ${tm / 4}u;
  var ib = (z * p.np4 + wid.x * PB) * p.k + lid.x * ${tn / 4}u;`);
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn / 4; j++) push(`  var c${i}_${j} = vec4f(0.0);`);
  }
  push(`  for (var kk = 0u; kk < p.k; kk += ${TEX_KU}u) {`);
  for (let u = 0; u < TEX_KU; u++) {
    for (let i = 0; i < tm / 4; i++) push(`    let a${i}_${u} = texel(TA, ia + ${i}u);`);
    for (let j = 0; j < tn / 4; j++) push(`    let b${j}_${u} = texel(TB, ib + ${j}u);`);
    push(`    ia += PA;
    ib += PB;`);
  }
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn / 4; j++) {
      const steps = Array.from(
        { length: TEX_KU },
        (_, u) => `vec4f(a${i >> 2}_${u}.${XYZW[i & 3]}) * b${j}_${u}`,
      );
      push(`    c${i}_${j} += ${steps.join(" + ")};`);
    }
  }
  push(`  }
  let ob = (z / p.inner) * p.o0 + (z % p.inner) * p.o1;`);
  for (let i = 0; i < tm; i++) {
    push(`  if (r4 * 4u + ${i}u < p.m) {
    let o${i} = ob + (r4 * 4u + ${i}u) * p.ldo4 + c4;`);
    for (let j = 0; j < tn / 4; j++) {
      const terms = [`p.alpha * c${i}_${j}`];
      if (bias) terms.push(`bias[c4 + ${j}u]`);
      if (accumulate) terms.push(`out[o${i} + ${j}u]`);
      push(`    if ((c4 + ${j}u) * 4u < p.n) { out[o${i} + ${j}u] = ${terms.join(" + ")}; }`);
    }
    push(`  }`);
  }
  push(`}`);
  return L.join("\n");
}

/** Texel counts of the packed operands: the c dimension padded to whole workgroup blocks. */
function textureShape(
  p: Plan,
): { mp: number; np: number; kp: number; texA: number; texB: number } {
  const { tm, tn, wx, wy } = TEX_TILE;
  const mp = Math.ceil(p.m / (tm * wy)) * tm * wy, np = Math.ceil(p.n / (tn * wx)) * tn * wx;
  const count = p.outer * p.inner;
  const kp = Math.ceil(p.k / TEX_KU) * TEX_KU;
  return { mp, np, kp, texA: (count * kp * mp) / 4, texB: (count * kp * np) / 4 };
}

/** Whether both packed operands fit this device's 2D textures. */
function textureFits(gpu: Gpu, p: Plan): boolean {
  const max = gpu.device.limits.maxTextureDimension2D;
  const { texA, texB } = textureShape(p);
  return TEX_W <= max && Math.max(texA, texB) <= TEX_W * max;
}

const texturePools = new WeakMap<Gpu, Map<string, GPUTextureView>>();

/**
 * A packed-operand texture of at least `texels` texels for `role`, one per role and height (a
 * power of two) per device. Reusing it for the next matmul of the same pass is safe: WebGPU
 * orders the next pack's writes after this matmul's reads.
 */
function operandTexture(gpu: Gpu, role: "a" | "b", texels: number): GPUTextureView {
  let pool = texturePools.get(gpu);
  if (!pool) texturePools.set(gpu, pool = new Map());
  const width = Math.min(TEX_W, texels);
  const rows = Math.ceil(texels / TEX_W);
  const height = Math.min(2 ** Math.ceil(Math.log2(rows)), gpu.device.limits.maxTextureDimension2D);
  const key = `${role}:${width}x${height}`;
  let view = pool.get(key);
  if (!view) {
    view = gpu.device.createTexture({
      label: `matmul operand ${role} ${width}x${height}`,
      size: [width, height],
      format: "rgba32float",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING,
    }).createView();
    pool.set(key, view);
  }
  return view;
}

/** Records the pack of op(X) of every matrix of the batch into `dst` (see packWgsl). */
function dispatchPack(
  batch: Batch,
  dst: GPUTextureView,
  src: Tensor,
  p: Plan,
  cols: number,
  cp: number,
  kp: number,
  pw: number,
  ld: number,
  kmajor: boolean,
  off: [number, number],
): void {
  // vec4 loads must not run past the operand: along c (kmajor) cols, along k K must be whole.
  const aligned = [ld, ...off].every((x) => x % 4 === 0);
  const mode: PackMode = !aligned
    ? "scalar"
    : kmajor
    ? (cols % 4 === 0 ? "kmajor" : "scalar")
    : (p.k % 4 === 0 ? "block" : "scalar");
  const wg = 64;
  const pipe = batch.gpu.pipeline(`matmul_pack_${mode}`, packWgsl(mode), { WG: wg });
  // Invocations per matrix: one per texel, or one per 4×4 block (kp is a multiple of 4).
  const perZ = mode === "block" ? (kp * cp) / 16 : (kp * cp) / 4;
  const [x, y] = grid(Math.ceil(perZ / wg));
  batch.dispatch(
    pipe,
    [src, dst],
    packParams([cols, ld, cp / 4, perZ, kmajor ? 1 : 0, p.inner, off[0], off[1], p.k, kp, pw]),
    [x, y, p.outer * p.inner],
  );
}

function dispatchTexture(batch: Batch, op: string, p: Plan, out: Tensor, a: Tensor, b: Tensor) {
  const { tm, tn, wx, wy } = TEX_TILE;
  const { mp, np, kp, texA, texB } = textureShape(p);
  const ta = operandTexture(batch.gpu, "a", texA), tb = operandTexture(batch.gpu, "b", texB);
  dispatchPack(batch, ta, a, p, p.m, mp, kp, (tm * wy) / 4, p.lda, p.transA, p.offA);
  dispatchPack(batch, tb, b, p, p.n, np, kp, (tn * wx) / 4, p.ldb, !p.transB, p.offB);
  const x = np / (tn * wx), y = mp / (tm * wy);
  checkGrid(op, x, y);
  const count = p.outer * p.inner;
  // The fused store needs whole vec4 rows of out (and of the bias).
  const aligned = [p.n, p.ldo, ...p.offO].every((v) => v % 4 === 0);
  const bias = aligned && p.bias !== null, acc = aligned && p.accumulate;
  const name = `matmul_texture_${tm}x${tn}${bias ? "_bias" : ""}${acc ? "_acc" : ""}`;
  const pipe = batch.gpu.pipeline(name, textureWgsl(tm, tn, bias, acc), { WX: wx, WY: wy });
  const product = (dst: Tensor, ldo: number, o0: number, o1: number) =>
    batch.dispatch(
      pipe,
      bias && p.bias ? [ta, tb, dst, p.bias] : [ta, tb, dst],
      packParams([p.m, p.n, kp, mp / 4, np / 4, ldo / 4, f32(p.alpha), p.inner, o0 / 4, o1 / 4]),
      [x, y, count],
    );
  if (aligned) {
    product(out, p.ldo, p.offO[0], p.offO[1]);
    return;
  }
  // alpha·A·B into scratch (z, M, N4) with rows padded to vec4, then the epilogue pass.
  const n4 = Math.ceil(p.n / 4) * 4, mn4 = p.m * n4;
  const scratch = scratchFor(batch, count * mn4);
  product(scratch, n4, p.inner * mn4, mn4);
  dispatchEpilogue(batch, p, scratch, out, n4);
}

function dispatchShared(batch: Batch, op: string, p: Plan, out: Tensor, a: Tensor, b: Tensor) {
  const name = `matmul_shared_${p.transA ? "t" : "n"}${p.transB ? "t" : "n"}`;
  const pipe = batch.gpu.pipeline(name, sharedWgsl({ transA: p.transA, transB: p.transB }));
  const x = Math.ceil(p.n / SH_BM), y = Math.ceil(p.m / SH_BM);
  checkGrid(op, x, y);
  batch.dispatch(pipe, bindings(p, out, a, b), params(p), [x, y, p.outer * p.inner]);
}

/**
 * Records out = alpha · op(A)·op(B) (+ bias) (or out += that) with a chosen kernel; `auto` is what
 * {@linkcode matmul} runs (`texture` on CPU rasterisers, `shared` elsewhere). Tests and benchmarks
 * force each kernel through it; `texture` falls back to `register` when an operand does not fit
 * the device's textures.
 */
export function matmulWith(
  batch: Batch,
  kernel: MatmulKernel,
  out: Tensor,
  a: Tensor,
  b: Tensor,
  o: MatmulOptions,
): void {
  const op = kernel === "auto" ? "matmul" : `matmul(${kernel})`;
  const p = plan(op, out, a, b, o);
  let k = kernel;
  if (k === "auto") k = batch.gpu.isSoftware ? "texture" : "shared";
  // An operand too big for the device's textures falls back to the buffer-reading kernel.
  if (k === "texture" && !textureFits(batch.gpu, p)) k = "register";
  if (k === "naive") dispatchNaive(batch, op, p, out, a, b);
  else if (k === "register") dispatchRegister(batch, op, p, out, a, b);
  else if (k === "texture") dispatchTexture(batch, op, p, out, a, b);
  else if (k === "shared") dispatchShared(batch, op, p, out, a, b);
  else throw new GpuError(`${op}: unknown kernel '${kernel}'`);
}

/**
 * Records out = alpha · op(A)·op(B) (+ bias), or out += that with `accumulate`, choosing the
 * fastest kernel for this adapter. Throws a GpuError naming the shapes before any dispatch when a
 * tensor does not cover its strided extent.
 *
 * @example
 * ```ts
 * // q (T,C) · Wqᵀ with Wq stored (C,C) as in PyTorch, plus bias
 * matmul(batch, q, x, wq, { m: T, k: C, n: C, transB: true, bias: bq });
 * ```
 */
export function matmul(batch: Batch, out: Tensor, a: Tensor, b: Tensor, o: MatmulOptions): void {
  matmulWith(batch, "auto", out, a, b, o);
}

/** The simple reference kernel (one output per invocation); same options as {@linkcode matmul}. */
export function matmulNaive(
  batch: Batch,
  out: Tensor,
  a: Tensor,
  b: Tensor,
  o: MatmulOptions,
): void {
  matmulWith(batch, "naive", out, a, b, o);
}

/** Sizes of a linear layer: `rows` inputs of `inF` features mapped to `outF` features. */
export interface LinearDims {
  rows: number;
  inF: number;
  outF: number;
}

/**
 * Linear as PyTorch: y (rows,outF) = x (rows,inF) · Wᵀ + bias, W stored (outF,inF).
 *
 * @example
 * ```ts
 * linearForward(batch, y, x, w, b, { rows: B * T, inF: 768, outF: 3072 });
 * ```
 */
export function linearForward(
  batch: Batch,
  y: Tensor,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  dims: LinearDims,
): void {
  const { rows, inF, outF } = dims;
  matmulWith(batch, "auto", y, x, w, {
    m: rows,
    k: inF,
    n: outF,
    transB: true,
    bias: bias ?? undefined,
  });
}

/**
 * Backward of {@linkcode linearForward}: dX (rows,inF) = dY·W (assigned); dW (outF,inF) += dYᵀ·X;
 * dBias (outF) += column sums of dY. dX or dBias may be null. All checks run before any dispatch.
 */
export function linearBackward(
  batch: Batch,
  dX: Tensor | null,
  dW: Tensor,
  dBias: Tensor | null,
  dY: Tensor,
  x: Tensor,
  w: Tensor,
  dims: LinearDims,
): void {
  const { rows, inF, outF } = dims;
  const dxOpts: MatmulOptions = { m: rows, k: outF, n: inF };
  const dwOpts: MatmulOptions = { m: outF, k: rows, n: inF, transA: true, accumulate: true };
  if (dX) plan("linearBackward dX", dX, dY, w, dxOpts);
  plan("linearBackward dW", dW, dY, x, dwOpts);
  if (dBias) biasPlan("linearBackward dBias", dBias, dY, rows, outF);
  if (dX) matmulWith(batch, "auto", dX, dY, w, dxOpts);
  matmulWith(batch, "auto", dW, dY, x, dwOpts);
  if (dBias) biasBackward(batch, dBias, dY, rows, outF);
}

const BIAS_BACKWARD_WGSL = /* wgsl */ `
override WG: u32 = 64;
struct Params { rows: u32, n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> dBias: array<f32>;

// One column per invocation, rows summed in order (deterministic, no atomics).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let col = wgIndex * WG + lid;
  if (col >= p.n) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) { s += dOut[r * p.n + col]; }
  dBias[col] += s;
}`;

const BIAS_BACKWARD4_WGSL = /* wgsl */ `
override WG: u32 = 64;
struct Params { rows: u32, n4: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dBias: array<vec4f>;

// Four columns per invocation: one vec4 load moves four floats (N multiple of 4).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let c4 = wgIndex * WG + lid;
  if (c4 >= p.n4) { return; }
  var s = vec4f(0.0);
  for (var r = 0u; r < p.rows; r++) { s += dOut[r * p.n4 + c4]; }
  dBias[c4] += s;
}`;

function biasPlan(op: string, dBias: Tensor, dOut: Tensor, rows: number, n: number): void {
  if (!isCount(rows, 1) || !isCount(n, 1)) {
    throw new GpuError(`${op}: rows and n must be positive integers, got ${rows}, ${n}`);
  }
  assertDType(op, "dBias", dBias, "f32");
  assertDType(op, "dOut", dOut, "f32");
  assertSize(op, "dBias", dBias, n);
  assertSize(op, "dOut", dOut, rows * n);
  if (dBias.buffer === dOut.buffer) {
    throw new GpuError(`${op}: dBias '${dBias.label}' shares its buffer with dOut`);
  }
}

/** Records dBias (n) += sum over rows of dOut (rows,n). */
export function biasBackward(
  batch: Batch,
  dBias: Tensor,
  dOut: Tensor,
  rows: number,
  n: number,
): void {
  biasPlan("biasBackward", dBias, dOut, rows, n);
  const wg = 64;
  if (n % 4 === 0) {
    const pipe = batch.gpu.pipeline("bias_backward4", BIAS_BACKWARD4_WGSL, { WG: wg });
    batch.dispatch(pipe, [dOut, dBias], packParams([rows, n / 4]), grid(Math.ceil(n / 4 / wg)));
  } else {
    const pipe = batch.gpu.pipeline("bias_backward", BIAS_BACKWARD_WGSL, { WG: wg });
    batch.dispatch(pipe, [dOut, dBias], packParams([rows, n]), grid(Math.ceil(n / wg)));
  }
}
