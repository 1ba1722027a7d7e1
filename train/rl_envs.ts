/**
 * The environment side of online RL trainers: the env settings and training goals they play,
 * and what a run of one reports.
 *
 * @module
 */

import seedrandom from "seedrandom";
import type { SearchEngine, WebShopEnvConfig } from "../env/mod.ts";
import { permutation } from "./common.ts";
import type { IlExample } from "./il_data.ts";

/** How a trainer makes its envs (one shared search index) and which goals it trains on. */
export interface RlEnvSetup {
  envConfig: Omit<WebShopEnvConfig, "catalog" | "seed"> & { catalog: SearchEngine };
  /** Goal indices of the training split. */
  trainGoals: readonly number[];
  /** The training demonstrations' decisions, for PPO's imitation term (w_il > 0). */
  demos?: readonly IlExample[];
}

/** What a PPO or LOOP run did. */
export interface RlOutcome {
  steps: number;
  interrupted: boolean;
  /** Stopped by the time budget before `steps`. */
  budgetReached: boolean;
  checkpoint: string;
  evals: Record<string, number>[];
  /** Metrics of each iteration run here. */
  history: Record<string, number>[];
  seconds: number;
}

/**
 * Goal `p` (0-based) of a stream of seeded passes over `goals` (each pass a permutation seeded
 * by `key` and the pass number): every goal once per pass, and goal p depends only on (key, p).
 */
export function goalStream(
  goals: readonly number[],
  key: string,
  from: number,
  n: number,
): number[] {
  const out: number[] = [];
  let pass = -1, perm: number[] = [];
  for (let p = from; p < from + n; p++) {
    const e = Math.floor(p / goals.length);
    if (e !== pass) {
      pass = e;
      perm = permutation(goals.length, seedrandom.alea(`${key}:${e}`));
    }
    out.push(goals[perm[p % goals.length]]);
  }
  return out;
}
