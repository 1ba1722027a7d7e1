import assert from "node:assert/strict";
import { PyRandom } from "./_python.ts";
import {
  drawPriceUpper,
  goalKey,
  goalsForSplit,
  ilGoalText,
  ilTrajectoriesForSplit,
  makeGoals,
  makeHumanGoals,
  makeSyntheticGoals,
  NO_PRICE_UPPER,
  processGoal,
  splitGoals,
} from "./goals.ts";
import { demoGoalText } from "./demos.ts";
import { loadCatalogFromDir, loadCatalogFromRecords } from "./loaders.ts";
import type { Product, RawIlTrajectory } from "./types.ts";

import { SHARED } from "./_fixtures.ts";
import { requires, WEBSHOP_SAMPLE } from "../testing/requires.ts";

Deno.test("drawPriceUpper() takes the larger of two of the next four multiples of 10", () => {
  let state = 0;
  const rng = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const counts = new Map<number, number>();
  for (let i = 0; i < 6000; i++) {
    const { price_upper, price_text } = drawPriceUpper(25.3, rng);
    counts.set(price_upper, (counts.get(price_upper) ?? 0) + 1);
    assert.equal(price_text, `, and price lower than ${price_upper}.00 dollars`);
  }
  // Candidates 30, 40, 50, 60: the max of a random pair is 40, 50, 60 with odds 1:2:3.
  assert.deepEqual([...counts.keys()].sort(), [40, 50, 60]);
  assert.ok(Math.abs(counts.get(40)! / 6000 - 1 / 6) < 0.03, String(counts.get(40)));
  assert.ok(Math.abs(counts.get(60)! / 6000 - 1 / 2) < 0.03, String(counts.get(60)));
  // A price on a multiple: strictly above it (40 excluded for 30 exactly -> 40..70).
  for (let i = 0; i < 50; i++) {
    const u = drawPriceUpper(30, rng).price_upper;
    assert.ok(u >= 50 && u <= 70, String(u));
  }
  assert.deepEqual(drawPriceUpper(985, rng), { price_upper: NO_PRICE_UPPER, price_text: "" });
  assert.equal(drawPriceUpper(975, rng).price_upper, 990);
});

function rawProduct(
  asin: string,
  options: Record<string, string[]>,
  pricing = "$25.30",
): Record<string, unknown> {
  const customization_options: Record<string, { value: string }[]> = {};
  for (const [k, vs] of Object.entries(options)) {
    customization_options[k] = vs.map((value) => ({ value }));
  }
  return {
    asin,
    name: `Mug ${asin}`,
    full_description: "",
    small_description: [],
    pricing,
    images: [],
    product_category: "Home › Kitchen",
    category: "garden",
    query: "mugs",
    customization_options,
  };
}

Deno.test("makeHumanGoals() makes one goal per instruction with attributes, price suffix", () => {
  const { products } = loadCatalogFromRecords({
    products: [rawProduct("B1", { Color: ["Red"] }), rawProduct("B2", {}, "$995.00")],
    humanInstructions: {
      B1: [
        {
          instruction: "i want a red mug.",
          instruction_attributes: ["red"],
          instruction_options: ["red"],
        },
        { instruction: "no attributes", instruction_attributes: [], instruction_options: [] },
      ],
      B2: [{
        instruction: "a pricey mug",
        instruction_attributes: ["pricey"],
        instruction_options: [],
      }],
    },
  });
  const stats = {
    skippedNoAttributes: 0,
    skippedNoInstructionAttributes: 0,
    skippedEmptyOption: 0,
  };
  const goals = makeHumanGoals(products, Math.random, stats);
  assert.equal(goals.length, 2);
  assert.equal(stats.skippedNoAttributes, 1);
  assert.match(
    goals[0].instruction_text,
    /^i want a red mug, and price lower than (40|50|60)\.00 dollars$/,
  );
  assert.equal(
    goals[0].instruction_text,
    `i want a red mug, and price lower than ${goals[0].price_upper}.00 dollars`,
  );
  assert.deepEqual(goals[0].goal_options, ["red"]);
  assert.equal(goals[0].weight, 1);
  assert.deepEqual([goals[1].instruction_text, goals[1].price_upper], [
    "a pricey mug",
    NO_PRICE_UPPER,
  ]);
});

