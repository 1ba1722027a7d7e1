/**
 * BERT's embeddings: out[b, t, :] = wte[ids[b,t]] + wpe[t] + wtt[typeIds[b,t]] (positions are
 * 0..T-1 in every sequence). An id out of range (>= V or a type >= the rows of wtt) writes NaN, so a
 * bad tokenizer output cannot pass silently.
 *
 * Gradients (accumulated into all three tables):
 *   dWte[v] += Σ_{r: ids[r] = v} dOut[r],  dWpe[t] += Σ_b dOut[b, t],  dWtt[k] += Σ_{r: type = k} dOut[r].
 * WGSL has no float atomics, and the result must not depend on scheduling, so dWte is gathered by
 * row: pass 1 links every position to the next position holding the same id, pass 2 marks which
 * positions have a predecessor, pass 3 lets the first position of each id walk its chain in
 * increasing position order, one invocation per (head, 16 channels). dWpe and dWtt are
 * per-column sums, both in one last dispatch (lavapipe charges ~0.1 ms per dispatch).
 * The link scratch (2·B·T u32) is kept per device and grows when needed.
 *
 * Shapes: ids, typeIds (B, T) u32; wte, dWte (V, C); wpe, dWpe (P, C) with P >= T; wtt, dWtt
 * (K, C); out, dOut (B·T, C).
 *
 * @module
 */

