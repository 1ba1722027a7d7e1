/**
 * PPO's clipped policy loss with WebShop's value and entropy terms, forward and backward in one
 * dispatch, over a batch of S decisions whose A valid actions are grouped by `offsets` (the
 * segment layout of segment.ts). The CPU reference, with the math and the gradient rules, is
 * `train/ppo_loss.ts` (`ppoLoss`); this kernel computes the same per decision s:
 *   ℓ = logp[offsets[s] + targets[s]], z = exp(ℓ − oldLogp[s]), Â = adv[s]
 *   pg = max(−Â·z, −Â·clip(z, lo, hi));  dLogp[target] = wPg·(−Â·z)/S where −Â·z ≥ the other
 *   dLogp[a] += wEn·p_a·(ℓ_a + 1)/A for every action of the segment (∂ of mean p log p)
 *   vf = (V − R)² (or TRL's clipped max with c > 0), dValues[s] = wVf·2(V − R)/S unless clipped
 * and writes 8 statistics per decision (pg, clipped, ℓ − old, z, entropy, vf, vclipped, Σ p log p)
 * at `statsOffset`, so the minibatches of a whole update phase land in one buffer that is read
 * once at its end. Every element of dLogp in [0, A) and dValues in [0, S) is assigned.
 *
 * Shapes: logp (A), offsets u32 (S+1), targets u32 (S), oldLogp, adv, returns, values, oldValues
 * (S each; the last three are read only with wVf > 0), dLogp (A), dValues (S), stats
 * (statsOffset + 8·S).
 *
 * @module
 */

import { type Batch, f32, type Gpu, GpuError, grid, packParams, WGSL_WG_INDEX } from "./device.ts";
import { dispatchDistinct } from "./reduce.ts";
import { assertDType, assertSize, type Tensor } from "./tensor.ts";

/** Scalars of {@linkcode policyLossForwardBackward}. */
export interface PolicyLossParams {
  /** Decisions. */
  S: number;
  /** Valid actions in all (offsets[S]). */
  A: number;
  clipLow: number;
  clipHigh: number;
  wPg: number;
  wVf: number;
  wEn: number;
  /** TRL's value clip range, 0 for none. */
  clipValue: number;
  /** Float index of the first statistic written (a multiple of 8). */
  statsOffset: number;
}

const POLICY_LOSS_WGSL = /* wgsl */ `
override WG: u32 = 64;
struct Params {
  S: u32, A: u32, statsOffset: u32, withValues: u32,
  clipLow: f32, clipHigh: f32, wPg: f32, wVf: f32,
  wEn: f32, clipValue: f32, _p0: f32, _p1: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logp: array<f32>;        // (A)
@group(0) @binding(2) var<storage, read> offsets: array<u32>;     // (S+1)
@group(0) @binding(3) var<storage, read> targets: array<u32>;     // (S)
@group(0) @binding(4) var<storage, read> oldLogp: array<f32>;     // (S)
@group(0) @binding(5) var<storage, read> adv: array<f32>;         // (S)
@group(0) @binding(6) var<storage, read> returns: array<f32>;     // (S)
@group(0) @binding(7) var<storage, read> values: array<f32>;      // (S)
@group(0) @binding(8) var<storage, read> oldValues: array<f32>;   // (S)
@group(0) @binding(9) var<storage, read_write> dLogp: array<f32>; // (A)
@group(0) @binding(10) var<storage, read_write> dValues: array<f32>; // (S)
@group(0) @binding(11) var<storage, read_write> stats: array<f32>;   // (statsOffset + 8S)

// One invocation per decision: action groups are small, a serial loop beats a reduction.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${WGSL_WG_INDEX}
  let s = wgIndex * WG + lid;
  if (s >= p.S) { return; }
  let a0 = min(offsets[s], p.A);
  let a1 = min(offsets[s + 1u], p.A);
  let invS = 1.0 / f32(p.S);
  let invA = 1.0 / f32(p.A);
  var ent = 0.0;
  var plogp = 0.0;
  for (var i = a0; i < a1; i++) {
    let la = logp[i];
    let pa = exp(la);
    plogp += pa * la;
    dLogp[i] = p.wEn * pa * (la + 1.0) * invA;
  }
  ent = -plogp;
  let t = a0 + targets[s];
  var l = bitcast<f32>(0x7fc00000u); // a target outside its group: NaN, caught by the norm check
  if (t < a1) { l = logp[t]; }
  let A = adv[s];
  let logratio = l - oldLogp[s];
  let z = exp(logratio);
  let pg1 = -A * z;
  let pg2 = -A * clamp(z, p.clipLow, p.clipHigh);
  if (pg1 >= pg2 && t < a1) { dLogp[t] += p.wPg * pg1 * invS; }
  var vf = 0.0;
  var vclipped = 0.0;
  if (p.withValues == 1u) {
    let v = values[s];
    let R = returns[s];
    let vf1 = (v - R) * (v - R);
    var dv = 2.0 * (v - R);
    vf = vf1;
    if (p.clipValue > 0.0) {
      let vc = oldValues[s] + clamp(v - oldValues[s], -p.clipValue, p.clipValue);
      let vf2 = (vc - R) * (vc - R);
      if (vf2 > vf1) { vf = vf2; vclipped = 1.0; dv = 0.0; }
    }
    dValues[s] = p.wVf * dv * invS;
  } else {
    dValues[s] = 0.0;
  }
  let o = p.statsOffset + 8u * s;
  stats[o] = max(pg1, pg2);
  stats[o + 1u] = select(0.0, 1.0, pg2 > pg1);
  stats[o + 2u] = logratio;
  stats[o + 3u] = z;
  stats[o + 4u] = ent;
  stats[o + 5u] = vf;
  stats[o + 6u] = vclipped;
  stats[o + 7u] = plogp;
}`;

