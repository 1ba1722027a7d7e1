import { assertThrows } from "../testing/assert.ts";
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { makeGoal, smallCatalog } from "./_fixtures.ts";
import { renderItemPage, renderSearchPage } from "./pages.ts";
import { getReward } from "./reward.ts";
import { goalIndicesForSplit } from "./goals.ts";
import { WebShopEnv, type WebShopEnvConfig } from "./webshop_env.ts";

const products = smallCatalog();
const [SHOE] = products;
const INST =
  "i need red running shoes with rubber sole in size 8.5, and price lower than 30.00 dollars";
const goals = [
  makeGoal(SHOE, INST, ["rubber sole"], { color: "red", size: "8.5" }, 30),
  makeGoal(products[3], "i want a ceramic coffee mug", ["dishwasher safe"]),
];

function env(over: Partial<WebShopEnvConfig> = {}): WebShopEnv {
  return new WebShopEnv({ catalog: products, goals, ...over });
}

Deno.test("WebShopEnv.reset() shows the search page for the chosen goal", () => {
  const e = env();
  const { observation, info } = e.reset(0);
  assertEquals(observation, renderSearchPage("text_rich", INST));
  assertEquals(e.goal, goals[0]);
  assertEquals(e.instructionText, INST);
  assertEquals(info.page, "search");
  assertEquals(e.availableActions(), { has_search_bar: true, clickables: ["search"] });
  assertEquals(e.validActions(), [
    "search[shoes]",
    "search[rubber sole shoes]",
    `search[${INST.toLowerCase()}]`,
  ]);
  assertEquals(e.url, "http://127.0.0.1:3000/0");
});

Deno.test("WebShopEnv walks search -> results -> item -> sub-page -> done as WebShop", () => {
  const e = env({ observationMode: "text" });
  e.reset(0);
  let r = e.step("search[Running Shoes]");
  assertEquals([r.reward, r.done, r.info.actionValid, r.info.page], [0, false, true, "results"]);
  assertEquals(r.observation.split(" [SEP] ").slice(0, 6), [
    "Instruction:",
    INST,
    "Back to Search",
    "Page 1 (Total results: 3)",
    "Next >",
    "B000000001",
  ]);
  assertEquals(e.url, "http://127.0.0.1:3000/search_results/0/running+shoes/1");
  r = e.step("click[next >]");
  assertEquals(r.observation.includes("Page 2 (Total results: 3) [SEP] < Prev [SEP] Next >"), true);
  r = e.step("click[< prev]");
  assertEquals(
    r.observation.includes("Page 1 (Total results: 3) [SEP] Next > [SEP] B000000001"),
    true,
  );
  r = e.step("click[item - red running shoes]");
  assertEquals(r.info.page, "item");
  assertEquals([...e.visitedAsins], ["B000000001"]);
  r = e.step("click[8.5]");
  assertEquals(e.chosenOptions, { size: "8.5" });
  assertEquals(
    e.url,
    'http://127.0.0.1:3000/item_page/0/B000000001/running+shoes/1/{"size": "8.5"}',
  );
  r = e.step("click[Description]");
  assertEquals(r.observation.endsWith("< Prev [SEP] Light running shoes in red."), true);
  r = e.step("click[< prev]");
  assertEquals(r.info.page, "item");
  assertEquals(e.chosenOptions, { size: "8.5" });
  r = e.step("click[red]");
  assertEquals(e.chosenOptions, { size: "8.5", color: "red" });
  r = e.step("click[buy now]");
  const expected = getReward(SHOE, goals[0], SHOE.price, { size: "8.5", color: "red" });
  assertEquals([r.reward, r.done, r.info.page], [expected, true, "done"]);
  assertEquals(r.reward, 1);
  assertEquals(r.info.rewardInfo?.r_price, true);
  assertEquals(e.actionCounts(), { search: 3, asin: 1, options: 2, Description: 1, purchase: 1 });
  // After the end every step is a no-op.
  const after = e.step("click[back to search]");
  assertEquals([after.reward, after.done, after.info.actionValid], [0, true, false]);
});

