import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  instructionWithoutPrice,
  normalizeGoalQueryMap,
  parseAction,
  sampleWithoutReplacement,
  searchTexts,
  validActions,
} from "./actions.ts";
import seedrandom from "seedrandom";

Deno.test("parseAction() follows re.match(r'(.+)\\[(.+)\\]') greedily", () => {
  assertEquals(parseAction("search[red shoes]"), { name: "search", arg: "red shoes" });
  assertEquals(parseAction("click[< Prev]"), { name: "click", arg: "< Prev" });
  // Greedy groups: the name runs to the last "[" that still leaves "(.+)]".
  assertEquals(parseAction("click[a [b] c]"), { name: "click[a ", arg: "b] c" });
  // Anchored at the start only: text after the last "]" is ignored.
  assertEquals(parseAction("click[buy now] please"), { name: "click", arg: "buy now" });
  assertEquals(parseAction("search[]"), { name: "search[]", arg: null });
  assertEquals(parseAction("finish"), { name: "finish", arg: null });
  assertEquals(parseAction("[x]"), { name: "[x]", arg: null });
  // "." does not match a newline.
  assertEquals(parseAction("search[a\nb]"), { name: "search[a\nb]", arg: null });
});

const goal = {
  attributes: ["gluten free", "low sugar"],
  query: "protein bars",
  instruction_text: "I need gluten free protein bars, and price lower than 40.00 dollars",
};

Deno.test("searchTexts() is query, attribute + query, instruction; or the human queries", () => {
  assertEquals(searchTexts(goal), [
    "protein bars",
    "gluten free protein bars",
    "low sugar protein bars",
    "i need gluten free protein bars, and price lower than 40.00 dollars",
  ]);
  const map = normalizeGoalQueryMap({ "I need gluten free protein bars.": ["gf bars", "bars"] });
  assertEquals(instructionWithoutPrice(goal.instruction_text), "I need gluten free protein bars");
  assertEquals(searchTexts(goal, map), [
    "gf bars",
    "bars",
    "i need gluten free protein bars, and price lower than 40.00 dollars",
  ]);
  assertEquals(searchTexts({ ...goal, instruction_text: "other" }, map), ["other"]);
});

function ctx(seed = 1) {
  return {
    goal,
    asinToName: (a: string) => (a === "b000000001" ? "red running shoes" : undefined),
    chosenOptions: 0,
    itemOptions: 1,
    rng: seedrandom.alea(String(seed)),
  };
}

Deno.test("validActions() names items by title and drops search", () => {
  const avail = { has_search_bar: false, clickables: ["back to search", "next >", "b000000001"] };
  assertEquals(validActions(avail, ctx()), [
    "click[back to search]",
    "click[next >]",
    "click[item - red running shoes]",
  ]);
  assertEquals(validActions(avail, ctx(), { clickItemName: false })[2], "click[b000000001]");
  assertEquals(
    validActions({ has_search_bar: true, clickables: ["search"] }, ctx())[0],
    "search[protein bars]",
  );
  assertEquals(validActions({ has_search_bar: false, clickables: [] }, ctx()), ["finish"]);
  const item = { has_search_bar: false, clickables: ["< prev", "buy now", "red"] };
  assertEquals(validActions(item, ctx(), { banBuy: true }), ["click[< prev]", "click[red]"]);
  assertEquals(validActions(item, { ...ctx(), chosenOptions: 1 }, { banBuy: true }).length, 3);
});

Deno.test("validActions() reduces past 20 to 6 + 10 sampled, seeded, inside the loop", () => {
  const many = Array.from({ length: 25 }, (_, i) => `v${i}`);
  const avail = { has_search_bar: false, clickables: many };
  const a = validActions(avail, ctx(7));
  const b = validActions(avail, ctx(7));
  assertEquals(a, b);
  // At the 21st value the list is cut to 16, then v21..v24 are appended: 20 in all.
  assertEquals(a.length, 20);
  assertEquals(a.slice(0, 6), many.slice(0, 6).map((v) => `click[${v}]`));
  assertEquals(a.slice(16), ["click[v21]", "click[v22]", "click[v23]", "click[v24]"]);
  const sampled = a.slice(6, 16);
  assertEquals(new Set(sampled).size, 10);
  for (const s of sampled) {
    assertEquals(many.slice(6, 21).map((v) => `click[${v}]`).includes(s), true);
  }
  assertEquals(validActions(avail, ctx(7), { reduceClick: false }).length, 25);
  // 26 values: cut at 21 to 16, grows to 20 by v24, v25 makes 21: cut again to 16.
  assertEquals(
    validActions({ has_search_bar: false, clickables: [...many, "v25"] }, ctx(7)).length,
    16,
  );
  const other = validActions(avail, ctx(8));
  assertEquals(other.slice(0, 6), a.slice(0, 6));
});

Deno.test("sampleWithoutReplacement() draws distinct elements and rejects k > n", () => {
  const s = sampleWithoutReplacement([1, 2, 3, 4, 5], 5, seedrandom.alea("x"));
  assertEquals([...s].sort(), [1, 2, 3, 4, 5]);
  let threw = false;
  try {
    sampleWithoutReplacement([1], 2, Math.random);
  } catch (e) {
    threw = (e as Error).message.includes("exceeds population");
  }
  assertEquals(threw, true);
});
