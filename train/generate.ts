/**
 * Self-generated demonstrations (Feng 2024, §3.2): the reference agent, sampling, plays training
 * goals; trajectories that end with reward 1 are kept, with looped sub-trajectories pruned (a
 * return to an earlier state cuts out everything since that state), and written in WebShop's
 * il_trajs format, so `train:dpo --demos <file>` and `train:il --demos <file>` read them as they
 * read human demonstrations.
 *
 * @module
 */

import type { AgentPolicy } from "../agent/policy.ts";
import { rollout, type Trajectory } from "../agent/rollout.ts";
import { type Demonstration, emptyDemonstration } from "../env/demos.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";

/**
 * The steps of `steps` without loops: whenever a step's state equals the state of an earlier
 * kept step, the steps from that earlier one up to this one are cut, so the path goes straight
 * from the first visit of a state to what was finally done there.
 */
export function pruneLoops<T extends { state: string }>(steps: readonly T[]): T[] {
  const out: T[] = [];
  const at = new Map<string, number>();
  for (const s of steps) {
    const k = at.get(s.state);
    if (k !== undefined) {
      for (let i = k; i < out.length; i++) at.delete(out[i].state);
      out.length = k;
    }
    at.set(s.state, out.length);
    out.push(s);
  }
  return out;
}

/**
 * A kept trajectory in il_trajs form: `available_actions` as the agent saw them (clicks; `[]` on
 * search steps, whose `action_idxs` is −1 as in WebShop's file), rewards per step.
 */
export function trajectoryToDemo(t: Trajectory): Demonstration {
  const steps = pruneLoops(t.steps);
  const d = emptyDemonstration();
  steps.forEach((s, i) => {
    const search = s.action.startsWith("search[");
    d.states.push(s.state);
    d.available_actions.push(search ? [] : s.actions);
    d.action_idxs.push(search ? -1 : s.index);
    d.actions.push(s.envAction);
    d.actions_translate.push(s.action);
    d.images.push(0);
    d.rewards.push(i === steps.length - 1 ? t.reward : 0);
  });
  return d;
}

/** What {@linkcode generateTrajectories} kept and played. */
export interface Generated {
  kept: Demonstration[];
  played: number;
  /** Steps cut out of the kept trajectories as loops. */
  prunedSteps: number;
  seconds: number;
}

/**
 * Plays `goals` in turn (from `seed * 7919`, wrapping) with the sampling `policy`, two rounds of
 * the env count at a time, keeping the reward-1 trajectories (loops pruned) until `n` are kept
 * or `maxEpisodes` are played; `onRound` sees the count after each round.
 */
export async function generateTrajectories(
  envs: readonly WebShopEnv[],
  policy: AgentPolicy,
  goals: readonly number[],
  opts: {
    n: number;
    maxEpisodes: number;
    seed: number;
    onRound?: (g: Generated) => void;
  },
): Promise<Generated> {
  const out: Generated = { kept: [], played: 0, prunedSteps: 0, seconds: 0 };
  const t0 = performance.now();
  let cursor = opts.seed * 7919;
  while (out.kept.length < opts.n && out.played < opts.maxEpisodes) {
    const round = Math.min(envs.length * 2, opts.maxEpisodes - out.played);
    const batch = Array.from({ length: round }, () => goals[cursor++ % goals.length]);
    const trajs = await rollout(envs, policy, batch);
    out.played += trajs.length;
    for (const t of trajs) {
      if (t.reward !== 1 || out.kept.length >= opts.n) continue;
      out.prunedSteps += t.steps.length - pruneLoops(t.steps).length;
      out.kept.push(trajectoryToDemo(t));
    }
    out.seconds = (performance.now() - t0) / 1000;
    opts.onRound?.(out);
  }
  return out;
}
