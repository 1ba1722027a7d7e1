/**
 * PPO's clipped objective on choice decisions (Schulman et al. 2017), with WebShop's other RL
 * terms (baseline_models/agent.py `update`): the CPU reference of the loss that
 * `train/ppo_loss_gpu.ts` records on the GPU, and the metrics of both under TRL's names.
 *
 * For decision s with current log-prob ℓ_s of the chosen action, old log-prob o_s (recorded at
 * rollout time), advantage Â_s, ratio z_s = exp(ℓ_s − o_s) and clip bounds [lo, hi]:
 *   pg_s = −min(z_s·Â_s, clip(z_s, lo, hi)·Â_s)                 (PPO: lo = 1 − ε, hi = 1 + ε)
 *   vf_s = (V_s − R_s)²,  or with value clipping c > 0 (TRL's cliprange_value):
 *          max((V_s − R_s)², (V^old_s + clip(V_s − V^old_s, −c, c) − R_s)²)
 *   en   = mean over every valid action a of the batch of p_a·log p_a     (WebShop's loss_en)
 *   loss = w_pg·mean_s pg_s + w_vf·mean_s vf_s + w_en·en
 * Gradients (ℓ is treated as free; the model's log-softmax backward projects it):
 *   ∂pg_s/∂ℓ_s = −Â_s·z_s where the unclipped term is the min (z·Â ≤ clip(z)·Â), else 0;
 *   ∂en/∂ℓ_a = p_a·(ℓ_a + 1)/A;  ∂vf_s/∂V_s = 2(V_s − R_s) unless the clipped term is larger.
 * WebShop's own loss_td is mean((R − V)²) without clipping and without TRL's ½: c = 0 here.
 *
 * Metrics (TRL's PPOTrainer): `loss/policy_avg`, `loss/value_avg`, `policy/clipfrac_avg` (share
 * of decisions where the clipped term is the smaller, pg2 > pg1), `policy/approxkl_avg`
 * (½·mean((ℓ − o)²)), `policy/entropy_avg` (mean entropy of each decision's distribution),
 * `val/clipfrac_avg`, `val/ratio` (mean z), and `loss/entropy` (WebShop's en).
 *
 * @module
 */

/** Per-decision statistics, in this order, as the GPU loss writes them (8 floats a decision). */
export const POLICY_STATS = [
  "pg",
  "clipped",
  "logratio",
  "ratio",
  "entropy",
  "vf",
  "vclipped",
  "plogp",
] as const;

/** Floats per decision in a statistics buffer. */
export const POLICY_STATS_WIDTH = POLICY_STATS.length;

/** Settings of {@linkcode ppoLoss}. */
export interface PolicyLossOptions {
  /** Lower bound of the ratio clip (PPO 1 − ε; LOOP 1/(1 + ε)). */
  clipLow: number;
  /** Upper bound (1 + ε). */
  clipHigh: number;
  /** Weight of the clipped policy term (WebShop's w_pg, 1). */
  wPg: number;
  /** Weight of the value term (w_td, 1; 0 drops the value head from the loss). */
  wVf: number;
  /** Weight of mean(p log p) (w_en, 1). */
  wEn: number;
  /** TRL's value clip range; 0 for none (WebShop). */
  clipValue: number;
}

/** One minibatch of decisions. */
export interface PolicyBatch {
  /** Valid actions per decision (S). */
  sizes: readonly number[];
  /** Current log-probs of every valid action, grouped by decision (A). */
  logp: ArrayLike<number>;
  /** Index of the chosen action within each decision (S). */
  targets: readonly number[];
  /** Log-prob of the chosen action when it was sampled (S). */
  oldLogp: ArrayLike<number>;
  /** Advantages (S). */
  advantages: ArrayLike<number>;
  /** Current value estimates, returns and rollout-time values (S each), when wVf > 0. */
  values?: ArrayLike<number>;
  returns?: ArrayLike<number>;
  oldValues?: ArrayLike<number>;
}

/** What {@linkcode ppoLoss} returns. */
export interface PolicyLossResult {
  loss: number;
  /** ∂loss/∂ℓ for every valid action (A). */
  dLogp: Float64Array;
  /** ∂loss/∂V per decision (S), null without a value term. */
  dValues: Float64Array | null;
  /** Per-decision statistics (S × 8, {@linkcode POLICY_STATS}). */
  stats: Float64Array;
  metrics: Record<string, number>;
}

/** Throws naming the field unless `o` is usable. */
export function validatePolicyLossOptions(o: PolicyLossOptions, where = "policy loss"): void {
  if (!(o.clipLow > 0 && o.clipLow <= 1)) {
    throw new RangeError(`${where}: clipLow must be in (0, 1], got ${o.clipLow}`);
  }
  if (!(o.clipHigh >= 1 && Number.isFinite(o.clipHigh))) {
    throw new RangeError(`${where}: clipHigh must be >= 1, got ${o.clipHigh}`);
  }
  for (const k of ["wPg", "wVf", "wEn", "clipValue"] as const) {
    if (!(o[k] >= 0 && Number.isFinite(o[k]))) {
      throw new RangeError(`${where}: ${k} must be >= 0, got ${o[k]}`);
    }
  }
}

