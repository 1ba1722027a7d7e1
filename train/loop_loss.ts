/**
 * LOOP's pieces (Chen et al. 2025, "Reinforcement Learning for Long-Horizon Interactive LLM
 * Agents", arXiv 2502.01600, §3): the leave-one-out advantage of K rollouts of one goal,
 * A_k = R_k − mean_{i≠k} R_i = K/(K−1)·(R_k − mean R), the filter that drops rollouts with
 * |A| below a threshold (they carry almost no signal and cost a forward and backward), and the
 * asymmetric ratio clip [1/(1+ε), 1+ε]. The loss itself is PPO's clipped objective
 * (`train/ppo_loss.ts`) with these bounds, every turn of a rollout taking its rollout's advantage,
 * and no value or entropy term.
 *
 * @module
 */

/**
 * Leave-one-out advantages of one goal's K ≥ 2 rollout rewards. With `normalize` they are
 * divided by the group's standard deviation (unbiased, + 1e-4 as TRL's GRPO), the variant LOOP
 * compares with; the paper's default is off.
 *
 * @example
 * ```ts
 * leaveOneOutAdvantages([1, 0, 0, 0]); // [1, −1/3, −1/3, −1/3]
 * ```
 */
export function leaveOneOutAdvantages(rewards: readonly number[], normalize = false): number[] {
  const K = rewards.length;
  if (K < 2) throw new RangeError(`leaveOneOutAdvantages: needs K >= 2 rollouts, got ${K}`);
  for (const [i, r] of rewards.entries()) {
    if (!Number.isFinite(r)) throw new RangeError(`leaveOneOutAdvantages: reward ${i} is ${r}`);
  }
  const sum = rewards.reduce((a, b) => a + b, 0), mean = sum / K;
  const adv = rewards.map((r) => r - (sum - r) / (K - 1));
  if (!normalize) return adv;
  const sd = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / (K - 1));
  return adv.map((a) => a / (sd + 1e-4));
}

/** Indices of the advantages with |A| ≥ `minAbs` (LOOP keeps rollouts with |A| ≥ 0.01). */
export function keptRollouts(advantages: readonly number[], minAbs: number): number[] {
  const out: number[] = [];
  advantages.forEach((a, i) => {
    if (Math.abs(a) >= minAbs) out.push(i);
  });
  return out;
}

/** LOOP's per-action ratio clip bounds [1/(1+ε), 1+ε]. */
export function loopClipBounds(epsilon: number): { clipLow: number; clipHigh: number } {
  if (!(epsilon > 0 && Number.isFinite(epsilon))) {
    throw new RangeError(`loopClipBounds: epsilon must be positive, got ${epsilon}`);
  }
  return { clipLow: 1 / (1 + epsilon), clipHigh: 1 + epsilon };
}
