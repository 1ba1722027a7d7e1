/**
 * Writes a seeded synthetic WebShop catalog in WebShop's own files, so the data can be inspected
 * and the file loaders exercised end to end, optionally with expert demonstrations:
 *
 *   deno task make:synthetic --out data/synthetic --products 1000 --seed 0 [--demos 500]
 *
 * Files: items_shuffle_1000.json (items_shuffle.json for other sizes), items_ins_v2_1000.json
 * (items_ins_v2.json), items_human_ins.json, human_goals.json, goal_query_map.json and, with
 * --demos, il_trajs_synthetic.jsonl. Each is written to a temporary file and renamed.
 *
 * @module
 */

import seedrandom from "seedrandom";
import { generateDemonstrations, writeDemonstrations } from "../env/demos.ts";
import { ExpertPolicy } from "../env/expert.ts";
import {
  catalogFromSynthetic,
  generateSyntheticCatalog,
  writeSyntheticCatalog,
} from "../env/synthetic.ts";
import { goalIndicesForSplit, type GoalSplit, WebShopEnv } from "../env/webshop_env.ts";
import { intFlag, parseFlags, usageError } from "./_cli.ts";

const USAGE = `usage: deno task make:synthetic --out <dir> [options]
  --out <dir>            folder to write (created if missing)
  --products <n>         product records, lookalikes included (default 1000)
  --seed <s>             generator seed (default 0)
  --goals <n>            human-style instructions (default 2 x products, at most 12087)
  --demos <k>            also write k expert demonstrations to il_trajs_synthetic.jsonl
  --demo-split <split>   goals the demonstrations come from: all, train, eval, test (default all)
  --demo-seed <s>        seed of the expert and of the goal draw (default 0)
  --reward-mode <m>      reward recorded in the demonstrations: corrected or webshop
                         (default corrected)
  --help                 this text`;

function fail(msg: string): never {
  return usageError("make:synthetic", USAGE, msg);
}

function intArg(name: string, v: string | undefined, dflt: number | undefined, min = 0) {
  return intFlag("make:synthetic", USAGE, name, v, dflt, min);
}

async function main(): Promise<void> {
  const args = parseFlags("make:synthetic", USAGE, {
    out: { type: "string" },
    products: { type: "string" },
    seed: { type: "string" },
    goals: { type: "string" },
    demos: { type: "string" },
    "demo-split": { type: "string", default: "all" },
    "demo-seed": { type: "string" },
    "reward-mode": { type: "string", default: "corrected" },
  });
  if (!args) return;
  if (!args.out) fail("--out is required");
  const numProducts = intArg("products", args.products, 1000, 1)!;
  const seed = intArg("seed", args.seed, 0)!;
  const numHumanGoals = intArg("goals", args.goals, undefined);
  const numDemos = intArg("demos", args.demos, 0)!;
  const demoSeed = intArg("demo-seed", args["demo-seed"], 0)!;
  const split = args["demo-split"] as GoalSplit;
  if (!["all", "train", "eval", "test"].includes(split)) {
    fail(`--demo-split must be all, train, eval or test, got "${split}"`);
  }
  const rewardMode = args["reward-mode"];
  if (rewardMode !== "corrected" && rewardMode !== "webshop") {
    fail(`--reward-mode must be corrected or webshop, got "${rewardMode}"`);
  }

  let t0 = performance.now();
  const raw = generateSyntheticCatalog({ numProducts, seed, numHumanGoals });
  console.error(
    `generated ${raw.products.length} products (${raw.lookalikes.length} lookalikes), ` +
      `${raw.humanGoals.length} goals in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  t0 = performance.now();
  const sizes = await writeSyntheticCatalog(args.out, raw);
  const summary: Record<string, unknown> = {
    out: args.out,
    products: raw.products.length,
    lookalikes: raw.lookalikes.length,
    goals: raw.humanGoals.length,
    files: sizes,
  };
  console.error(
    `wrote ${Object.keys(sizes).join(", ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  if (numDemos > 0) {
    // Cleaning and goal building are only needed to play episodes.
    const cat = catalogFromSynthetic(raw);
    const env = new WebShopEnv({ catalog: cat.products, goals: cat.goals, rewardMode });
    const pool = goalIndicesForSplit(cat.goals.length, split);
    // A seeded draw of k goals without replacement, kept in goal order.
    const order = pool.slice();
    const rng = seedrandom.alea(`demo-goals:${demoSeed}`);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const chosen = order.slice(0, Math.min(numDemos, order.length)).sort((a, b) => a - b);
    t0 = performance.now();
    const demos = generateDemonstrations(
      env,
      new ExpertPolicy({ seed: demoSeed }),
      chosen,
      (done, total) => console.error(`demonstrations: ${done}/${total}`),
    );
    const path = `${args.out.replace(/\/$/, "")}/il_trajs_synthetic.jsonl`;
    await writeDemonstrations(path, demos);
    const success = demos.filter((d) => d.rewards.at(-1) === 1).length;
    const steps = demos.reduce((a, d) => a + d.actions.length, 0);
    summary.demos = demos.length;
    summary.demoSuccess = demos.length ? success / demos.length : 0;
    summary.demoMeanSteps = demos.length ? steps / demos.length : 0;
    console.error(
      `wrote ${demos.length} demonstrations (${success} with reward 1, ${rewardMode} mode) in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  console.log(JSON.stringify(summary));
}

if (import.meta.main) await main();
