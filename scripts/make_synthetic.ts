/**
 * Writes a seeded synthetic WebShop catalog in WebShop's own files, so the data can be inspected
 * and the file loaders exercised end to end, optionally with expert demonstrations:
 *
 *   deno task make:synthetic --out data/synthetic --products 1000 --seed 0 [--demos 500]
 *
 * Files: items_shuffle_1000.json (items_shuffle.json for other sizes), items_ins_v2_1000.json
 * (items_ins_v2.json), items_human_ins.json, human_goals.json, goal_query_map.json and, with
 * --demos, il_trajs_synthetic.jsonl. The whole set is written into a staging folder and renamed
 * into place; a folder that already holds files is refused (old files would mix with the new).
 *
 * @module
 */

import seedrandom from "seedrandom";
import { generateDemonstrations, writeDemonstrations } from "../env/demos.ts";
import { ExpertPolicy } from "../env/expert.ts";
import { DEFAULT_REWARD_MODE, REWARD_MODES, type RewardMode } from "../env/reward.ts";
import {
  catalogFromSynthetic,
  checkNewFolder,
  generateSyntheticCatalog,
  writeSyntheticCatalog,
} from "../env/synthetic.ts";
import { goalIndicesForSplit, type GoalSplit } from "../env/goals.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import { intFlag, MAX_SYNTHETIC_PRODUCTS, parseFlags, runMain, usageError } from "./_cli.ts";

const USAGE = `usage: deno task make:synthetic --out <dir> [options]
  --out <dir>            new or empty folder to write (refused when it holds files)
  --products <n>         product records, lookalikes included (default 1000, at most ${MAX_SYNTHETIC_PRODUCTS})
  --seed <s>             generator seed (default 0)
  --goals <n>            human-style instructions (default 2 x products, at most 12087); fewer
                         are made, and said, when the products cannot give that many
  --demos <k>            also write k expert demonstrations to il_trajs_synthetic.jsonl (at
                         most one per goal of --demo-split; fewer are said)
  --demo-split <split>   goals the demonstrations come from: all, train, eval, test (default all)
  --demo-seed <s>        seed of the expert and of the goal draw (default 0)
  --reward-mode <m>      reward recorded in the demonstrations: webshop or corrected
                         (default ${DEFAULT_REWARD_MODE})
  --debug                stack traces on errors
  --help                 this text`;

function fail(msg: string): never {
  return usageError("make:synthetic", USAGE, msg);
}

function intArg(
  name: string,
  v: string | undefined,
  dflt: number | undefined,
  min = 0,
  max?: number,
) {
  return intFlag("make:synthetic", USAGE, name, v, dflt, min, max);
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
    "reward-mode": { type: "string", default: DEFAULT_REWARD_MODE },
  });
  if (!args) return;
  if (!args.out) fail("--out is required");
  const out = args.out;
  const numProducts = intArg("products", args.products, 1000, 1, MAX_SYNTHETIC_PRODUCTS)!;
  const seed = intArg("seed", args.seed, 0)!;
  const numHumanGoals = intArg("goals", args.goals, undefined);
  const numDemos = intArg("demos", args.demos, 0)!;
  const demoSeed = intArg("demo-seed", args["demo-seed"], 0)!;
  const split = args["demo-split"] as GoalSplit;
  if (!["all", "train", "eval", "test"].includes(split)) {
    fail(`--demo-split must be all, train, eval or test, got "${split}"`);
  }
  const rewardMode = args["reward-mode"] as RewardMode;
  if (!REWARD_MODES.includes(rewardMode)) {
    fail(`--reward-mode must be ${REWARD_MODES.join(" or ")}, got "${rewardMode}"`);
  }
  // Before minutes of generation: the folder must be new or empty.
  await checkNewFolder(out);

  let t0 = performance.now();
  const raw = generateSyntheticCatalog({ numProducts, seed, numHumanGoals });
  console.error(
    `generated ${raw.products.length} products (${raw.lookalikes.length} lookalikes), ` +
      `${raw.humanGoals.length} goals in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const notes: string[] = [];
  const goalsMade = raw.humanGoals.length;
  if (numHumanGoals !== undefined && goalsMade < numHumanGoals) {
    notes.push(
      `--goals ${numHumanGoals}: made ${goalsMade}, all the distinct instructions ` +
        `${raw.products.length} products give (at most 12 rounds over the base products)`,
    );
  }
  const summary: Record<string, unknown> = {
    out,
    products: raw.products.length,
    lookalikes: raw.lookalikes.length,
    goals: goalsMade,
    rewardMode,
  };

  let demos: ReturnType<typeof generateDemonstrations> = [];
  if (numDemos > 0) {
    // Cleaning and goal building are only needed to play episodes.
    const cat = catalogFromSynthetic(raw);
    const env = new WebShopEnv({ catalog: cat.products, goals: cat.goals, rewardMode });
    const pool = goalIndicesForSplit(cat.goals.length, split);
    if (pool.length < numDemos) {
      notes.push(
        `--demos ${numDemos}: writing ${pool.length}, one per goal of the ${split} split ` +
          `(${cat.goals.length} goals in all; more products or --goals give more)`,
      );
    }
    // A seeded draw of k goals without replacement, kept in goal order.
    const order = pool.slice();
    const rng = seedrandom.alea(`demo-goals:${demoSeed}`);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const chosen = order.slice(0, Math.min(numDemos, order.length)).sort((a, b) => a - b);
    t0 = performance.now();
    demos = generateDemonstrations(
      env,
      new ExpertPolicy({ seed: demoSeed }),
      chosen,
      (done, total) => console.error(`demonstrations: ${done}/${total}`),
    );
    const success = demos.filter((d) => d.rewards.at(-1) === 1).length;
    const steps = demos.reduce((a, d) => a + d.actions.length, 0);
    summary.demos = demos.length;
    summary.demoSuccess = demos.length ? success / demos.length : 0;
    summary.demoMeanSteps = demos.length ? steps / demos.length : 0;
    console.error(
      `made ${demos.length} demonstrations (${success} with reward 1, reward mode ` +
        `${rewardMode}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  for (const n of notes) console.error(`make:synthetic: note: ${n}`);

  t0 = performance.now();
  // The catalog and its demonstrations land in `out` together, or not at all.
  const sizes = await writeSyntheticCatalog(out, raw, {
    extra: async (dir): Promise<Record<string, number>> => {
      if (demos.length === 0) return {};
      const name = "il_trajs_synthetic.jsonl";
      await writeDemonstrations(`${dir}/${name}`, demos);
      return { [name]: (await Deno.stat(`${dir}/${name}`)).size };
    },
  });
  summary.files = sizes;
  if (notes.length) summary.notes = notes;
  console.error(
    `wrote ${Object.keys(sizes).join(", ")} to ${out} in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(JSON.stringify(summary));
}

if (import.meta.main) await runMain("make:synthetic", main);