function kernel(gpu: Gpu): { pipe: GPUComputePipeline; wg: number } {
  const wg = gpu.isSoftware ? 64 : 128;
  return { pipe: gpu.pipeline("policy_loss", POLICY_LOSS_WGSL, { WG: wg }), wg };
}

/** Compiles the kernel now (start-up), not at its first dispatch. */
export function warmPolicyLossKernel(gpu: Gpu): void {
  kernel(gpu);
}

/**
 * Records the loss's statistics and gradients (dLogp assigned over [0, A), dValues over [0, S)).
 * With `wVf` 0 the value buffers are not read (any tensors of size S may be bound).
 *
 * @example
 * ```ts
 * policyLossForwardBackward(batch, { dLogp, dValues, stats }, { logp, offsets, targets, oldLogp,
 *   adv, returns, values, oldValues }, { S, A, clipLow: 0.8, clipHigh: 1.2, wPg: 1, wVf: 1,
 *   wEn: 1, clipValue: 0, statsOffset: 0 });
 * ```
 */
export function policyLossForwardBackward(
  batch: Batch,
  out: { dLogp: Tensor; dValues: Tensor; stats: Tensor },
  inp: {
    logp: Tensor;
    offsets: Tensor;
    targets: Tensor;
    oldLogp: Tensor;
    adv: Tensor;
    returns: Tensor;
    values: Tensor;
    oldValues: Tensor;
  },
  p: PolicyLossParams,
): void {
  const op = "policyLossForwardBackward";
  const { S, A } = p;
  if (!Number.isInteger(S) || S < 1 || !Number.isInteger(A) || A < S) {
    throw new GpuError(`${op}: S = ${S}, A = ${A} (need S >= 1 and A >= S)`);
  }
  if (!Number.isInteger(p.statsOffset) || p.statsOffset < 0 || p.statsOffset % 8 !== 0) {
    throw new GpuError(`${op}: statsOffset ${p.statsOffset} is not a multiple of 8`);
  }
  assertSize(op, "logp", inp.logp, A);
  assertDType(op, "offsets", inp.offsets, "u32");
  assertSize(op, "offsets", inp.offsets, S + 1);
  assertDType(op, "targets", inp.targets, "u32");
  assertSize(op, "targets", inp.targets, S);
  for (const k of ["oldLogp", "adv", "returns", "values", "oldValues"] as const) {
    assertSize(op, k, inp[k], S);
  }
  assertSize(op, "dLogp", out.dLogp, A);
  assertSize(op, "dValues", out.dValues, S);
  assertSize(op, "stats", out.stats, p.statsOffset + 8 * S);
  const { pipe, wg } = kernel(batch.gpu);
  const params = packParams([
    S,
    A,
    p.statsOffset,
    p.wVf > 0 ? 1 : 0,
    f32(p.clipLow),
    f32(p.clipHigh),
    f32(p.wPg),
    f32(p.wVf),
    f32(p.wEn),
    f32(p.clipValue),
    f32(0),
    f32(0),
  ]);
  dispatchDistinct(
    op,
    batch,
    pipe,
    [
      inp.logp,
      inp.offsets,
      inp.targets,
      inp.oldLogp,
      inp.adv,
      inp.returns,
      inp.values,
      inp.oldValues,
      out.dLogp,
      out.dValues,
      out.stats,
    ],
    params,
    grid(Math.ceil(S / wg)),
  );
}