/**
 * The loss of one minibatch with its gradients and TRL's metrics (float64).
 *
 * @example
 * ```ts
 * const r = ppoLoss({ sizes: [2], logp: [Math.log(0.6), Math.log(0.4)], targets: [0],
 *   oldLogp: [Math.log(0.5)], advantages: [1] },
 *   { clipLow: 0.8, clipHigh: 1.2, wPg: 1, wVf: 0, wEn: 0, clipValue: 0 });
 * r.loss; // −1.2: the ratio 1.2 is at the clip
 * ```
 */
export function ppoLoss(b: PolicyBatch, o: PolicyLossOptions): PolicyLossResult {
  validatePolicyLossOptions(o);
  const S = b.sizes.length, A = b.sizes.reduce((x, y) => x + y, 0);
  if (S === 0) throw new RangeError("ppoLoss: no decisions");
  if (b.logp.length !== A) throw new RangeError(`ppoLoss: logp has ${b.logp.length}, not ${A}`);
  for (const k of ["targets", "oldLogp", "advantages"] as const) {
    if (b[k].length !== S) throw new RangeError(`ppoLoss: ${k} has ${b[k].length}, not ${S}`);
  }
  const withValues = o.wVf > 0;
  if (withValues) {
    for (const k of ["values", "returns", "oldValues"] as const) {
      if (!b[k] || b[k]!.length !== S) throw new RangeError(`ppoLoss: ${k} needs ${S} values`);
    }
  }
  const dLogp = new Float64Array(A), dValues = withValues ? new Float64Array(S) : null;
  const stats = new Float64Array(S * POLICY_STATS_WIDTH);
  let off = 0;
  for (let s = 0; s < S; s++) {
    const n = b.sizes[s], t = b.targets[s];
    if (!Number.isInteger(t) || t < 0 || t >= n) {
      throw new RangeError(`ppoLoss: target ${t} of decision ${s} is not in [0, ${n})`);
    }
    const l = b.logp[off + t], adv = b.advantages[s];
    const logratio = l - b.oldLogp[s], z = Math.exp(logratio);
    const zc = Math.min(Math.max(z, o.clipLow), o.clipHigh);
    const pg1 = -adv * z, pg2 = -adv * zc;
    // The unclipped term is the min of the surrogates (the max of the losses): it carries the gradient.
    if (pg1 >= pg2) dLogp[off + t] += o.wPg * (-adv * z) / S;
    let ent = 0, plogp = 0;
    for (let a = 0; a < n; a++) {
      const la = b.logp[off + a], p = Math.exp(la);
      ent -= p * la;
      plogp += p * la;
      dLogp[off + a] += o.wEn * p * (la + 1) / A;
    }
    let vf = 0, vclipped = 0;
    if (withValues) {
      const v = b.values![s], ret = b.returns![s], old = b.oldValues![s];
      const vf1 = (v - ret) ** 2;
      let dv = 2 * (v - ret);
      vf = vf1;
      if (o.clipValue > 0) {
        const vc = old + Math.min(Math.max(v - old, -o.clipValue), o.clipValue);
        const vf2 = (vc - ret) ** 2;
        if (vf2 > vf1) {
          vf = vf2;
          vclipped = 1;
          dv = 0; // vc is constant in v outside the clip range
        }
      }
      dValues![s] = o.wVf * dv / S;
    }
    stats.set(
      [Math.max(pg1, pg2), pg2 > pg1 ? 1 : 0, logratio, z, ent, vf, vclipped, plogp],
      s * 8,
    );
    off += n;
  }
  const metrics = policyMetrics(stats, S, A);
  const loss = o.wPg * metrics["loss/policy_avg"] + o.wVf * metrics["loss/value_avg"] +
    o.wEn * metrics["loss/entropy"];
  return { loss, dLogp, dValues, stats, metrics: { loss, ...metrics } };
}

/**
 * TRL's metrics from per-decision statistics (S × 8) of a minibatch of S decisions with A valid
 * actions in all; several minibatches' statistics concatenated give their decision-weighted means
 * when `A` is their total.
 */
export function policyMetrics(
  stats: ArrayLike<number>,
  S: number,
  A: number,
): Record<string, number> {
  const sum = new Float64Array(POLICY_STATS_WIDTH);
  let kl = 0;
  for (let s = 0; s < S; s++) {
    for (let k = 0; k < POLICY_STATS_WIDTH; k++) sum[k] += stats[s * POLICY_STATS_WIDTH + k];
    kl += stats[s * POLICY_STATS_WIDTH + 2] ** 2;
  }
  return {
    "loss/policy_avg": sum[0] / S,
    "loss/value_avg": sum[5] / S,
    "policy/clipfrac_avg": sum[1] / S,
    "policy/approxkl_avg": 0.5 * kl / S,
    "policy/entropy_avg": sum[4] / S,
    "val/clipfrac_avg": sum[6] / S,
    "val/ratio": sum[3] / S,
    "loss/entropy": sum[7] / A,
  };
}
