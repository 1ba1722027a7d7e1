/**
 * copy: out[i] = x[i] over vec4s. The memory-bandwidth reference of the kernel benchmark: a
 * memory-bound op is judged by its GB/s against this kernel's. Shapes: x (N), out (N); N any size
 * (the tail that is not a multiple of 4 is handled).
 *
 * copyRows: a strided row copy (or accumulation), dst[r·dStride + dOff + c] = (or +=)
 * src[r·sStride + sOff + c], for R rows of `width` values.
 *
 * gatherRows: an indexed row copy, dst[r·width + c] = src[index[r]·sStride + c]: the choice
 * model reads cached action encodings by slot.
 *
 * @module
 */

import { type Batch, type Gpu, GpuError, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { assertDType, assertNoAlias, assertSize, type Tensor } from "./tensor.ts";

const COPY_WGSL = /* wgsl */ `
override WG: u32 = 256;
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let i = (wgIndex * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    if (i + k < p.n) { out[i + k] = x[i + k]; }
  }
}`;

/** Records out = x for the first `x.size` elements. */
export function copyForward(batch: Batch, out: Tensor, x: Tensor): void {
  assertSize("copy", "out", out, x.size);
  const wg = 256;
  const pipe = batch.gpu.pipeline("copy", COPY_WGSL, { WG: wg });
  batch.dispatch(pipe, [x, out], packParams([x.size]), grid(Math.ceil(x.size / (4 * wg))));
}

const COPY_ROWS_WGSL = /* wgsl */ `
override ACCUM: bool = false;
struct Params { R: u32, W: u32, dStride: u32, dOff: u32, sStride: u32, sOff: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.R * p.W) { return; }
  let r = e / p.W;
  let c = e % p.W;
  let v = src[r * p.sStride + p.sOff + c];
  let o = r * p.dStride + p.dOff + c;
  if (ACCUM) { dst[o] += v; } else { dst[o] = v; }
}`;

/** Layout of {@linkcode copyRows}: R rows of `width` values at strides and offsets (elements). */
export interface CopyRowsDims {
  R: number;
  width: number;
  dStride: number;
  dOff: number;
  sStride: number;
  sOff: number;
  /** Add into dst instead of assigning. */
  accumulate?: boolean;
}

/**
 * Records a strided row copy, dst[r·dStride + dOff + c] = (or +=) src[r·sStride + sOff + c]:
 * the choice model builds each state's memory ([image token; tokens]), gathers [CLS] rows for
 * the value head and scatters their gradients back with it.
 */
export function copyRows(batch: Batch, dst: Tensor, src: Tensor, d: CopyRowsDims): void {
  const op = "copyRows";
  if (d.R === 0 || d.width === 0) return;
  assertSize(op, "src", src, (d.R - 1) * d.sStride + d.sOff + d.width);
  assertSize(op, "dst", dst, (d.R - 1) * d.dStride + d.dOff + d.width);
  assertNoAlias(op, [["dst", dst]], [["src", src]]);
  const pipe = batch.gpu.pipeline("copy_rows", COPY_ROWS_WGSL, { ACCUM: d.accumulate ? 1 : 0 });
  const params = packParams([d.R, d.width, d.dStride, d.dOff, d.sStride, d.sOff]);
  batch.dispatch(pipe, [src, dst], params, grid(Math.ceil((d.R * d.width) / 64)));
}

/** Compiles both copyRows variants now, at start-up, instead of at their first dispatch. */
export function warmCopyRows(gpu: Gpu): void {
  gpu.pipeline("copy_rows", COPY_ROWS_WGSL, { ACCUM: 0 });
  gpu.pipeline("copy_rows", COPY_ROWS_WGSL, { ACCUM: 1 });
}

const GATHER_ROWS_WGSL = /* wgsl */ `
struct Params { R: u32, W: u32, sStride: u32, sRows: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let e = wgIndex * 64u + lid;
  if (e >= p.R * p.W) { return; }
  let r = e / p.W;
  let c = e % p.W;
  let s = index[r];
  // An index past src's rows becomes NaN, which the non-finite checks report.
  if (s < p.sRows) { dst[e] = src[s * p.sStride + c]; } else { dst[e] = bitcast<f32>(0x7fc00000u); }
}`;

/** Layout of {@linkcode gatherRows}: R rows of `width` values from src rows of `sStride`. */
export interface GatherRowsDims {
  R: number;
  width: number;
  sStride: number;
}

/**
 * Records dst[r·width + c] = src[index[r]·sStride + c] for R rows of `width` values (`index` u32
 * (R); NaN where an index is past src's rows). Shapes: src (rows·sStride), dst (R·width).
 */
export function gatherRows(
  batch: Batch,
  dst: Tensor,
  src: Tensor,
  index: Tensor,
  d: GatherRowsDims,
): void {
  const op = "gatherRows";
  if (d.R === 0 || d.width === 0) return;
  if (d.width > d.sStride) {
    throw new GpuError(`${op}: width ${d.width} exceeds the source row stride ${d.sStride}`);
  }
  assertDType(op, "index", index, "u32");
  assertSize(op, "index", index, d.R);
  assertSize(op, "dst", dst, d.R * d.width);
  assertNoAlias(op, [["dst", dst]], [["src", src], ["index", index]]);
  const sRows = Math.floor(src.size / d.sStride);
  const pipe = batch.gpu.pipeline("gather_rows", GATHER_ROWS_WGSL);
  const params = packParams([d.R, d.width, d.sStride, sRows]);
  batch.dispatch(pipe, [src, index, dst], params, grid(Math.ceil((d.R * d.width) / 64)));
}
