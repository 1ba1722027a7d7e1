/**
 * copy: out[i] = x[i] over vec4s. The memory-bandwidth reference of the kernel benchmark: a
 * memory-bound op is judged by its GB/s against this kernel's.
 *
 * Shapes: x (N), out (N); N any size (the tail that is not a multiple of 4 is handled).
 *
 * @module
 */

import { type Batch, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { assertSize, type Tensor } from "./tensor.ts";

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
