import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { requires, WEBSHOP_SAMPLE } from "../testing/requires.ts";
import { makeGoal, SHARED, smallCatalog } from "./_fixtures.ts";
import { makeGoals } from "./goals.ts";
import { loadCatalogFromRecords } from "./loaders.ts";
import { OraclePolicy, type Policy, RandomPolicy, runEpisode } from "./policies.ts";
import type { RewardMode } from "./reward.ts";
import { SearchEngine } from "./search.ts";
import { generateSyntheticCatalog } from "./synthetic.ts";
import type { Goal, Product } from "./types.ts";
import { WebShopEnv } from "./webshop_env.ts";

function evaluate(
  engine: SearchEngine,
  goals: readonly Goal[],
  policy: Policy,
  mode: RewardMode,
  indices: readonly number[],
): { mean: number; success: number; steps: number } {
  const env = new WebShopEnv({ catalog: engine, goals, rewardMode: mode, seed: 1 });
  let sum = 0, success = 0, steps = 0;
  for (const i of indices) {
    const r = runEpisode(env, policy, i);
    sum += r.reward;
    if (r.reward === 1) success++;
    steps += r.steps;
  }
  const n = indices.length;
  return { mean: sum / n, success: success / n, steps: steps / n };
}

const range = (n: number, step = 1) =>
  Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step);

let synthetic: { engine: SearchEngine; products: Product[] } | null = null;
function syntheticCatalog() {
  if (!synthetic) {
    const syn = generateSyntheticCatalog({ numProducts: 200, seed: 3 });
    const { products } = loadCatalogFromRecords({
      products: syn.products,
      attributes: syn.attributes,
      humanInstructions: syn.humanInstructions,
    });
    synthetic = { engine: new SearchEngine(products), products };
  }
  return synthetic;
}

Deno.test("OraclePolicy buys the goal product with its options in a few steps", () => {
  const products = smallCatalog();
  const goals = [makeGoal(products[0], "red running shoes size 8.5", ["rubber sole"], {
    color: "red",
    size: "8.5",
  })];
  const env = new WebShopEnv({ catalog: products, goals });
  const r = runEpisode(env, new OraclePolicy(), 0);
  assertEquals(r.actions, [
    "search[red running shoes]",
    "click[b000000001]",
    "click[red]",
    "click[8.5]",
    "click[buy now]",
  ]);
  assertEquals([r.reward, r.bought, r.steps], [1, true, 5]);
});

Deno.test("OraclePolicy pages with Next > and falls back to the goal query", () => {
  // 60 decoys with the same title words outrank the target on its name; its query finds it.
  const target = smallCatalog()[3];
  const decoys = Array.from({ length: 60 }, (_, i) => ({
    ...smallCatalog()[1],
    asin: `B1${String(i).padStart(8, "0")}`,
    Title: "Ceramic Coffee Mug Ceramic Coffee Mug",
    query: "decoys",
  }));
  const products = [...decoys, { ...target, query: "unique mug query" }];
  const goals = [{
    ...makeGoal(products[60], "a mug", ["dishwasher safe"]),
    query: "unique mug query",
  }];
  const env = new WebShopEnv({ catalog: products, goals });
  const r = runEpisode(env, new OraclePolicy(), 0);
  assertEquals(r.actions.slice(0, 6), [
    "search[ceramic coffee mug]",
    "click[next >]",
    "click[next >]",
    "click[next >]",
    "click[next >]",
    "click[back to search]",
  ]);
  assertEquals(r.actions[6], "search[unique mug query]");
  assertEquals(r.reward, 1);
});

Deno.test("OraclePolicy scores 1.0 on a synthetic catalog (human goals, both modes)", () => {
  const { engine, products } = syntheticCatalog();
  const { goals } = makeGoals(products, "human");
  for (const mode of ["webshop", "corrected"] as const) {
    const r = evaluate(engine, goals, new OraclePolicy(), mode, range(Math.min(150, goals.length)));
    assertEquals(r.success, 1, `${mode}: ${JSON.stringify(r)}`);
  }
  const { goals: synGoals } = makeGoals(products, "synthetic");
  const r = evaluate(engine, synGoals, new OraclePolicy(), "corrected", range(synGoals.length, 3));
  assertEquals(r.success, 1, `synthetic goals, corrected: ${JSON.stringify(r)}`);
});

Deno.test("RandomPolicy stays far below the oracle", () => {
  const { engine, products } = syntheticCatalog();
  const { goals } = makeGoals(products, "human");
  const r = evaluate(engine, goals, new RandomPolicy(0), "webshop", range(100));
  ok(r.success <= 0.05 && r.mean < 0.4, `random: ${JSON.stringify(r)}`);
  // Seeded: the same seed gives the same episodes.
  const again = evaluate(engine, goals, new RandomPolicy(0), "webshop", range(100));
  assertEquals(again, r);
});

function readShared(name: string): unknown {
  return JSON.parse(Deno.readTextFileSync(new URL(name, SHARED)));
}

requires([WEBSHOP_SAMPLE], {
  name: "OraclePolicy on the real 160-product sample, synthetic goals",
  fn: () => {
    const products = readShared("items_sample_160.json") as unknown[];
    const attributes = readShared("items_ins_v2_1000.json");
    const cat = loadCatalogFromRecords({
      products,
      attributes: attributes as Record<string, unknown>,
    });
    const { goals } = makeGoals(cat.products, "synthetic");
    const engine = new SearchEngine(cat.products);
    // Every 4th of the ~6,000 goals keeps the test fast.
    const idx = range(goals.length, 4);
    const webshop = evaluate(engine, goals, new OraclePolicy(), "webshop", idx);
    const corrected = evaluate(engine, goals, new OraclePolicy(), "corrected", idx);
    console.log(
      `real sample, ${idx.length} synthetic goals: oracle success webshop ${
        webshop.success.toFixed(4)
      } ` +
        `(mean ${(100 * webshop.mean).toFixed(2)}), corrected ${corrected.success.toFixed(4)} ` +
        `(mean ${(100 * corrected.mean).toFixed(2)})`,
    );
    ok(webshop.success >= 0.9, `webshop mode: ${JSON.stringify(webshop)}`);
    ok(corrected.success >= 0.99, `corrected mode: ${JSON.stringify(corrected)}`);
  },
});

Deno.test("OraclePolicy does not loop on an option value shared by two option names", () => {
  const p = {
    ...smallCatalog()[0],
    options: { color: ["black", "white"], trim: ["black", "grey"] },
  };
  // The goal wants color black, but clicking "black" sets trim (the later radio wins).
  const goals = [makeGoal(p, "black shoes", ["rubber sole"], { color: "black", trim: "grey" })];
  const env = new WebShopEnv({ catalog: [p], goals });
  const r = runEpisode(env, new OraclePolicy(), 0);
  assertEquals(r.actions.slice(1), [
    "click[b000000001]",
    "click[black]",
    "click[grey]",
    "click[buy now]",
  ]);
  assertEquals(r.bought, true);
});
