/**
 * Roll out a reference policy in the WebShop env and report WebShop's metrics.
 *
 *   deno task rollout --catalog synthetic --policy oracle --episodes 500 --split test
 *   deno task rollout --catalog ../shared/webshop --goals synthetic --policy random --json
 *
 * Prints the mean score x100 (WebShop's scale), the success rate (reward = 1), mean steps, env
 * steps/s and the reward mode; appends one JSON line per episode as it ends, then a summary line,
 * to runs/rollout/<time>-<policy>.jsonl (or --out).
 *
 * @module
 */

import { OraclePolicy, type Policy, RandomPolicy, runEpisode } from "../env/policies.ts";
import { describeLoad } from "../env/loaders.ts";
import { DEFAULT_REWARD_MODE, REWARD_MODES, type RewardMode } from "../env/reward.ts";
import { SearchEngine } from "../env/search.ts";
import { openCatalog } from "../env/catalog.ts";
import { GOAL_SPLITS, goalIndicesForSplit } from "../env/goals.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import {
  choiceFlag,
  CliError,
  intFlag,
  MAX_SYNTHETIC_PRODUCTS,
  openJsonLines,
  parseFlags,
  progressText,
  runMain,
} from "./_cli.ts";

const USAGE = `usage: deno task rollout [options]
  --catalog <c>        "synthetic" (default) or a WebShop data folder
  --products <n>       synthetic catalog size (default 1000, at most ${MAX_SYNTHETIC_PRODUCTS})
  --policy <p>         random (default) or oracle
  --episodes <n>       episodes, over the split's goals in order (default 100); more
                       episodes than goals replay goals, and say so
  --split <s>          test (default), eval, train or all
  --goals <g>          human (default) or synthetic goals
  --reward-mode <m>    webshop (default) or corrected
  --strict             fail on the first invalid record of a data folder
  --seed <s>           seed of the env and the random policy (default 0)
  --step-limit <n>     steps per episode (default 100, at most 10000)
  --observation <m>    text_rich (default), text or url
  --human-queries      search candidates from goal_query_map.json when the catalog has one
  --json               print the summary as one JSON object
  --out <file>         episodes file, appended to (default runs/rollout/<time>-<policy>.jsonl;
                       the task may write only under runs/)
  --debug              stack traces on errors
  --help               this text`;

function intArg(name: string, v: string | undefined, dflt: number, min: number, max?: number) {
  return intFlag("rollout", USAGE, name, v, dflt, min, max);
}

function oneOf<T extends string>(name: string, v: string | undefined, dflt: T, allowed: T[]): T {
  return choiceFlag("rollout", USAGE, name, v, dflt, allowed);
}

