/**
 * Layer normalisation over the last dimension of rows (N, C), as BERT applies it:
 *   mean = Σ_c x/C,  rstd = 1/√(Σ_c (x - mean)²/C + eps),  xhat = (x - mean)·rstd,
 *   out = xhat·gamma + beta.
 * Gradients (g = dOut·gamma):
 *   dX = rstd·(g - mean_c(g) - xhat·mean_c(g·xhat))   (assigned),
 *   dGamma += Σ_rows dOut·xhat,  dBeta += Σ_rows dOut   (accumulated).
 *
 * Shapes: x, out, dX, dOut (N, C); gamma, beta, dGamma, dBeta (C); mean, rstd (N), saved by the
 * forward. The forward's statistics come from one pass over the row shifted by its first element
 * (see the kernel); rows whose width is a multiple of 4 load vec4s. The row kernels use one
 * invocation per row on CPU rasterisers and a workgroup per row
 * on GPUs (see `rowLaunch`); dGamma and dBeta use one invocation per column summing the rows in
 * order, so the backward is deterministic without float atomics.
 *
 * @module
 */

import { type Batch, f32, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { assertNoAlias, assertSize, type Tensor } from "./tensor.ts";
import { type RowKernelOptions, rowLaunch, rowVec, WGSL_ROW_REDUCE, wgslRowVec } from "./row.ts";

// W is the row width in elements of V (C/4 for vec4), C in floats.
const layernormForwardWgsl = (vec: boolean) => /* wgsl */ `
${WGSL_ROW_REDUCE}
${wgslRowVec(vec)}
struct Params { N: u32, W: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<V>;
@group(0) @binding(3) var<storage, read> beta: array<V>;
@group(0) @binding(4) var<storage, read_write> out: array<V>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let lane = lid % LANES;
  let row = wgIndex * (WG / LANES) + lid / LANES;
  // Rows past N redo the last row so that every invocation reaches the barriers.
  let r = min(row, p.N - 1u);
  let o = r * p.W;
  let invC = 1.0 / f32(p.C);
  // One pass over shifted data: with d = x - x[0], mean = x[0] + E[d] and var = E[d²] - E[d]².
  // The shift keeps rounding relative to the row's spread rather than its offset (no catastrophic
  // cancellation unless x[0] is many standard deviations from the mean).
  let shift = first(x[o]);
  var s = V(0.0);
  var s2 = V(0.0);
  for (var c = lane; c < p.W; c += LANES) { let d = x[o + c] - shift; s += d; s2 += d * d; }
  let md = rowSum(hsum(s), lid) * invC;
  let m = shift + md;
  let variance = max(rowSum(hsum(s2), lid) * invC - md * md, 0.0);
  let rs = 1.0 / sqrt(variance + p.eps);
  if (row < p.N) {
    for (var c = lane; c < p.W; c += LANES) {
      out[o + c] = (x[o + c] - m) * rs * gamma[c] + beta[c];
    }
    if (lane == 0u) { mean[r] = m; rstd[r] = rs; }
  }
}`;

const layernormBackwardWgsl = (vec: boolean) => /* wgsl */ `
${WGSL_ROW_REDUCE}
${wgslRowVec(vec)}
struct Params { N: u32, W: u32, C: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<V>;
@group(0) @binding(2) var<storage, read> x: array<V>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<V>;
@group(0) @binding(6) var<storage, read_write> dX: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let lane = lid % LANES;
  let row = wgIndex * (WG / LANES) + lid / LANES;
  let r = min(row, p.N - 1u);
  let o = r * p.W;
  let m = mean[r];
  let rs = rstd[r];
  var gs = V(0.0);
  var gx = V(0.0);
  for (var c = lane; c < p.W; c += LANES) {
    let g = dOut[o + c] * gamma[c];
    gs += g;
    gx += g * (x[o + c] - m) * rs;
  }
  let invC = 1.0 / f32(p.C);
  let gMean = rowSum(hsum(gs), lid) * invC;
  let gxMean = rowSum(hsum(gx), lid) * invC;
  if (row < p.N) {
    for (var c = lane; c < p.W; c += LANES) {
      let xhat = (x[o + c] - m) * rs;
      dX[o + c] = rs * (dOut[o + c] * gamma[c] - gMean - xhat * gxMean);
    }
  }
}`;

const LAYERNORM_WGSL = {
  forward: [layernormForwardWgsl(false), layernormForwardWgsl(true)],
  backward: [layernormBackwardWgsl(false), layernormBackwardWgsl(true)],
};

// One invocation per column (per 4 columns with vec4), summing rows in order: deterministic.
const layernormParamsWgsl = (vec: boolean) => /* wgsl */ `
override WG: u32 = 64;
${wgslRowVec(vec)}
struct Params { N: u32, W: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dOut: array<V>;
@group(0) @binding(2) var<storage, read> x: array<V>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dGamma: array<V>;
@group(0) @binding(6) var<storage, read_write> dBeta: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let c = wgIndex * WG + lid;
  if (c >= p.W) { return; }
  var sg = V(0.0);
  var sb = V(0.0);
  for (var r = 0u; r < p.N; r++) {
    let d = dOut[r * p.W + c];
    sg += d * (x[r * p.W + c] - mean[r]) * rstd[r];
    sb += d;
  }
  dGamma[c] += sg;
  dBeta[c] += sb;
}`;

const LAYERNORM_PARAMS_WGSL = [layernormParamsWgsl(false), layernormParamsWgsl(true)];

/** Sizes of a layernorm: N rows of width C, and eps (BERT uses 1e-12). */
export interface LayernormDims extends RowKernelOptions {
  N: number;
  C: number;
  eps?: number;
}

/**
 * Records out = layernorm(x)·gamma + beta over rows (N, C), saving mean (N) and rstd (N).
 *
 * @example
 * ```ts ignore
 * gpu.run("ln", (b) => layernormForward(b, out, mean, rstd, x, gamma, beta, { N, C, eps: 1e-12 }));
 * ```
 */
export function layernormForward(
  batch: Batch,
  out: Tensor,
  mean: Tensor,
  rstd: Tensor,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  dims: LayernormDims,
): void {
  const op = "layernormForward", { N, C } = dims, eps = dims.eps ?? 1e-12;
  assertSize(op, "x", x, N * C);
  assertSize(op, "out", out, N * C);
  assertSize(op, "mean", mean, N);
  assertSize(op, "rstd", rstd, N);
  assertSize(op, "gamma", gamma, C);
  assertSize(op, "beta", beta, C);
  assertNoAlias(op, [["out", out], ["mean", mean], ["rstd", rstd]], [
    ["x", x],
    ["gamma", gamma],
    ["beta", beta],
  ]);
  if (N === 0 || C === 0) return;
  const { vec, W } = rowVec(C);
  const shape = rowLaunch(batch.gpu, N, W, dims.lanes);
  const name = vec ? "layernorm_forward_vec4" : "layernorm_forward";
  const pipe = batch.gpu.pipeline(name, LAYERNORM_WGSL.forward[+vec], shape.constants);
  batch.dispatch(
    pipe,
    [x, gamma, beta, out, mean, rstd],
    packParams([N, W, C, f32(eps)]),
    shape.workgroups,
  );
}

/**
 * Records dX (assigned) and dGamma, dBeta (accumulated) of {@linkcode layernormForward} from its
 * saved mean and rstd.
 */
export function layernormBackward(
  batch: Batch,
  dX: Tensor,
  dGamma: Tensor,
  dBeta: Tensor,
  dOut: Tensor,
  x: Tensor,
  mean: Tensor,
  rstd: Tensor,
  gamma: Tensor,
  dims: { N: number; C: number } & RowKernelOptions,
): void {
  const op = "layernormBackward", { N, C } = dims;
  for (const [name, t] of [["dX", dX], ["dOut", dOut], ["x", x]] as const) {
    assertSize(op, name, t, N * C);
  }
  for (const [name, t] of [["dGamma", dGamma], ["dBeta", dBeta], ["gamma", gamma]] as const) {
    assertSize(op, name, t, C);
  }
  assertSize(op, "mean", mean, N);
  assertSize(op, "rstd", rstd, N);
  const ins: [string, Tensor][] = [
    ["dOut", dOut],
    ["x", x],
    ["mean", mean],
    ["rstd", rstd],
    ["gamma", gamma],
  ];
  assertNoAlias(op, [["dX", dX], ["dGamma", dGamma], ["dBeta", dBeta]], ins);
  if (N === 0 || C === 0) return;
  const { vec, W } = rowVec(C);
  const shape = rowLaunch(batch.gpu, N, W, dims.lanes);
  const gpu = batch.gpu;
  const name = vec ? "layernorm_backward_vec4" : "layernorm_backward";
  const pipe = gpu.pipeline(name, LAYERNORM_WGSL.backward[+vec], shape.constants);
  batch.dispatch(pipe, [dOut, x, mean, rstd, gamma, dX], packParams([N, W, C]), shape.workgroups);
  const wg = 64;
  const pp = gpu.pipeline(
    vec ? "layernorm_backward_params_vec4" : "layernorm_backward_params",
    LAYERNORM_PARAMS_WGSL[+vec],
    { WG: wg },
  );
  batch.dispatch(
    pp,
    [dOut, x, mean, rstd, dGamma, dBeta],
    packParams([N, W]),
    grid(Math.ceil(W / wg)),
  );
}
