/**
 * dropout: out = x·keep/(1-p) where keep is drawn from a counter-based generator, a pure function
 * of (seed, element index) (two rounds of the PCG output permutation). Nothing is stored between
 * forward and backward: the backward regenerates the same mask from the same seed. p = 0 is the
 * identity. A model gives every dropout site its own seed (and a new one every step).
 *
 * Shapes: x, out, dX, dOut (n); n any size.
 * Gradient: dX = dOut·keep/(1-p) (assigned).
 *
 * @module
 */

import { type Batch, f32, GpuError, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { assertNoAlias, assertSize, type Tensor } from "./tensor.ts";
import { dropoutScale, dropoutThreshold, pcgHash } from "./cpu/dropout.ts";

/**
 * WGSL of the dropout generator, shared by every kernel that drops (attention's probabilities
 * too): `dropoutKeep(seedHash, index, threshold)` with seedHash = pcgHash(seed) from the host,
 * the same function as `dropoutKeep` in `cpu/dropout.ts`.
 */
export const WGSL_DROPOUT = /* wgsl */ `
fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn dropoutKeep(seedHash: u32, index: u32, threshold: u32) -> bool {
  return (pcgHash(seedHash + index) >> 8u) >= threshold;
}`;

/** Options of a dropout: drop probability in [0, 1) and the generator's seed (a u32). */
export interface DropoutOptions {
  p: number;
  seed: number;
}

/** The uniform fields {threshold, seedHash, scale} of dropout `p` with `seed`, checked. */
export function dropoutParams(op: string, p: number, seed: number): [number, number, number] {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new GpuError(`${op}: dropout seed ${seed} is not a u32`);
  }
  let thr: number;
  try {
    thr = dropoutThreshold(p, op);
  } catch (e) {
    throw new GpuError((e as Error).message);
  }
  return [thr, pcgHash(seed), dropoutScale(p)];
}

const DROPOUT_WGSL = /* wgsl */ `
override WG: u32 = 256;
struct Params { n: u32, threshold: u32, seedHash: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${WGSL_DROPOUT}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let i = (wgIndex * WG + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let j = i + k;
    if (j < p.n) {
      out[j] = select(0.0, x[j] * p.scale, dropoutKeep(p.seedHash, j, p.threshold));
    }
  }
}`;

function launch(batch: Batch, op: string, out: Tensor, x: Tensor, n: number, o: DropoutOptions) {
  assertSize(op, "out", out, n);
  assertSize(op, "input", x, n);
  assertNoAlias(op, [["out", out]], [["input", x]]);
  const [thr, seedHash, scale] = dropoutParams(op, o.p, o.seed);
  const wg = 256;
  const pipe = batch.gpu.pipeline("dropout", DROPOUT_WGSL, { WG: wg });
  batch.dispatch(
    pipe,
    [x, out],
    packParams([n, thr, seedHash, f32(scale)]),
    grid(Math.ceil(n / (4 * wg))),
  );
}

/**
 * Records out = dropout(x) over the first `n` elements (n = 0 records nothing).
 *
 * @example
 * ```ts ignore
 * gpu.run("drop", (b) => dropoutForward(b, out, x, x.size, { p: 0.1, seed: step * 97 + site }));
 * ```
 */
export function dropoutForward(
  batch: Batch,
  out: Tensor,
  x: Tensor,
  n: number,
  options: DropoutOptions,
): void {
  launch(batch, "dropoutForward", out, x, n, options);
}

/** Records dX = dOut·keep/(1-p) with the forward's mask (same `p` and `seed`). */
export function dropoutBackward(
  batch: Batch,
  dX: Tensor,
  dOut: Tensor,
  n: number,
  options: DropoutOptions,
): void {
  launch(batch, "dropoutBackward", dX, dOut, n, options);
}