async function main(): Promise<void> {
  const v = parseFlags("rollout", USAGE, {
    catalog: { type: "string" },
    products: { type: "string" },
    policy: { type: "string" },
    episodes: { type: "string" },
    split: { type: "string" },
    goals: { type: "string" },
    "reward-mode": { type: "string" },
    seed: { type: "string" },
    "step-limit": { type: "string" },
    observation: { type: "string" },
    "human-queries": { type: "boolean" },
    json: { type: "boolean" },
    strict: { type: "boolean" },
    out: { type: "string" },
  });
  if (!v) return;
  const source = v.catalog ?? "synthetic";
  const numProducts = intArg("products", v.products, 1000, 1, MAX_SYNTHETIC_PRODUCTS);
  const policyName = oneOf("policy", v.policy, "random", ["random", "oracle"]);
  const episodes = intArg("episodes", v.episodes, 100, 1);
  const split = oneOf("split", v.split, "test", [...GOAL_SPLITS]);
  const goalKind = oneOf("goals", v.goals, "human", ["human", "synthetic"]);
  const rewardMode = oneOf<RewardMode>("reward-mode", v["reward-mode"], DEFAULT_REWARD_MODE, [
    ...REWARD_MODES,
  ]);
  const seed = intArg("seed", v.seed, 0, 0);
  // Each episode keeps its actions: a huge limit with the random policy would exhaust memory.
  const stepLimit = intArg("step-limit", v["step-limit"], 100, 1, 10_000);
  const observationMode = oneOf("observation", v.observation, "text_rich", [
    "text_rich",
    "text",
    "url",
  ]);

  const t0 = performance.now();
  const catalog = await openCatalog(source, { numProducts, goals: goalKind, strict: v.strict });
  const loadMs = performance.now() - t0;
  if (catalog.goals.length === 0) {
    throw new CliError(
      `${describeLoad(catalog.stats)}, but no ${goalKind} goals (human goals need ` +
        "items_human_ins.json; synthetic goals need instructions in items_ins_v2*.json)",
      source,
    );
  }
  const engine = new SearchEngine(catalog.products);
  const env = new WebShopEnv({
    catalog: engine,
    goals: catalog.goals,
    split,
    observationMode,
    stepLimit,
    seed,
    rewardMode,
    goalQueryMap: v["human-queries"] ? catalog.goalQueryMap : null,
  });
  const policy: Policy = policyName === "oracle" ? new OraclePolicy() : new RandomPolicy(seed);
  const indices = goalIndicesForSplit(catalog.goals.length, split);
  if (indices.length === 0) {
    throw new CliError(`the ${split} split of ${catalog.goals.length} goals is empty`, source);
  }
  const distinctGoals = Math.min(episodes, indices.length);
  // Stderr, so --json leaves stdout one JSON object.
  console.error(
    `catalog ${catalog.source}: ${describeLoad(catalog.stats)}; ${catalog.goals.length} ` +
      `${catalog.goalKind} goals (${indices.length} in ${split}); loaded in ` +
      `${(loadMs / 1000).toFixed(1)} s, indexed in ${(engine.indexMs / 1000).toFixed(1)} s`,
  );
  if (episodes > indices.length) {
    console.error(
      `rollout: note: ${episodes} episodes over the ${indices.length} ${split} goals: ` +
        `${episodes - indices.length} episodes replay goals (in order from the first)`,
    );
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const path = v.out ?? `runs/rollout/${stamp}-${policyName}.jsonl`;
  // Each episode is appended as it ends: a stopped run keeps what it played.
  const out = openJsonLines(path);
  let sum = 0, successes = 0, steps = 0, bought = 0, envMs = 0;
  const tRun = performance.now();
  for (let e = 0; e < episodes; e++) {
    const tEp = performance.now();
    const r = runEpisode(env, policy, indices[e % indices.length]);
    envMs += performance.now() - tEp;
    sum += r.reward;
    if (r.reward === 1) successes++;
    if (r.bought) bought++;
    steps += r.steps;
    out.write({
      episode: e,
      goal: r.goalIndex,
      reward: r.reward,
      steps: r.steps,
      bought: r.bought,
      actions: r.actions,
      rewardInfo: r.rewardInfo,
    });
    if (!v.json && (e + 1) % Math.max(1, Math.floor(episodes / 10)) === 0 && e + 1 < episodes) {
      console.log(
        `  episodes ${progressText(e + 1, episodes, tRun)}, score ${
          (100 * sum / (e + 1)).toFixed(2)
        }`,
      );
    }
  }
  const runS = envMs / 1000;
  const summary = {
    kind: "summary",
    catalog: catalog.source,
    products: catalog.products.length,
    goals: catalog.goalKind,
    split,
    policy: policyName,
    episodes,
    distinctGoals,
    rewardMode,
    seed,
    stepLimit,
    observationMode,
    score: 100 * sum / episodes,
    successRate: successes / episodes,
    boughtRate: bought / episodes,
    meanSteps: steps / episodes,
    stepsPerSecond: steps / runS,
    loadSeconds: loadMs / 1000,
    indexSeconds: engine.indexMs / 1000,
  };
  out.write(summary);
  out.close();
  if (v.json) {
    console.log(JSON.stringify({ ...summary, file: path }));
    return;
  }
  console.log(
    `${policyName} on ${episodes} ${split} episodes (reward mode ${rewardMode}): ` +
      `score ${summary.score.toFixed(2)}, success ${(100 * summary.successRate).toFixed(1)}%, ` +
      `mean steps ${summary.meanSteps.toFixed(2)}, ${
        summary.stepsPerSecond.toFixed(0)
      } env steps/s`,
  );
  console.log(`episodes written to ${path}`);
}

if (import.meta.main) await runMain("rollout", main);
