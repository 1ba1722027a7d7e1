/**
 * The environment side of online RL trainers: the env settings and training goals they play,
 * and the wall-clock budget that lets DPO, PPO and LOOP be compared at equal time.
 *
 * @module
 */

import seedrandom from "seedrandom";
import type { SearchEngine, WebShopEnvConfig } from "../env/mod.ts";
import { permutation } from "./common.ts";

/** How a trainer makes its envs (one shared search index) and which goals it trains on. */
export interface RlEnvSetup {
  envConfig: Omit<WebShopEnvConfig, "catalog" | "seed"> & { catalog: SearchEngine };
  /** Goal indices of the training split. */
  trainGoals: readonly number[];
}

/**
 * A wall-clock budget in minutes (0: none), started when made. `exhausted()` is true once one
 * more unit of work as long as the longest so far (`lap`) would overrun it, so a trainer stops
 * in time and its final evaluation starts within the budget.
 */
export class TimeBudget {
  readonly minutes: number;
  readonly #t0 = performance.now();
  #longest = 0;

  constructor(minutes: number) {
    if (!(minutes >= 0 && Number.isFinite(minutes))) {
      throw new RangeError(`time budget must be >= 0 minutes, got ${minutes}`);
    }
    this.minutes = minutes;
  }

  /** Seconds since the start. */
  elapsed(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** Records one unit of work's duration in seconds. */
  lap(seconds: number): void {
    this.#longest = Math.max(this.#longest, seconds);
  }

  /** Whether another unit of work would end past the budget (never without a budget). */
  exhausted(): boolean {
    return this.minutes > 0 && this.elapsed() + this.#longest > 60 * this.minutes;
  }
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