Deno.test("WebShopEnv: < Prev from an item returns to the results and resets options", () => {
  const e = env({ observationMode: "text_rich" });
  e.reset(0);
  e.step("search[shoes]");
  e.step("click[b000000001]");
  let r = e.step("click[blue | white]");
  assertEquals(r.observation, renderItemPage("text_rich", INST, SHOE, e.url));
  assertEquals(r.observation.startsWith("You have clicked blue | white.\n"), true);
  r = e.step("click[< prev]");
  assertEquals(r.info.page, "results");
  assertEquals(e.chosenOptions, {});
  assertEquals(r.observation.includes("\n[clicked button] B000000001 [clicked button_]\n"), true);
  r = e.step("click[back to search]");
  assertEquals(r.observation, renderSearchPage("text_rich", INST));
  assertEquals(e.visitedAsins.size, 0);
});

Deno.test("WebShopEnv: invalid or unavailable actions are no-ops with reward 0", () => {
  const e = env({ observationMode: "text" });
  const { observation } = e.reset(0);
  for (
    const a of [
      "click[search]",
      "click[buy now]",
      "search[]",
      "finish",
      "click[next >]",
      "",
      "search",
    ]
  ) {
    const r = e.step(a);
    assertEquals([r.observation, r.reward, r.done, r.info.actionValid], [
      observation,
      0,
      false,
      false,
    ], a);
  }
  e.step("search[mug]");
  const before = e.observation;
  const r = e.step("click[description]");
  assertEquals([r.observation, r.info.actionValid], [before, false]);
  // WebShop's text env searches from any page; the option turns that off.
  assertEquals(e.step("search[shoes]").info.actionValid, true);
  const strict = env({ searchFromAnyPage: false });
  strict.reset(0);
  strict.step("search[shoes]");
  assertEquals(strict.step("search[mug]").info.actionValid, false);
});

Deno.test("WebShopEnv ends the episode at the step limit with reward 0", () => {
  const e = env({ stepLimit: 3 });
  e.reset(1);
  assertEquals(e.step("search[mug]").done, false);
  assertEquals(e.step("click[b000000004]").done, false);
  const r = e.step("click[features]");
  assertEquals([r.done, r.reward, r.info.truncated, r.info.steps], [true, 0, true, 3]);
  assertEquals(e.done, true);
});

Deno.test("WebShopEnv joins previous observations and actions as the text env", () => {
  const e = env({ observationMode: "text", numPrevObs: 1, numPrevActions: 2 });
  const o0 = e.reset(1).observation;
  const r1 = e.step("search[mug]");
  const o1 = e.observation;
  assertEquals(r1.observation, `${o0} [SEP] search[mug] [SEP] ${o1}`);
  const r2 = e.step("click[b000000004]");
  assertEquals(
    r2.observation,
    `search[mug] [SEP] ${o1} [SEP] click[b000000004] [SEP] ${e.observation}`,
  );
});

Deno.test("WebShopEnv: url mode, seeded goal sampling and valid-action lists", () => {
  const e = env({ observationMode: "url", seed: 5 });
  const f = env({ observationMode: "url", seed: 5 });
  for (let i = 0; i < 5; i++) {
    e.reset();
    f.reset();
    assertEquals(e.goal, f.goal);
  }
  e.reset(0);
  assertEquals(
    e.step("search[red running shoes]").observation,
    "http://127.0.0.1:3000/search_results/0/red+running+shoes/1",
  );
  assertEquals(e.validActions().slice(0, 3), [
    "click[back to search]",
    "click[next >]",
    "click[item - red running shoes]",
  ]);
  e.step("click[item - red running shoes]");
  assertEquals(e.validActions(), [
    "click[back to search]",
    "click[< prev]",
    "click[description]",
    "click[features]",
    "click[reviews]",
    "click[buy now]",
    "click[red]",
    "click[blue | white]",
    "click[7]",
    "click[8.5]",
  ]);
  e.step("click[buy now]");
  assertEquals(e.validActions(), ["finish"]);
  // A new episode never sees the previous episode's list.
  e.reset(0);
  assertEquals(e.validActions()[0], "search[shoes]");
});

Deno.test("WebShopEnv rejects bad configuration and goal indices clearly", () => {
  assertThrows(() => env({ observationMode: "html" as "text" }), Error, "observationMode");
  assertThrows(() => env({ stepLimit: 0 }), Error, "stepLimit");
  assertThrows(() => env({ rewardMode: "x" as "webshop" }), Error, "rewardMode");
  assertThrows(() => env().reset(7), Error, "goal index 7 is out of range");
  assertThrows(() => env().step("search[x]"), Error, "call reset()");
  assertEquals(goalIndicesForSplit(12087, "eval").slice(0, 2), [500, 501]);
  assertEquals(goalIndicesForSplit(12087, "test").length, 500);
  assertEquals(goalIndicesForSplit(10, "all").length, 10);
});