import { type Batch, type Gpu, GpuError, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { assertDType, assertNoAlias, assertSize, shapeText, type Tensor } from "./tensor.ts";
import { rowVec, wgslRowVec } from "./row.ts";

// One invocation per element of V (vec4 where C is a multiple of 4, else f32); W = C in Vs.
const embeddingForwardWgsl = (vec: boolean) => /* wgsl */ `
override WG: u32 = 256;
${wgslRowVec(vec)}
struct Params { N: u32, T: u32, W: u32, V: u32, P: u32, K: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> typeIds: array<u32>;
@group(0) @binding(3) var<storage, read> wte: array<V>;
@group(0) @binding(4) var<storage, read> wpe: array<V>;
@group(0) @binding(5) var<storage, read> wtt: array<V>;
@group(0) @binding(6) var<storage, read_write> out: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let j = wgIndex * WG + lid;
  if (j >= p.N * p.W) { return; }
  let r = j / p.W;
  let c = j - r * p.W;
  let id = ids[r];
  let ty = typeIds[r];
  if (id >= p.V || ty >= p.K) {
    out[j] = V(bitcast<f32>(0x7fc00000u | (id & 0u))); // NaN made at run time
  } else {
    out[j] = wte[id * p.W + c] + wpe[(r % p.T) * p.W + c] + wtt[ty * p.W + c];
  }
}`;

const EMBEDDING_FORWARD_WGSL = [embeddingForwardWgsl(false), embeddingForwardWgsl(true)];

const NONE = 0xffffffff;

// links[i] = next position after i with the same id (or NONE); links[N + i] = 0 (no predecessor
// yet). O(N) per position in the worst case (all ids distinct); N = B·T is a few thousand.
const EMBEDDING_LINK_WGSL = /* wgsl */ `
override WG: u32 = 64;
struct Params { N: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> links: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let i = wgIndex * WG + lid;
  if (i >= p.N) { return; }
  let id = ids[i];
  var next = ${NONE}u;
  // Four ids per iteration (indices past N clamped and masked): fewer loop iterations make the
  // scan ~15% faster on lavapipe.
  let last = p.N - 1u;
  for (var j = i + 1u; j < p.N; j += 4u) {
    let e = vec4u(ids[j], ids[min(j + 1u, last)], ids[min(j + 2u, last)], ids[min(j + 3u, last)]);
    let hit = e == vec4u(id) & vec4<bool>(true, j + 1u < p.N, j + 2u < p.N, j + 3u < p.N);
    if (any(hit)) {
      next = j + select(select(select(3u, 2u, hit.z), 1u, hit.y), 0u, hit.x);
      break;
    }
  }
  links[i] = next;
  links[p.N + i] = 0u;
}`;

// Each position is the successor of at most one other, so these writes never collide.
const EMBEDDING_MARK_WGSL = /* wgsl */ `
override WG: u32 = 64;
struct Params { N: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> links: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let i = wgIndex * WG + lid;
  if (i >= p.N) { return; }
  let next = links[i];
  if (next != ${NONE}u) { links[p.N + next] = 1u; }
}`;

// dWte: one invocation per (position, group of G channel elements of V), G = 4 where the row
// holds a multiple of 4 vec4s, so the ids/links loads and the chain walk serve 16 channels.
const embeddingWteWgsl = (vec: boolean, G: number) => {
  const gs = Array.from({ length: G }, (_, g) => g);
  return /* wgsl */ `
override WG: u32 = 64;
${wgslRowVec(vec)}
struct Params { N: u32, W: u32, V: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<V>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> links: array<u32>;
@group(0) @binding(4) var<storage, read_write> dWte: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let groups = p.W / ${G}u;
  let j = wgIndex * WG + lid;
  if (j >= p.N * groups) { return; }
  let i = j / groups;
  let c = (j - i * groups) * ${G}u;
  let id = ids[i];
  if (links[p.N + i] != 0u || id >= p.V) { return; }
${gs.map((g) => `  var s${g} = V(0.0);`).join("\n")}
  var r = i;
  loop {
    let o = r * p.W + c;
${gs.map((g) => `    s${g} += dOut[o + ${g}u];`).join("\n")}
    r = links[r];
    if (r == ${NONE}u) { break; }
  }
  let d = id * p.W + c;
${gs.map((g) => `  dWte[d + ${g}u] += s${g};`).join("\n")}
}`;
};

// dWpe and dWtt in one dispatch. Invocations [0, W) each sum one channel element over all rows
// for up to four types at a time (one pass over dOut for BERT's two); they come first so their
// long loops start while the rest, one per (t, channel element) summing over the batch, fill in.
const embeddingPosTypeWgsl = (vec: boolean) => /* wgsl */ `
override WG: u32 = 64;
${wgslRowVec(vec)}
struct Params { B: u32, T: u32, W: u32, K: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<V>;
@group(0) @binding(2) var<storage, read> typeIds: array<u32>;
@group(0) @binding(3) var<storage, read_write> dWpe: array<V>;
@group(0) @binding(4) var<storage, read_write> dWtt: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let j = wgIndex * WG + lid;
  if (j < p.W) {
    let N = p.B * p.T;
    for (var k0 = 0u; k0 < p.K; k0 += 4u) {
      var s0 = V(0.0);
      var s1 = V(0.0);
      var s2 = V(0.0);
      var s3 = V(0.0);
      for (var r = 0u; r < N; r++) {
        let v = dOut[r * p.W + j];
        let k = typeIds[r] - k0;
        s0 += select(V(0.0), v, k == 0u);
        s1 += select(V(0.0), v, k == 1u);
        s2 += select(V(0.0), v, k == 2u);
        s3 += select(V(0.0), v, k == 3u);
      }
      dWtt[k0 * p.W + j] += s0;
      if (k0 + 1u < p.K) { dWtt[(k0 + 1u) * p.W + j] += s1; }
      if (k0 + 2u < p.K) { dWtt[(k0 + 2u) * p.W + j] += s2; }
      if (k0 + 3u < p.K) { dWtt[(k0 + 3u) * p.W + j] += s3; }
    }
    return;
  }
  let q = j - p.W;  // (t, channel element)
  if (q >= p.T * p.W) { return; }
  var s = V(0.0);
  for (var b = 0u; b < p.B; b++) { s += dOut[b * p.T * p.W + q]; }
  dWpe[q] += s;
}`;

const EMBEDDING_BACKWARD_WGSL = {
  // Keyed by the pipeline-name suffix: scalar rows, vec4 rows, vec4 rows 16 channels at a time.
  wte: {
    "": embeddingWteWgsl(false, 1),
    "_vec4": embeddingWteWgsl(true, 1),
    "_vec4_g4": embeddingWteWgsl(true, 4),
  },
  posType: [embeddingPosTypeWgsl(false), embeddingPosTypeWgsl(true)],
};

/** Sizes of an embedding lookup: B sequences of T tokens, C channels. */
export interface EmbeddingDims {
  B: number;
  T: number;
  C: number;
}

function tableRows(op: string, name: string, t: Tensor, C: number): number {
  if (t.shape.length !== 2 || t.shape[1] !== C) {
    throw new GpuError(
      `${op}: ${name} '${t.label}' has shape ${shapeText(t.shape)}, expected [rows, ${C}]`,
    );
  }
  return t.shape[0];
}

function checkIds(op: string, ids: Tensor, typeIds: Tensor, N: number): void {
  assertDType(op, "ids", ids, "u32");
  assertDType(op, "typeIds", typeIds, "u32");
  assertSize(op, "ids", ids, N);
  assertSize(op, "typeIds", typeIds, N);
}

/**
 * Records out (B·T, C) = wte[ids] + wpe[0..T-1] + wtt[typeIds].
 *
 * @example
 * ```ts ignore
 * gpu.run("embed", (b) => embeddingForward(b, out, ids, typeIds, wte, wpe, wtt, { B, T, C }));
 * ```
 */
export function embeddingForward(
  batch: Batch,
  out: Tensor,
  ids: Tensor,
  typeIds: Tensor,
  wte: Tensor,
  wpe: Tensor,
  wtt: Tensor,
  dims: EmbeddingDims,
): void {
  const op = "embeddingForward", { B, T, C } = dims, N = B * T;
  checkIds(op, ids, typeIds, N);
  const V = tableRows(op, "wte", wte, C);
  const P = tableRows(op, "wpe", wpe, C);
  const K = tableRows(op, "wtt", wtt, C);
  if (P < T) throw new GpuError(`${op}: wpe '${wpe.label}' has ${P} positions, T = ${T}`);
  assertSize(op, "out", out, N * C);
  assertNoAlias(op, [["out", out]], [["wte", wte], ["wpe", wpe], ["wtt", wtt]]);
  const { vec, W } = rowVec(C), wg = 256;
  const pipe = batch.gpu.pipeline(
    vec ? "embedding_forward_vec4" : "embedding_forward",
    EMBEDDING_FORWARD_WGSL[+vec],
    { WG: wg },
  );
  batch.dispatch(
    pipe,
    [ids, typeIds, wte, wpe, wtt, out],
    packParams([N, T, W, V, P, K]),
    grid(Math.ceil((N * W) / wg)),
  );
}

const scratch = new WeakMap<Gpu, GPUBuffer>();

function linkScratch(gpu: Gpu, N: number): GPUBuffer {
  let buf = scratch.get(gpu);
  // Never destroyed: a recorded batch may still hold the smaller one; it is freed when unused.
  if (!buf || buf.size < 8 * N) {
    buf = gpu.createBuffer(Math.max(8 * N, 4096), "embedding backward links");
    scratch.set(gpu, buf);
  }
  return buf;
}

/**
 * Records dWte, dWpe, dWtt += the gradients of {@linkcode embeddingForward} (accumulated,
 * deterministic: every sum runs in a fixed order). `V` must equal the rows of dWte; ids >= V add
 * nothing.
 */
export function embeddingBackward(
  batch: Batch,
  dWte: Tensor,
  dWpe: Tensor,
  dWtt: Tensor,
  dOut: Tensor,
  ids: Tensor,
  typeIds: Tensor,
  dims: EmbeddingDims & { V: number },
): void {
  const op = "embeddingBackward", { B, T, C, V } = dims, N = B * T;
  checkIds(op, ids, typeIds, N);
  const vRows = tableRows(op, "dWte", dWte, C);
  if (vRows !== V) {
    throw new GpuError(`${op}: dWte '${dWte.label}' has ${vRows} rows, expected V = ${V}`);
  }
  const P = tableRows(op, "dWpe", dWpe, C);
  const K = tableRows(op, "dWtt", dWtt, C);
  if (P < T) throw new GpuError(`${op}: dWpe '${dWpe.label}' has ${P} positions, T = ${T}`);
  assertSize(op, "dOut", dOut, N * C);
  assertNoAlias(op, [["dWte", dWte], ["dWpe", dWpe], ["dWtt", dWtt]], [["dOut", dOut]]);
  if (N === 0 || C === 0) return;
  const gpu = batch.gpu, wg = 64;
  const links = linkScratch(gpu, N);
  const rows = grid(Math.ceil(N / wg));
  batch.dispatch(
    gpu.pipeline("embedding_link", EMBEDDING_LINK_WGSL, { WG: wg }),
    [ids, links],
    packParams([N]),
    rows,
  );
  batch.dispatch(
    gpu.pipeline("embedding_mark", EMBEDDING_MARK_WGSL, { WG: wg }),
    [links],
    packParams([N]),
    rows,
  );
  const { vec, W } = rowVec(C), sfx = vec ? "_vec4" : "";
  const G = vec && W % 4 === 0 ? 4 : 1, wte = G === 4 ? "_vec4_g4" : sfx;
  batch.dispatch(
    gpu.pipeline(`embedding_backward_wte${wte}`, EMBEDDING_BACKWARD_WGSL.wte[wte], { WG: wg }),
    [dOut, ids, links, dWte],
    packParams([N, W, V]),
    grid(Math.ceil((N * W) / G / wg)),
  );
  batch.dispatch(
    gpu.pipeline(`embedding_backward_pos_type${sfx}`, EMBEDDING_BACKWARD_WGSL.posType[+vec], {
      WG: wg,
    }),
    [dOut, typeIds, dWpe, dWtt],
    packParams([B, T, W, K]),
    grid(Math.ceil((W + T * W) / wg)),
  );
}
