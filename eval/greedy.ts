/**
 * WebShop's standard evaluation: every goal of a list played once by a policy (greedy actions
 * for a model), reported as WebShop reports it: mean score ×100, success rate (reward = 1), mean
 * steps, and the per-goal outcomes that paired comparisons need.
 *
 * @module
 */

import type { AgentPolicy } from "../agent/policy.ts";
import { rollout, type Trajectory } from "../agent/rollout.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";

/** Outcomes of one evaluation. */
export interface EvalResult {
  policy: string;
  episodes: number;
  /** Mean reward ×100. */
  score: number;
  /** Share of episodes with reward 1. */
  successRate: number;
  meanSteps: number;
  /** Reward per goal, in the order of the goals. */
  rewards: number[];
  goals: number[];
  seconds: number;
}

/** Plays every goal once with `policy` on `envs` (all at once, up to the env count). */
export async function evaluate(
  envs: readonly WebShopEnv[],
  policy: AgentPolicy,
  goals: readonly number[],
  opts: { onEpisode?: (t: Trajectory, done: number, total: number) => void } = {},
): Promise<EvalResult> {
  const t0 = performance.now();
  const trajs = await rollout(envs, policy, goals, { onEpisode: opts.onEpisode });
  return summarize(policy.name, trajs, (performance.now() - t0) / 1000);
}

/** The summary of finished trajectories. */
export function summarize(name: string, trajs: readonly Trajectory[], seconds = 0): EvalResult {
  const n = trajs.length;
  const rewards = trajs.map((t) => t.reward);
  const sum = rewards.reduce((a, b) => a + b, 0);
  return {
    policy: name,
    episodes: n,
    score: n ? 100 * sum / n : 0,
    successRate: n ? rewards.filter((r) => r === 1).length / n : 0,
    meanSteps: n ? trajs.reduce((a, t) => a + t.steps.length, 0) / n : 0,
    rewards,
    goals: trajs.map((t) => t.goalIndex),
    seconds,
  };
}
