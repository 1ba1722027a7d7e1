/**
 * Roll out a reference policy in the WebShop env and report WebShop's metrics.
 *
 *   deno task rollout --catalog synthetic --policy oracle --episodes 500 --split test
 *   deno task rollout --catalog ../shared/webshop --goals synthetic --policy random --json
 *
 * Prints the mean score x100 (WebShop's scale), the success rate (reward = 1), mean steps, env
 * steps/s and the reward mode; writes one JSON line per episode plus a summary line to
 * runs/rollout/<time>-<policy>.jsonl.
 *
 * @module
 */

import { OraclePolicy, type Policy, RandomPolicy, runEpisode } from "../env/policies.ts";
import type { RewardMode } from "../env/reward.ts";
import { SearchEngine } from "../env/search.ts";
import { openCatalog } from "../env/synthetic.ts";
import { goalIndicesForSplit, type GoalSplit, WebShopEnv } from "../env/webshop_env.ts";
import { intFlag, parseFlags, usageError } from "./_cli.ts";

const USAGE = `usage: deno task rollout [options]
  --catalog <c>        "synthetic" (default) or a WebShop data folder
  --products <n>       synthetic catalog size (default 1000)
  --policy <p>         random (default) or oracle
  --episodes <n>       episodes, over the split's goals in order (default 100)
  --split <s>          test (default), eval, train or all
  --goals <g>          human (default) or synthetic goals
  --reward-mode <m>    webshop (default) or corrected
  --seed <s>           seed of the env and the random policy (default 0)
  --step-limit <n>     steps per episode (default 100)
  --observation <m>    text_rich (default), text or url
  --human-queries      search candidates from goal_query_map.json when the catalog has one
  --json               print the summary as one JSON object
  --help               this text`;

function fail(msg: string): never {
  return usageError("rollout", USAGE, msg);
}

function intArg(name: string, v: string | undefined, dflt: number, min: number) {
  return intFlag("rollout", USAGE, name, v, dflt, min);
}

function oneOf<T extends string>(name: string, v: string | undefined, dflt: T, allowed: T[]): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) fail(`--${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
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
  });
  if (!v) return;
  const source = v.catalog ?? "synthetic";
  const numProducts = intArg("products", v.products, 1000, 1);
  const policyName = oneOf("policy", v.policy, "random", ["random", "oracle"]);
  const episodes = intArg("episodes", v.episodes, 100, 1);
  const split = oneOf<GoalSplit>("split", v.split, "test", ["test", "eval", "train", "all"]);
  const goalKind = oneOf("goals", v.goals, "human", ["human", "synthetic"]);
  const rewardMode = oneOf<RewardMode>("reward-mode", v["reward-mode"], "webshop", [
    "webshop",
    "corrected",
  ]);
  const seed = intArg("seed", v.seed, 0, 0);
  const stepLimit = intArg("step-limit", v["step-limit"], 100, 1);
  const observationMode = oneOf("observation", v.observation, "text_rich", [
    "text_rich",
    "text",
    "url",
  ]);

  const t0 = performance.now();
  const catalog = await openCatalog(source, { numProducts, goals: goalKind });
  const loadMs = performance.now() - t0;
  if (catalog.goals.length === 0) {
    fail(
      `${source} gives no ${goalKind} goals (human goals need items_human_ins.json; synthetic ` +
        "goals need instructions in items_ins_v2*.json)",
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
  if (!v.json) {
    console.log(
      `catalog ${catalog.source}: ${catalog.products.length} products, ${catalog.goals.length} ` +
        `${catalog.goalKind} goals (${indices.length} in ${split}); loaded in ` +
        `${(loadMs / 1000).toFixed(1)} s, indexed in ${(engine.indexMs / 1000).toFixed(1)} s`,
    );
  }

  await Deno.mkdir("runs/rollout", { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const path = `runs/rollout/${stamp}-${policyName}.jsonl`;
  const lines: string[] = [];
  let sum = 0, successes = 0, steps = 0, bought = 0;
  const tRun = performance.now();
  for (let e = 0; e < episodes; e++) {
    const r = runEpisode(env, policy, indices[e % indices.length]);
    sum += r.reward;
    if (r.reward === 1) successes++;
    if (r.bought) bought++;
    steps += r.steps;
    lines.push(JSON.stringify({
      episode: e,
      goal: r.goalIndex,
      reward: r.reward,
      steps: r.steps,
      bought: r.bought,
      actions: r.actions,
      rewardInfo: r.rewardInfo,
    }));
    if (!v.json && (e + 1) % Math.max(1, Math.floor(episodes / 10)) === 0 && e + 1 < episodes) {
      console.log(`  ${e + 1}/${episodes} episodes, score ${(100 * sum / (e + 1)).toFixed(2)}`);
    }
  }
  const runS = (performance.now() - tRun) / 1000;
  const summary = {
    kind: "summary",
    catalog: catalog.source,
    products: catalog.products.length,
    goals: catalog.goalKind,
    split,
    policy: policyName,
    episodes,
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
  lines.push(JSON.stringify(summary));
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
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

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`rollout: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
