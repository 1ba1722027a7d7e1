import assert from "node:assert/strict";
import { pyStrPair } from "./_python.ts";
import {
  getAttributeReward,
  getOptionReward,
  getReward,
  getTypeReward,
  type RewardGoal,
  type RewardProduct,
  titleNouns,
} from "./reward.ts";
import { loadCatalogFromDir } from "./loaders.ts";

import { SHARED } from "./_fixtures.ts";
import { requires, WEBSHOP_SAMPLE } from "../testing/requires.ts";

Deno.test("pyStrPair() writes Python's str() of a tuple", () => {
  assert.equal(pyStrPair(["size", "standard"]), "('size', 'standard')");
  assert.equal(pyStrPair(["size", "it's"]), `('size', "it's")`);
  assert.equal(pyStrPair(["a\u00a0b", "x\u2028"]), "('a\\xa0b', 'x\\u2028')");
  assert.equal(pyStrPair(["q'\"", "b\\"]), `('q\\'"', 'b\\\\')`);
});

function product(over: Partial<RewardProduct> = {}): RewardProduct {
  return {
    name: "Leather Wallet for Men with Coin Pocket",
    Title: "Body Scrub with Argan",
    BulletPoints: ["Paraben free formula", "Made in USA"],
    Description: "A gentle exfoliating scrub.",
    Attributes: ["tea tree", "essential oils", "natural ingredients"],
    query: "body scrubs",
    product_category: "Beauty & Personal Care › Skin Care › Body › Scrubs",
    ...over,
  };
}

function goal(over: Partial<RewardGoal> = {}): RewardGoal {
  return {
    name: "Leather Wallet for Men with Coin Pocket",
    attributes: [
      "tea tree",
      "natural ingredient",
      "paraben free",
      "gentle exfoliating",
      "cruelty free",
    ],
    goal_options: ["blue", "small"],
    price_upper: 30,
    query: "body scrubs",
    product_category: "Beauty & Personal Care › Skin Care › Body › Scrubs",
    ...over,
  };
}

Deno.test("getTypeReward() follows the query / category / title-noun rules", () => {
  // The hand computations below rest on these tags.
  assert.deepEqual(titleNouns("Leather Wallet for Men with Coin Pocket"), [
    "leather",
    "wallet",
    "men",
    "coin",
    "pocket",
  ]);
  assert.deepEqual(titleNouns("Blue Cotton Shirt for Men"), ["blue", "cotton", "shirt", "men"]);
  assert.deepEqual(titleNouns("Desk Lamp with USB Charging Port"), ["desk", "lamp", "usb", "port"]);
  assert.deepEqual(titleNouns("Very Quickly"), []);

  const noMatch = { query: "other", product_category: "A › B › C" };
  const g = goal({ product_category: "X › Y › C" });
  // Same title: score 1.
  let r = getTypeReward(product(noMatch), g);
  assert.deepEqual(r, { r_type: 1, query_match: false, category_match: false, title_score: 1 });
  // One of five goal nouns ("men"): 0.2, not > 0.2, and nothing else matches -> 0.5.
  r = getTypeReward(product({ ...noMatch, name: "Blue Cotton Shirt for Men" }), g);
  assert.deepEqual(r, { r_type: 0.5, query_match: false, category_match: false, title_score: 0.2 });
  // Same, but the query matches -> 1.
  r = getTypeReward(product({ query: "body scrubs", name: "Blue Cotton Shirt for Men" }), g);
  assert.equal(r.r_type, 1);
  assert.equal(r.query_match, true);
  // Two shared category levels ("Y" and "C") -> 1; one shared level is not enough.
  r = getTypeReward(
    product({ ...noMatch, product_category: "Q › Y › C", name: "Blue Cotton Shirt for Men" }),
    g,
  );
  assert.equal(r.category_match, true);
  assert.equal(r.r_type, 1);
  r = getTypeReward(
    product({ ...noMatch, product_category: "Q › Z › C", name: "Blue Cotton Shirt for Men" }),
    g,
  );
  assert.equal(r.category_match, false);
  assert.equal(r.r_type, 0.5);
  // No shared noun: 0 even with query and category matching.
  r = getTypeReward(product({ name: "Desk Lamp with USB Charging Port" }), goal());
  assert.deepEqual(r, { r_type: 0, query_match: true, category_match: true, title_score: 0 });
  // A goal title without nouns scores 0.2.
  r = getTypeReward(product(noMatch), goal({ name: "Very Quickly" }));
  assert.deepEqual(r, { r_type: 0.5, query_match: false, category_match: false, title_score: 0.2 });
});