Deno.test("makeSyntheticGoals() crosses option values and weights by attribute rarity", () => {
  const { products } = loadCatalogFromRecords({
    products: [
      rawProduct("B1", { Size: ["S", "L"], Color: ["Red", "Blue", "Green"] }),
      rawProduct("B2", {}),
      rawProduct("B3", { Color: [] }),
    ],
    attributes: {
      B1: { attributes: ["a", "b"], instruction: "Find mugs", instruction_attributes: ["a", "b"] },
      B2: { attributes: ["a"], instruction: "Find cups", instruction_attributes: ["a"] },
      B3: { attributes: ["c"], instruction: "Find jugs", instruction_attributes: ["c"] },
    },
  });
  const goals = makeSyntheticGoals(products, () => 0.5);
  assert.equal(goals.length, 6 + 1); // B3's empty option gives no combination, as itertools
  // Names sorted ("color" < "size"), the last varying fastest; price 25.3 -> candidates 30..60,
  // draws floor(0.5 * 4) = 2 and floor(0.5 * 3) = 1 -> 50 and 40 -> 50.
  assert.equal(
    goals[0].instruction_text,
    "Find mugs with color: red, and size: s, and price lower than 50.00 dollars",
  );
  assert.deepEqual(goals[1].goal_options, { color: "red", size: "l" });
  assert.deepEqual(goals[2].goal_options, { color: "blue", size: "s" });
  assert.equal(goals[6].instruction_text, "Find cups, and price lower than 50.00 dollars");
  assert.deepEqual(goals[6].goal_options, {});
  // "a" is asked by 7 goals, "b" by 6: B1's weight (1/7 + 1/6) / 2, B2's 1/7.
  assert.equal(goals[0].weight, (1 / 7 + 1 / 6) / 2);
  assert.equal(goals[6].weight, 1 / 7);
});

Deno.test("splitGoals() uses WebShop's bounds at full size and proportions below", () => {
  assert.deepEqual(splitGoals(12087), { test: [0, 500], eval: [500, 1500], train: [1500, 12087] });
  assert.deepEqual(splitGoals(6038), { test: [0, 250], eval: [250, 750], train: [750, 6038] });
  assert.deepEqual(splitGoals(100), { test: [0, 4], eval: [4, 12], train: [12, 100] });
  assert.deepEqual(splitGoals(3), { test: [0, 1], eval: [1, 2], train: [2, 3] });
  assert.deepEqual(splitGoals(1), { test: [0, 1], eval: [1, 1], train: [1, 1] });
  assert.deepEqual(goalsForSplit([..."abcdefghijklmnopqrstuvwxyz"], "eval"), ["b", "c"]);
  assert.throws(() => splitGoals(-1), /count/);
});

requires([WEBSHOP_SAMPLE], {
  name: "makeGoals() on the real sample: 6038 synthetic goals, WebShop's shuffle, seeded",
  fn: async () => {
    const c = await loadCatalogFromDir(SHARED.pathname, { goals: "none" });
    const a = makeGoals(c.products, "synthetic", { shuffleSeed: null });
    // 6038 is the count WebShop's get_synthetic_goals gives on this sample (Python).
    assert.equal(a.goals.length, 6038);
    const b = makeGoals(c.products, "synthetic");
    const order = a.goals.map((_, i) => i);
    new PyRandom(233).shuffle(order);
    assert.deepEqual(
      b.goals.map((g) => g.instruction_text),
      order.map((i) => a.goals[i].instruction_text),
    );
    const again = makeGoals(c.products, "synthetic");
    assert.deepEqual(again.goals, b.goals);
    for (const g of b.goals) {
      const p = c.byAsin.get(g.asin) as Product;
      if (g.price_upper !== NO_PRICE_UPPER) {
        assert.ok(g.price_upper > p.price && g.price_upper <= p.price + 40);
      }
    }
  },
});

