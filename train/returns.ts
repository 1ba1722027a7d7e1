/**
 * Returns and advantages of a rollout of N parallel envs over T steps (time-major: x[t][n]),
 * with episode ends inside it, and TRL's advantage whitening.
 *
 * WebShop's `discount_reward` (baseline_models/agent.py): R_T = V(s_T) (the bootstrap from the
 * value head at the state after the rollout), R_t = r_t + γ·R_{t+1}·(1 − done_t), advantage
 * A_t = R_t − V(s_t). GAE(λ) (Schulman et al. 2016): δ_t = r_t + γ·V_{t+1}·(1 − done_t) − V_t,
 * A_t = δ_t + γλ·(1 − done_t)·A_{t+1}, R_t = A_t + V_t. With λ = 1 GAE equals WebShop's form
 * (the sum of the δ telescopes), so one function serves both; `done_t` means step t ended its
 * episode (no bootstrap through it).
 *
 * @module
 */

/** Per step and env: rewards, value estimates and episode ends (T × N), and V after the last step (N). */
export interface RolloutRewards {
  rewards: readonly (readonly number[])[];
  values: readonly (readonly number[])[];
  dones: readonly (readonly boolean[])[];
  lastValues: readonly number[];
}

/** Returns R and advantages A (T × N). */
export interface ReturnsAndAdvantages {
  returns: number[][];
  advantages: number[][];
}

/**
 * GAE(λ) advantages and returns R = A + V; λ = 1 gives WebShop's discounted returns bootstrapped
 * from the value head and A = R − V.
 *
 * @example
 * ```ts
 * const { returns } = gae({ rewards: [[0], [1]], values: [[0], [0]], dones: [[false], [true]],
 *   lastValues: [5] }, 0.9, 1);
 * returns; // [[0.9], [1]]: the episode ended at step 1, so V = 5 is not used
 * ```
 */
export function gae(r: RolloutRewards, gamma: number, lambda: number): ReturnsAndAdvantages {
  const T = r.rewards.length, N = r.lastValues.length;
  if (!(gamma >= 0 && gamma <= 1)) {
    throw new RangeError(`gae: gamma must be in [0, 1], got ${gamma}`);
  }
  if (!(lambda >= 0 && lambda <= 1)) {
    throw new RangeError(`gae: lambda must be in [0, 1], got ${lambda}`);
  }
  if (r.values.length !== T || r.dones.length !== T) {
    throw new RangeError(
      `gae: ${T} reward rows, ${r.values.length} value rows, ${r.dones.length} done rows`,
    );
  }
  for (let t = 0; t < T; t++) {
    for (
      const [k, row] of [["rewards", r.rewards[t]], ["values", r.values[t]], [
        "dones",
        r.dones[t],
      ]] as const
    ) {
      if (row.length !== N) {
        throw new RangeError(`gae: ${k}[${t}] has ${row.length} envs, not ${N}`);
      }
    }
  }
  const advantages = Array.from({ length: T }, () => new Array<number>(N).fill(0));
  const returns = Array.from({ length: T }, () => new Array<number>(N).fill(0));
  for (let n = 0; n < N; n++) {
    let next = r.lastValues[n], acc = 0;
    for (let t = T - 1; t >= 0; t--) {
      const keep = r.dones[t][n] ? 0 : 1;
      const delta = r.rewards[t][n] + gamma * next * keep - r.values[t][n];
      acc = delta + gamma * lambda * keep * acc;
      advantages[t][n] = acc;
      returns[t][n] = acc + r.values[t][n];
      next = r.values[t][n];
    }
  }
  return { returns, advantages };
}

/**
 * TRL's `masked_whiten`: (x − mean)·(var + 1e-8)^−½ with the unbiased variance; `shiftMean` false
 * adds the mean back. Fewer than two values are returned centred only (no variance to divide by).
 */
export function whiten(xs: ArrayLike<number>, shiftMean = true): Float64Array {
  const n = xs.length, out = new Float64Array(n);
  if (n === 0) return out;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += xs[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i] - mean) ** 2;
  const scale = n > 1 ? 1 / Math.sqrt(v / (n - 1) + 1e-8) : 1;
  for (let i = 0; i < n; i++) out[i] = (xs[i] - mean) * scale + (shiftMean ? 0 : mean);
  return out;
}
