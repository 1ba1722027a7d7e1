/**
 * Self-generated demonstrations (Feng 2024, §3.2): the reference agent, sampling, plays training
 * goals; trajectories that end with reward 1 are kept, with looped sub-trajectories pruned (a
 * return to an earlier state cuts out everything since that state), and written in WebShop's
 * il_trajs format, so `train:dpo --demos <file>` and `train:il --demos <file>` read them as they
 * read human demonstrations.
 *
 * @module
 */

import type { Trajectory } from "../agent/rollout.ts";
import { type Demonstration, emptyDemonstration } from "../env/demos.ts";

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