Deno.test("ilGoalText() and ilTrajectoriesForSplit() select demonstrations by human goal index", () => {
  const state =
    'WebShop\nInstruction: I\'d like a "blue" mug, and price lower than 30.00 dollars\n' +
    "[button] Search [button_]";
  assert.equal(ilGoalText(state), "id like a blue mug");
  const humanGoals = Array.from({ length: 12087 }, (_, i) => `goal ${i}`);
  const traj = (i: number): RawIlTrajectory => ({
    states: [`WebShop\nInstruction: Goal ${i}\n[button] Search [button_]`],
    available_actions: [["search"]],
    action_idxs: [-1],
  });
  const all = [traj(3), traj(700), traj(2000), {
    ...traj(0),
    states: ["WebShop\nInstruction: unknown"],
  }];
  assert.deepEqual(ilTrajectoriesForSplit(all, humanGoals, "test").trajectories, [all[0]]);
  assert.deepEqual(ilTrajectoriesForSplit(all, humanGoals, "eval").trajectories, [all[1]]);
  const train = ilTrajectoriesForSplit(all, humanGoals, "train");
  assert.deepEqual([train.trajectories, train.unmatched], [[all[2]], 1]);
});

Deno.test("loadCatalogFromDir() builds human goals from items_human_ins.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "goals_test_" });
  try {
    const products = Array.from({ length: 40 }, (_, i) => rawProduct(`B${i}`, { Color: ["Red"] }));
    await Deno.writeTextFile(`${dir}/items_shuffle_1000.json`, JSON.stringify(products));
    const human: Record<string, unknown[]> = {};
    for (let i = 0; i < 40; i++) {
      human[`B${i}`] = [
        {
          instruction: `i need mug ${i}.`,
          instruction_attributes: ["red"],
          instruction_options: ["red"],
        },
        { instruction: "skip me", instruction_attributes: [], instruction_options: [] },
      ];
    }
    await Deno.writeTextFile(`${dir}/items_human_ins.json`, JSON.stringify(human));
    const c = await loadCatalogFromDir(dir);
    assert.equal(c.goalKind, "human");
    assert.equal(c.goals!.length, 40);
    assert.deepEqual(c.splits, splitGoals(40));
    for (const g of c.goals!) {
      assert.match(
        g.instruction_text,
        /^i need mug \d+, and price lower than (40|50|60)\.00 dollars$/,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("processGoal() equals train_choice_il.py process_goal where the copies differed", () => {
  // Expected values printed by Python 3 running WebShop's process_goal on the same strings.
  assert.equal(
    processGoal(
      'WebShop\nInstruction:  \ni need a "red" dress, and price lower than 40.00 dollars\n' +
        "[button] Search [button_]",
    ),
    "i need a red dress",
  );
  assert.equal(processGoal("Amazon Shopping Game\nInstruction: Women's shoes"), "womens shoes");
  // str.replace replaces every header, not only the first (two copies used String.replace).
  assert.equal(
    processGoal(
      'WebShop\nInstruction: WebShop\nInstruction: I\'d like "Red" mugs\n[button] Search [button_]',
    ),
    "id like red mugs",
  );
  // No strip after the price cut (two copies stripped again).
  assert.equal(
    processGoal(
      "WebShop\nInstruction:  \ni need a mug , and price lower than 30.00 dollars\n" +
        "[button] Search [button_]",
    ),
    "i need a mug ",
  );
  assert.equal(processGoal("  Amazon Shopping Game\nInstruction: Women's shoes  "), "womens shoes");
  assert.equal(ilGoalText, processGoal, "the earlier name is the same function");
  // The demonstration matchers strip after the cut, so that both sides meet.
  const spaced = "WebShop\nInstruction: i need a mug , and price lower than 30.00 dollars";
  assert.equal(demoGoalText(spaced), "i need a mug");
  assert.equal(goalKey("I need a mug , and price lower than 30.00 dollars"), "i need a mug");
  assert.equal(goalKey('I\'d like "Red" mugs'), processGoal('I\'d like "Red" mugs'));
});
