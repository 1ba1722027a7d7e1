/**
 * Reference policies for the WebShop env: `RandomPolicy` (uniform over the agent-facing valid
 * actions; the floor any learner must beat) and `OraclePolicy` (knows the goal's product and
 * options; the ceiling the env and reward allow), plus `runEpisode` to roll one out.
 *
 * @module
 */

import seedrandom from "seedrandom";
import type { RewardInfo } from "./reward.ts";
import { PRODUCT_WINDOW } from "./search.ts";
import type { WebShopEnv } from "./webshop_env.ts";

/** A policy maps the env's current state to an action string. */
export interface Policy {
  readonly name: string;
  /** Called after each `env.reset()`. */
  reset(env: WebShopEnv): void;
  /** The next action. */
  act(env: WebShopEnv): string;
}

/** Uniform choice among `env.validActions()`, from a seeded generator. */
export class RandomPolicy implements Policy {
  readonly name = "random";
  readonly #rng: () => number;

  constructor(seed = 0) {
    this.#rng = seedrandom.alea(`random-policy:${seed}`);
  }

  reset(_env: WebShopEnv): void {}

  act(env: WebShopEnv): string {
    const valid = env.validActions();
    return valid[Math.floor(this.#rng() * valid.length)];
  }
}

/** Settings of {@linkcode OraclePolicy}. */
export interface OraclePolicyOptions {
  /** Results pages to look through per search (default 5, all 50 results). */
  maxPages?: number;
}

/**
 * Knows the goal's ASIN and options. Searches the product's name, looks through up to 5 results
 * pages (Next >) for the ASIN, and failing that goes back and searches the goal's query, then
 * the instruction; opens the product, clicks each goal option, buys. When the product is never
 * found it buys the first result of its last search, so every episode ends with a purchase.
 */
export class OraclePolicy implements Policy {
  readonly name = "oracle";
  readonly maxPages: number;
  #queries: string[] = [];
  #queryIndex = 0;
  #giveUp = false;
  // Option values already clicked: a value offered under two option names is only ever set
  // under the later one (WebShop keys radios by value), so retrying it would loop forever.
  #tried = new Set<string>();

  constructor(options: OraclePolicyOptions = {}) {
    this.maxPages = options.maxPages ?? 5;
  }

  reset(env: WebShopEnv): void {
    const g = env.goal;
    const queries = [g.name.toLowerCase(), g.query.toLowerCase(), g.instruction_text.toLowerCase()];
    this.#queries = queries.filter((q, i) => q.trim() !== "" && queries.indexOf(q) === i);
    this.#queryIndex = 0;
    this.#giveUp = false;
    this.#tried.clear();
  }

  act(env: WebShopEnv): string {
    const page = env.page;
    const goal = env.goal;
    const target = goal.asin.toLowerCase();
    const clickables = new Set(env.availableActions().clickables);
    switch (page.kind) {
      case "search": {
        const q = this.#queries[Math.min(this.#queryIndex, this.#queries.length - 1)];
        this.#queryIndex++;
        return `search[${q}]`;
      }
      case "results": {
        if (clickables.has(target)) return `click[${target}]`;
        const morePages = page.results.length > page.page * PRODUCT_WINDOW;
        if (!this.#giveUp && page.page < this.maxPages && morePages) return "click[next >]";
        if (!this.#giveUp && this.#queryIndex < this.#queries.length) {
          return "click[back to search]";
        }
        // Not found by any query: settle for the best-ranked product of the last search.
        this.#giveUp = true;
        if (page.page > 1) return "click[< prev]";
        const first = page.results[0];
        if (first) return `click[${first.asin.toLowerCase()}]`;
        return "click[back to search]";
      }
      case "item": {
        if (page.product.asin.toLowerCase() === target) {
          const chosen = env.chosenOptions;
          for (const [name, value] of goalOptionPairs(goal.goal_options)) {
            const done = name === null
              ? Object.values(chosen).includes(value)
              : chosen[name] === value;
            if (!done && clickables.has(value) && !this.#tried.has(value)) {
              this.#tried.add(value);
              return `click[${value}]`;
            }
          }
        }
        return "click[buy now]";
      }
      case "sub":
        return "click[< prev]";
      case "done":
        return "finish";
    }
  }
}

/** Goal options as (name or null, value) pairs: synthetic goals name them, human goals do not. */
function goalOptionPairs(
  goalOptions: readonly string[] | Readonly<Record<string, string>>,
): [string | null, string][] {
  if (Array.isArray(goalOptions)) return goalOptions.map((v) => [null, String(v).toLowerCase()]);
  return Object.entries(goalOptions as Record<string, string>).map(([k, v]) => [
    k.toLowerCase(),
    String(v).toLowerCase(),
  ]);
}

/** One finished episode. */
export interface EpisodeResult {
  goalIndex: number;
  /** Final reward in [0, 1] (0 when the step limit ended it). */
  reward: number;
  steps: number;
  /** Whether Buy Now was clicked. */
  bought: boolean;
  actions: string[];
  rewardInfo?: RewardInfo;
}

/**
 * Runs one episode of `policy` on `env` (goal `goalIndex`, or one sampled from the split).
 *
 * @example
 * ```ts
 * const r = runEpisode(env, new OraclePolicy(), 0);
 * console.log(r.reward, r.steps);
 * ```
 */
export function runEpisode(env: WebShopEnv, policy: Policy, goalIndex?: number): EpisodeResult {
  env.reset(goalIndex);
  policy.reset(env);
  const actions: string[] = [];
  let reward = 0;
  let rewardInfo: RewardInfo | undefined;
  for (;;) {
    const a = policy.act(env);
    actions.push(a);
    const r = env.step(a);
    if (r.done) {
      reward = r.reward;
      rewardInfo = r.info.rewardInfo;
      break;
    }
  }
  return {
    goalIndex: env.goalIndex,
    reward,
    steps: env.steps,
    bought: rewardInfo !== undefined,
    actions,
    rewardInfo,
  };
}
