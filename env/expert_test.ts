import { assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import { requires, SHARED_DIR, WEBSHOP_SAMPLE } from "../testing/requires.ts";
import { ExpertPolicy, expertQueries, goalOptionValues } from "./expert.ts";
import { runEpisode } from "./policies.ts";
import { openCatalog } from "./catalog.ts";
import { loadSyntheticCatalog } from "./synthetic.ts";
import type { Goal } from "./types.ts";
import { WebShopEnv } from "./webshop_env.ts";

const CAT = loadSyntheticCatalog({ numProducts: 200, seed: 11 });

function env(): WebShopEnv {
  return new WebShopEnv({ catalog: CAT.products, goals: CAT.goals, rewardMode: "corrected" });
}

Deno.test("ExpertPolicy reaches reward 1 (corrected) on at least 95% of synthetic goals", () => {
  const e = env();
  const expert = new ExpertPolicy({ seed: 0 });
  const n = 200;
  let ok = 0, detoured = 0;
  for (let g = 0; g < n; g++) {
    const r = runEpisode(e, expert, g);
    if (r.reward === 1) ok++;
    const d = expert.detours;
    if (d.vagueFirst || d.peek || d.wander || d.views.length > 0) detoured++;
    assert.ok(r.bought, `goal ${g} ends with a purchase`);
  }
  assert.ok(ok / n >= 0.95, `expert success ${ok}/${n}`);
  // imperfectRate 0.5: about half the episodes take a detour.
  assert.ok(detoured > 0.35 * n && detoured < 0.65 * n, `episodes with detours: ${detoured}/${n}`);
});

Deno.test("ExpertPolicy mixes direct and imperfect trajectories like human data", () => {
  const e = env();
  const counts = { back: 0, prev: 0, sub: 0, twoSearches: 0 };
  const expert = new ExpertPolicy({ seed: 2, imperfectRate: 1 });
  for (let g = 0; g < 60; g++) {
    const { actions } = runEpisode(e, expert, g);
    if (actions.includes("click[back to search]")) counts.back++;
    if (actions.includes("click[< prev]")) counts.prev++;
    if (actions.some((a) => a === "click[description]" || a === "click[features]")) counts.sub++;
    if (actions.filter((a) => a.startsWith("search[")).length >= 2) counts.twoSearches++;
  }
  assert.ok(counts.prev > 10, `episodes with < Prev: ${counts.prev}`);
  assert.ok(counts.sub > 10, `episodes with sub-page views: ${counts.sub}`);
  assert.ok(counts.twoSearches > 5, `episodes with a second search: ${counts.twoSearches}`);
  assert.ok(counts.back >= counts.twoSearches, "a second search goes back to search first");

  // With no detours every episode is search, open, options, buy.
  const direct = new ExpertPolicy({ seed: 2, imperfectRate: 0 });
  for (let g = 0; g < 30; g++) {
    const { actions, reward } = runEpisode(e, direct, g);
    if (reward !== 1) continue;
    const nOpts = goalOptionValues(e.goal).length;
    assert.equal(actions.filter((a) => a.startsWith("search[")).length, 1, actions.join(" "));
    assert.ok(!actions.includes("click[< prev]") && !actions.includes("click[description]"));
    assert.ok(actions.length >= 3 + nOpts - 1 && actions.length <= 3 + nOpts + 4, actions.join());
    assert.equal(actions.at(-1), "click[buy now]");
  }
});

Deno.test("ExpertPolicy episodes depend on the seed and goal only", () => {
  const a = runEpisode(env(), new ExpertPolicy({ seed: 4 }), 17).actions;
  const e = env();
  // Run other goals first: the episode must not change.
  runEpisode(e, new ExpertPolicy({ seed: 4 }), 3);
  const b = runEpisode(e, new ExpertPolicy({ seed: 4 }), 17).actions;
  assert.deepEqual(a, b);
  const differs = [5, 6, 7, 8, 9, 10].some((g) =>
    JSON.stringify(runEpisode(e, new ExpertPolicy({ seed: 4 }), g).actions) !==
      JSON.stringify(runEpisode(e, new ExpertPolicy({ seed: 5 }), g).actions)
  );
  assert.ok(differs, "another seed changes some episodes");
});

Deno.test("goalOptionValues() and expertQueries() read human and synthetic goals", () => {
  const human = { goal_options: ["Navy", "large"] } as Pick<Goal, "goal_options">;
  assert.deepEqual(goalOptionValues(human), ["navy", "large"]);
  assert.deepEqual(goalOptionValues({ goal_options: { color: "Red", size: "m" } }), ["red", "m"]);
  const goal: Goal = {
    asin: "B000000000",
    category: "fashion",
    query: "men's jeans",
    name: "Acme [Slim] Jeans",
    product_category: "a › b",
    instruction_text: "i want slim fit jeans in navy, and price lower than 40.00 dollars",
    attributes: ["slim fit"],
    price_upper: 40,
    goal_options: ["navy"],
    weight: 1,
  };
  const { queries, vague } = expertQueries(goal, undefined, () => 0.9);
  assert.equal(queries[0], "acme slim jeans", "title query, brackets removed");
  assert.ok(queries.includes("slim fit navy men's jeans"));
  assert.equal(vague, "men's jeans");
  const byInstruction = expertQueries(goal, undefined, () => 0.5).queries[0];
  assert.equal(byInstruction, "i want slim fit jeans in navy", "the price clause is cut");
});

Deno.test("ExpertPolicy rejects bad settings", () => {
  assertThrows(() => new ExpertPolicy({ imperfectRate: 1.5 }), Error, "imperfectRate");
  assertThrows(() => new ExpertPolicy({ maxPages: 0 }), Error, "maxPages");
});

requires([WEBSHOP_SAMPLE], {
  name: "ExpertPolicy buys right on the real WebShop sample (synthetic goals)",
  fn: async () => {
    const dir = new URL("webshop/", SHARED_DIR).pathname;
    const real = await openCatalog(dir, { goals: "synthetic" });
    const e = new WebShopEnv({
      catalog: real.products,
      goals: real.goals,
      rewardMode: "corrected",
    });
    const expert = new ExpertPolicy({ seed: 0 });
    const n = 100;
    let ok = 0;
    for (let g = 0; g < n; g++) {
      if (runEpisode(e, expert, g * 37 % real.goals.length).reward === 1) ok++;
    }
    assert.ok(ok / n >= 0.95, `expert success on the real sample: ${ok}/${n}`);
  },
});

Deno.test('ExpertPolicy accept "fit" buys the first fitting product and pages less than "target"', () => {
  const e = env();
  const fit = new ExpertPolicy({ seed: 0, accept: "fit" });
  const target = new ExpertPolicy({ seed: 0, accept: "target" });
  const next = (a: string[]) => a.filter((x) => x === "click[next >]").length;
  let ok = 0, other = 0, pagesFit = 0, pagesTarget = 0;
  for (let g = 0; g < 100; g++) {
    const r = runEpisode(e, fit, g);
    if (r.reward === 1) ok++;
    if (r.bought && e.page.kind === "done" && e.page.product.asin !== e.goal.asin) other++;
    pagesFit += next(r.actions);
    pagesTarget += next(runEpisode(e, target, g).actions);
  }
  assert.ok(ok >= 95, `fit expert success ${ok}/100`);
  assert.ok(other > 0, "some episodes buy a fitting product other than the goal's own");
  assert.ok(pagesFit < pagesTarget, `Next > clicks: fit ${pagesFit}, target ${pagesTarget}`);
  assert.throws(
    () => new ExpertPolicy({ accept: "any" as "fit" }),
    /accept must be "fit" or "target"/,
  );
});