Deno.test("getAttributeReward() matches fuzzily, then by substring of title, bullets, description", () => {
  // tea tree: exact attribute; natural ingredient: fuzzy 97; paraben free: bullet point;
  // gentle exfoliating: description; cruelty free: nowhere.
  assert.deepEqual(getAttributeReward(product(), goal()), [4 / 5, 4]);
  // Without attributes only the two text matches remain.
  assert.deepEqual(getAttributeReward(product({ Attributes: [] }), goal()), [2 / 5, 2]);
  assert.deepEqual(getAttributeReward(product({ Title: "Cruelty Free Scrub" }), goal()), [1, 5]);
});

Deno.test("getOptionReward() normalises colours and matches fuzzily", () => {
  // "navy blue" -> "blue"; "x-large" vs "large" scores 100.
  assert.deepEqual(getOptionReward(["navy blue", "x-large"], ["blue", "large"]), [1, 2]);
  assert.deepEqual(getOptionReward(["navy blue", "x-large"], ["blue", "small"]), [0.5, 1]);
  assert.deepEqual(getOptionReward(["navy blue"], []), [null, 0]);
  // Pairs: an exact colour value normalises the pair to the colour; "standard" -> "tan" misses.
  assert.deepEqual(
    getOptionReward(["black", "standard"], [["color", "black"], ["size", "standard"]]),
    [
      0.5,
      1,
    ],
  );
});

Deno.test("getReward() totals the components with WebShop's weights", () => {
  const p = product();
  const chosen = { color: "navy blue", size: "x-large" };
  // 4 of 5 attributes, 1 of 2 options ("blue"), price 20 <= 30: (4 + 1 + 1) / (5 + 2 + 1).
  assert.equal(getReward(p, goal(), 20, chosen), 6 / 8);
  // Over the price bound: (4 + 1 + 0) / 8.
  assert.equal(getReward(p, goal(), 40, chosen), 5 / 8);
  // r_type 0.5 (title score 1/5, no query or category match) halves it.
  const g05 = goal({ query: "x", product_category: "X › Y" });
  assert.equal(getReward(product({ name: "Blue Cotton Shirt for Men" }), g05, 20, chosen), 0.375);
  const [total, info] = getReward(p, goal(), 20, chosen, { verbose: true });
  assert.equal(total, 0.75);
  assert.deepEqual(info, {
    r_type: 1,
    r_att: 0.8,
    w_att: 5 / 8,
    query_match: true,
    category_match: true,
    title_score: 1,
    r_option: 0.5,
    w_option: 2 / 8,
    r_price: true,
    w_price: 1 / 8,
  });
  // No goal options: no option keys; weights over attributes + price only.
  const [t2, info2] = getReward(p, goal({ goal_options: [] }), 20, {}, { verbose: true });
  assert.equal(t2, 5 / 6);
  assert.equal("r_option" in info2, false);
  assert.throws(() => getReward(p, goal(), 20, {}, { mode: "other" as "webshop" }), /mode/);
});

Deno.test("getReward() keeps WebShop's synthetic-option quirk in webshop mode, not in corrected", () => {
  const p = product({ Attributes: ["tea tree"] });
  const g = goal({ attributes: ["tea tree"], goal_options: { color: "black", size: "standard" } });
  const chosen = { color: "black", size: "standard" };
  // ('size', 'standard') vs normalize_color("standard") = "tan": 38, a miss. (1 + 1 + 1) / 4.
  assert.equal(getReward(p, g, 20, chosen), 0.75);
  assert.equal(getReward(p, g, 20, chosen, { mode: "corrected" }), 1);
  // Human-goal (list) options are values already: both modes agree.
  const h = goal({ attributes: ["tea tree"], goal_options: ["black", "standard"] });
  assert.equal(getReward(p, h, 20, chosen), 1);
  assert.equal(getReward(p, h, 20, chosen, { mode: "corrected" }), 1);
});

requires([WEBSHOP_SAMPLE], {
  name: "getReward() on the real sample: exact synthetic purchases score 1 on ~93% (webshop)",
  fn: async () => {
    const c = await loadCatalogFromDir(SHARED.pathname, { goals: "synthetic" });
    const goals = c.goals!;
    let ones = 0, onesCorrected = 0;
    const t0 = performance.now();
    for (const g of goals) {
      const p = c.byAsin.get(g.asin)!;
      const chosen = g.goal_options as Record<string, string>;
      if (getReward(p, g, p.price, chosen) === 1) ones++;
      if (getReward(p, g, p.price, chosen, { mode: "corrected" }) === 1) onesCorrected++;
    }
    const perSecond = (2 * goals.length) / ((performance.now() - t0) / 1000);
    console.log(
      `exact purchases scoring 1: webshop ${ones}/${goals.length} = ` +
        `${(ones / goals.length).toFixed(4)}, corrected ${onesCorrected}/${goals.length}; ` +
        `${perSecond.toFixed(0)} rewards/s (cold caches)`,
    );
    // 5601 / 6038 is what WebShop's own functions give on this sample (Python, thefuzz 0.19).
    assert.equal(goals.length, 6038);
    assert.equal(ones, 5601);
    assert.equal(onesCorrected, goals.length);
  },
});
