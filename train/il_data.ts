/**
 * Imitation examples from il_trajs demonstrations, as WebShop's train_choice_il.py `get_data`
 * builds them: one example per demonstrated click (state, valid actions, index of the taken
 * action); lists longer than 20 are cut to the first 6, 10 sampled from the rest and the
 * demonstrated action, in their original order. Demonstrations are split by their goal's index
 * in `human_goals.json` (test 0–499, eval 500–1499, train the rest; proportional bounds for
 * smaller goal sets, env/goals.ts `splitGoals`).
 *
 * Search steps (`action_idxs` −1) are skipped by default, as WebShop does (its search queries
 * come from a separate generator). With `searchSteps: "choose"` a search step becomes a choice
 * among the env's search candidates (goal_query_map queries and the instruction, env/actions.ts
 * `searchTexts`) when the demonstrated query is one of them; otherwise it is skipped and counted.
 *
 * @module
 */

import seedrandom from "seedrandom";
import { normalizeGoalQueryMap, sampleWithoutReplacement, searchTexts } from "../env/actions.ts";
import { demoGoalIndices } from "../env/goals.ts";
import type { Goal, RawIlTrajectory } from "../env/types.ts";

/** One imitation example. */
export interface IlExample {
  state: string;
  actions: string[];
  /** Index of the demonstrated action in `actions`. */
  target: number;
  /** Index of the demonstration it came from (in the list given). */
  demo: number;
  /** Goal index of the demonstration. */
  goalIndex: number;
}

/** How search steps enter the data. */
export type SearchStepMode = "skip" | "choose";

/** The goals a set of demonstrations is matched against. */
export interface DemoGoals {
  goals: readonly Goal[];
  /** `human_goals.json` order (entry i is goal i), when the data has it. */
  humanGoals?: readonly string[];
  goalQueryMap?: Readonly<Record<string, readonly string[]>> | null;
}

/** Options of {@linkcode ilExamples}. */
export interface IlExampleOptions {
  searchSteps: SearchStepMode;
  /** Seed of the action-list cut (WebShop seeds Python's random with 233). */
  seed: number;
  /** Keep only demonstrations whose goal is in [lo, hi). */
  goalRange?: [number, number];
}

/** What {@linkcode ilExamples} kept and why it left the rest. */
export interface IlExampleSet {
  examples: IlExample[];
  /** Demonstrations used. */
  demos: number;
  /** Demonstrations whose instruction matched no goal. */
  unmatched: number;
  /** Search steps skipped (mode skip, or the query was not a candidate). */
  searchSkipped: number;
  /** Decision lists cut from over 20 actions. */
  reduced: number;
}

/** The imitation examples of `trajs` (see the module doc). */
export function ilExamples(
  trajs: readonly RawIlTrajectory[],
  data: DemoGoals,
  opts: IlExampleOptions,
): IlExampleSet {
  const rng = seedrandom.alea(`il-data:${opts.seed}`);
  const goalIdx = demoGoalIndices(trajs, data);
  const gq = data.goalQueryMap ? normalizeGoalQueryMap(data.goalQueryMap) : null;
  const out: IlExampleSet = { examples: [], demos: 0, unmatched: 0, searchSkipped: 0, reduced: 0 };
  trajs.forEach((t, d) => {
    const g = goalIdx[d];
    if (g < 0) {
      out.unmatched++;
      return;
    }
    if (opts.goalRange && (g < opts.goalRange[0] || g >= opts.goalRange[1])) return;
    out.demos++;
    t.states.forEach((state, s) => {
      let idx = t.action_idxs[s];
      let valid = t.available_actions[s];
      if (idx === -1) {
        const taken = t.actions?.[s];
        if (opts.searchSteps === "skip" || taken === undefined || g >= data.goals.length) {
          out.searchSkipped++;
          return;
        }
        valid = searchTexts(data.goals[g], gq).map((q) => `search[${q}]`);
        idx = valid.indexOf(taken);
        if (idx < 0) {
          out.searchSkipped++;
          return;
        }
      }
      if (valid.length > 20) {
        out.reduced++;
        const keep = [
          ...Array.from({ length: 6 }, (_, i) => i),
          ...sampleWithoutReplacement(
            Array.from({ length: valid.length - 6 }, (_, i) => i + 6),
            10,
            rng,
          ),
        ];
        if (!keep.includes(idx)) keep.push(idx);
        keep.sort((a, b) => a - b);
        valid = keep.map((i) => valid[i]);
        idx = keep.indexOf(idx);
      }
      out.examples.push({ state, actions: [...valid], target: idx, demo: d, goalIndex: g });
    });
  });
  return out;
}
