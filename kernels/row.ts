/**
 * The machinery of the row kernels (softmax, layernorm, attention's score gradient; embedding and
 * segment use the vec4 row type): WGSL row reductions, the row element type and the launch shape.
 *
 * Row kernels put LANES invocations on each row (a power of two) and WG/LANES rows in each
 * workgroup. On CPU rasterisers barriers cost more than the reduction saves, so LANES is 1 there
 * (one invocation per row, no barrier runs); on GPUs a workgroup reduces each row. A launcher's
 * `lanes` option forces another choice (tests and benchmarks).
 *
 * @module
 */

import { type Gpu, grid } from "./device.ts";

/**
 * WGSL of the row reductions shared by the row kernels (softmax, layernorm, attention): the
 * sum and max of one value per lane over the LANES lanes of a row, in a fixed order (so results
 * are deterministic). Must be called in uniform control flow. Declares overrides WG and LANES.
 */
export const WGSL_ROW_REDUCE = /* wgsl */ `
override WG: u32 = 64;
override LANES: u32 = 1;
var<workgroup> red: array<f32, WG>;
fn rowSum(v: f32, lid: u32) -> f32 {
  if (LANES == 1u) { return v; }
  red[lid] = v;
  workgroupBarrier();
  let lane = lid % LANES;
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[lid - lane];
  workgroupBarrier();
  return r;
}
fn rowMax(v: f32, lid: u32) -> f32 {
  if (LANES == 1u) { return v; }
  red[lid] = v;
  workgroupBarrier();
  let lane = lid % LANES;
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    if (lane < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[lid - lane];
  workgroupBarrier();
  return r;
}`;

/** The launch option every row kernel takes. */
export interface RowKernelOptions {
  /**
   * Lanes per row (a power of two up to 256) instead of the automatic choice. For tests and
   * benchmarks: it lets a CPU rasteriser run the workgroup-reduction variant that GPUs get.
   */
  lanes?: number;
}

/**
 * WGSL of the element type `V` of a row kernel and its horizontal sum, max and first element:
 * vec4f where the row width is a multiple of 4 (a quarter of the loads, and on CPU rasterisers
 * vector loads instead of gathers), f32 otherwise.
 */
export function wgslRowVec(vec: boolean): string {
  return vec
    ? /* wgsl */ `
alias V = vec4f;
fn hsum(v: V) -> f32 { return dot(v, vec4f(1.0)); }
fn hmax(v: V) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
fn first(v: V) -> f32 { return v.x; }`
    : /* wgsl */ `
alias V = f32;
fn hsum(v: V) -> f32 { return v; }
fn hmax(v: V) -> f32 { return v; }
fn first(v: V) -> f32 { return v; }`;
}

/**
 * Whether rows of `width` floats are read as vec4 (the `V` of {@linkcode wgslRowVec}), and W, the
 * row width in Vs.
 */
export function rowVec(width: number): { vec: boolean; W: number } {
  const vec = width % 4 === 0;
  return { vec, W: vec ? width / 4 : width };
}

/** Launch shape of a row kernel: override constants and workgroup count for `rows` rows. */
export interface RowLaunch {
  constants: { WG: number; LANES: number };
  workgroups: [number, number];
}

/**
 * The launch shape of a row kernel over `rows` rows of `width` loads each (f32 or vec4): one
 * invocation per row on CPU rasterisers, otherwise a workgroup of up to 256 lanes per row, about
 * two loads per lane (32 lanes at least).
 */
export function rowLaunch(gpu: Gpu, rows: number, width: number, lanes?: number): RowLaunch {
  if (lanes !== undefined) {
    if (!(Number.isInteger(lanes) && lanes >= 1 && lanes <= 256 && (lanes & (lanes - 1)) === 0)) {
      throw new RangeError(`rowLaunch: lanes ${lanes} is not a power of two in [1, 256]`);
    }
    const WG = Math.max(lanes, 64);
    return { constants: { WG, LANES: lanes }, workgroups: grid(Math.ceil(rows / (WG / lanes))) };
  }
  if (gpu.isSoftware) {
    const WG = 64;
    return { constants: { WG, LANES: 1 }, workgroups: grid(Math.ceil(rows / WG)) };
  }
  let auto = 32;
  while (auto < 256 && auto * 2 < width) auto *= 2;
  const WG = Math.max(auto, 64);
  return { constants: { WG, LANES: auto }, workgroups: grid(Math.ceil(rows / (WG / auto))) };
}
