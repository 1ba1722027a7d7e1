/**
 * Residual connections: out = scaleA·a + scaleB·b, a scaling out = s·x, and `addInto`
 * (dst += scale·src), which backwards use where a gradient reaches a tensor along two paths.
 *
 * Shapes: every tensor (n); n any size. Outputs must not alias inputs (WebGPU forbids binding one
 * buffer both read-only and writable), except `addInto`'s dst, which is read and written.
 * Gradients: dA = scaleA·dOut, dB = scaleB·dOut (assigned; `residualBackward`), dX = s·dOut
 * (`scaleBackward`).
 *
 * @module
 */

import { type Batch, f32, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { assertNoAlias, assertSize, type Tensor } from "./tensor.ts";

const HEADER = /* wgsl */ `
override WG: u32 = 256;
struct Params { n: u32, sa: f32, sb: f32 }
@group(0) @binding(0) var<uniform> p: Params;`;

const MAIN = /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let i = (wgIndex * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let j = i + k;
    if (j < p.n) { body(j); }
  }
}`;

const RESIDUAL_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
fn body(j: u32) { out[j] = p.sa * a[j] + p.sb * b[j]; }
${MAIN}`;

const SCALE_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
fn body(j: u32) { out[j] = p.sa * x[j]; }
${MAIN}`;

const SCALE2_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> outA: array<f32>;
@group(0) @binding(3) var<storage, read_write> outB: array<f32>;
fn body(j: u32) { let v = x[j]; outA[j] = p.sa * v; outB[j] = p.sb * v; }
${MAIN}`;

const ADD_INTO_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
fn body(j: u32) { dst[j] += p.sa * src[j]; }
${MAIN}`;

const WG = 256;

function check(op: string, n: number, outs: [string, Tensor][], ins: [string, Tensor][]): void {
  for (const [name, t] of [...outs, ...ins]) assertSize(op, name, t, n);
  assertNoAlias(op, outs, ins);
}

function run(
  batch: Batch,
  name: string,
  code: string,
  buffers: Tensor[],
  n: number,
  sa: number,
  sb: number,
): void {
  const pipe = batch.gpu.pipeline(name, code, { WG });
  batch.dispatch(pipe, buffers, packParams([n, f32(sa), f32(sb)]), grid(Math.ceil(n / (4 * WG))));
}

/** Scales of the two residual branches (default 1 each). */
export interface ResidualOptions {
  scaleA?: number;
  scaleB?: number;
}

/**
 * Records out = scaleA·a + scaleB·b over the first `n` elements.
 *
 * @example
 * ```ts ignore
 * gpu.run("res", (b) => residualForward(b, out, x, attnOut, x.size));
 * ```
 */
export function residualForward(
  batch: Batch,
  out: Tensor,
  a: Tensor,
  b: Tensor,
  n: number,
  options: ResidualOptions = {},
): void {
  check("residualForward", n, [["out", out]], [["a", a], ["b", b]]);
  run(batch, "residual", RESIDUAL_WGSL, [a, b, out], n, options.scaleA ?? 1, options.scaleB ?? 1);
}

/**
 * Records dA = scaleA·dOut and dB = scaleB·dOut (assigned); pass null for a gradient that is not
 * needed. To add a branch's gradient into an existing one use {@linkcode addInto}.
 */
export function residualBackward(
  batch: Batch,
  dA: Tensor | null,
  dB: Tensor | null,
  dOut: Tensor,
  n: number,
  options: ResidualOptions = {},
): void {
  const sa = options.scaleA ?? 1, sb = options.scaleB ?? 1;
  if (dA && dB) {
    check("residualBackward", n, [["dA", dA], ["dB", dB]], [["dOut", dOut]]);
    run(batch, "residual_backward", SCALE2_WGSL, [dOut, dA, dB], n, sa, sb);
  } else if (dA || dB) {
    const [name, d, s] = dA ? ["dA", dA, sa] as const : ["dB", dB!, sb] as const;
    check("residualBackward", n, [[name, d]], [["dOut", dOut]]);
    run(batch, "scale", SCALE_WGSL, [dOut, d], n, s, 0);
  }
}

/** Records out = s·x over the first `n` elements. */
export function scaleForward(batch: Batch, out: Tensor, x: Tensor, n: number, s: number): void {
  check("scaleForward", n, [["out", out]], [["x", x]]);
  run(batch, "scale", SCALE_WGSL, [x, out], n, s, 0);
}

/** Records dX = s·dOut, the gradient of {@linkcode scaleForward} (assigned). */
export function scaleBackward(batch: Batch, dX: Tensor, dOut: Tensor, n: number, s: number): void {
  check("scaleBackward", n, [["dX", dX]], [["dOut", dOut]]);
  run(batch, "scale", SCALE_WGSL, [dOut, dX], n, s, 0);
}

/** Records dst += scale·src over the first `n` elements (gradient accumulation). */
export function addInto(batch: Batch, dst: Tensor, src: Tensor, n: number, scale = 1): void {
  check("addInto", n, [["dst", dst]], [["src", src]]);
  run(batch, "add_into", ADD_INTO_WGSL, [src, dst], n, scale, 0);
}
