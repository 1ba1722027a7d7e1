import { assertRejects, assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import { ilGoalText, makeGoals } from "./goals.ts";
import { loadCatalogFromDir, loadCatalogFromRecords } from "./loaders.ts";
import { renderSearchPage } from "./pages.ts";
import { getReward } from "./reward.ts";
import {
  clearlyDifferentOption,
  generateSyntheticCatalog,
  loadSyntheticCatalog,
  processInstruction,
  syntheticFileNames,
  writeSyntheticCatalog,
} from "./synthetic.ts";
import { CATEGORIES, PRODUCT_TYPES } from "./synthetic_vocab.ts";
import type { Product } from "./types.ts";

// One shared small catalog keeps the suite fast; tests that need another build their own.
const SMALL = loadSyntheticCatalog({ numProducts: 200, seed: 3 });

Deno.test("generateSyntheticCatalog() is deterministic for a seed and differs across seeds", () => {
  const a = JSON.stringify(generateSyntheticCatalog({ numProducts: 150, seed: 7 }));
  const b = JSON.stringify(generateSyntheticCatalog({ numProducts: 150, seed: 7 }));
  const c = JSON.stringify(generateSyntheticCatalog({ numProducts: 150, seed: 8 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

Deno.test("generateSyntheticCatalog() writes records in WebShop's raw formats", () => {
  const raw = SMALL.raw;
  assert.equal(raw.products.length, 200);
  const asins = new Set<string>();
  for (const p of raw.products) {
    assert.match(p.asin, /^B0[A-Z0-9]{8}$/);
    asins.add(p.asin);
    assert.match(p.pricing as string, /^(\$\d+\.\d{2}){1,2}$/, p.asin);
    assert.ok(p.product_category.split(" › ").length >= 3, p.product_category);
    assert.ok(Array.isArray(p.small_description) && p.small_description.length >= 3);
    assert.ok(typeof p.full_description === "string" && p.full_description.length > 40);
    assert.ok(Array.isArray(p.images) && p.images.length >= 3);
    for (const [name, values] of Object.entries(p.customization_options ?? {})) {
      assert.match(name, /^[A-Z]/);
      assert.ok(values && values.length >= 1 && values.every((v) => typeof v.value === "string"));
      assert.ok(values!.every((v) => !v.value.includes("/")), "a '/' would be rewritten");
    }
    const entry = raw.attributes[p.asin];
    assert.ok(entry && entry.attributes && entry.attributes.length >= 3, p.asin);
    if (entry.instruction) {
      assert.match(entry.instruction, /^Find me /);
      assert.ok(entry.instruction_attributes!.every((a) => entry.attributes!.includes(a)));
    }
  }
  assert.equal(asins.size, 200, "ASINs are unique");
  const withIns = Object.values(raw.attributes).filter((e) => e.instruction).length;
  assert.ok(withIns > 40 && withIns < 120, `about 40% have a synthetic instruction: ${withIns}`);
  for (const list of Object.values(raw.humanInstructions)) {
    for (const h of list) {
      assert.ok(asins.has(h.asin!));
      assert.ok(h.instruction_attributes.length >= 1);
      assert.equal(processInstruction(h.instruction), processInstruction(h.instruction).trim());
    }
  }
  assert.equal(new Set(raw.humanGoals).size, raw.humanGoals.length, "goal strings are unique");
});

Deno.test("synthetic records pass the loaders' cleaning with nothing skipped", () => {
  const { stats } = loadCatalogFromRecords(SMALL.raw);
  assert.equal(stats.products, 200);
  assert.equal(stats.invalid, 0);
  assert.equal(stats.duplicates, 0);
  assert.equal(stats.badAsin, 0);
  assert.equal(stats.noAttributes, 0);
  assert.deepEqual(stats.issues, []);
});

Deno.test("generateSyntheticCatalog() covers all five categories at 200 products", () => {
  const seen = new Set(SMALL.products.map((p) => p.category));
  assert.deepEqual([...seen].sort(), [...CATEGORIES].sort());
  assert.equal(new Set(PRODUCT_TYPES.map((t) => t.category)).size, 5);
});

Deno.test("product-type vocab never writes an attribute into generic text", () => {
  // A lookalike drops an attribute; generic fragments containing it would put it back.
  for (const t of PRODUCT_TYPES) {
    const generic = [...t.titleWords, t.titleNoun, t.noun, ...t.details, ...t.materials]
      .map((s) => s.toLowerCase());
    for (const a of t.attributes) {
      for (const s of generic) assert.ok(!s.includes(a), `${t.query}: "${s}" contains "${a}"`);
    }
  }
});

Deno.test("goals built from the human instructions are valid", () => {
  const { goals, stats } = makeGoals(SMALL.products, "human");
  assert.equal(stats.skippedNoAttributes, 0);
  assert.equal(goals.length, SMALL.raw.humanGoals.length);
  assert.equal(goals.length, 400, "default is 2 goals per product");
  const byAsin = new Map(SMALL.products.map((p) => [p.asin, p]));
  for (const g of goals) {
    const p = byAsin.get(g.asin)!;
    assert.ok(g.attributes.length >= 1);
    assert.ok(g.attributes.every((a) => p.Attributes.includes(a)), g.instruction_text);
    assert.ok(g.price_upper > p.price && g.price_upper < 1000000, g.instruction_text);
    assert.match(g.instruction_text, /, and price lower than \d+\.00 dollars$/);
    const values = new Set(Object.values(p.options).flat());
    for (const o of g.goal_options as string[]) assert.ok(values.has(o), `${o} is an option`);
  }
});

Deno.test("human_goals.json lists the env's goals in their shuffled order", () => {
  // The split of demonstrations (by human_goals index) must equal the env's goal split.
  const { goals } = makeGoals(SMALL.products, "human");
  goals.forEach((g, i) => {
    assert.equal(
      ilGoalText(renderSearchPage("text_rich", g.instruction_text)),
      SMALL.raw.humanGoals[i],
    );
  });
});

/** Whether buying `p` with the goal's options where it has them scores below 1. */
function misleads(p: Product, goal: ReturnType<typeof makeGoals>["goals"][number]): boolean {
  const values = new Set(Object.values(p.options).flat());
  const chosen: Record<string, string> = {};
  for (const o of goal.goal_options as string[]) if (values.has(o)) chosen[o] = o;
  return getReward(p, goal, p.price, chosen, { mode: "corrected" }) < 1;
}

Deno.test("most goals have a same-title lookalike that scores below 1", () => {
  const { goals } = makeGoals(SMALL.products, "human");
  const byTitle = new Map<string, Product[]>();
  for (const p of SMALL.products) {
    const list = byTitle.get(p.Title);
    if (list) list.push(p);
    else byTitle.set(p.Title, [p]);
  }
  let twin = 0, misleading = 0;
  for (const g of goals) {
    const others = byTitle.get(g.name)!.filter((p) => p.asin !== g.asin);
    if (others.length > 0) twin++;
    if (others.some((p) => misleads(p, g))) misleading++;
  }
  assert.ok(twin / goals.length > 0.75, `goals with a same-title product: ${twin}/${goals.length}`);
  assert.ok(
    misleading / goals.length > 0.6,
    `goals with a misleading lookalike: ${misleading}/${goals.length}`,
  );
  // And the lookalike records say what is off.
  const kinds = new Set(SMALL.raw.lookalikes.map((l) => l.kind));
  assert.deepEqual([...kinds].sort(), ["attribute", "option", "price"]);
});

Deno.test("clearlyDifferentOption() rejects values fuzzy matching would confuse", () => {
  assert.equal(clearlyDifferentOption("8", "8.5"), false);
  assert.equal(clearlyDifferentOption("Large", "X-Large"), false);
  assert.equal(clearlyDifferentOption("Black", "Black White"), false);
  assert.equal(clearlyDifferentOption("Navy", "Dark Navy"), false);
  assert.equal(clearlyDifferentOption("Navy", "Royal Blue"), true);
  assert.equal(clearlyDifferentOption("12 Count", "Pack of 6"), true);
});

Deno.test("processInstruction() gives the human_goals.json form", () => {
  assert.equal(processInstruction('I\'m looking for a "red" mug.'), "im looking for a red mug");
  assert.equal(processInstruction("..find me soap.."), "find me soap");
});

Deno.test("generateSyntheticCatalog() rejects bad options by name", () => {
  assertThrows(() => generateSyntheticCatalog({ numProducts: 0 }), Error, "numProducts");
  assertThrows(() => generateSyntheticCatalog({ seed: 1.5 }), Error, "seed");
  assertThrows(() => generateSyntheticCatalog({ numHumanGoals: -1 }), Error, "numHumanGoals");
  assertThrows(() => generateSyntheticCatalog({ lookalikeRate: 2 }), Error, "lookalikeRate");
});

Deno.test("writeSyntheticCatalog() files load back to the same catalog and goals", async () => {
  const cat = loadSyntheticCatalog({ numProducts: 120, seed: 5 });
  const dir = await Deno.makeTempDir({ prefix: "synthetic_test_" });
  try {
    const sizes = await writeSyntheticCatalog(dir, cat.raw);
    const names = syntheticFileNames(120);
    assert.equal(names.products, "items_shuffle.json");
    assert.equal(syntheticFileNames(1000).products, "items_shuffle_1000.json");
    assert.deepEqual(Object.keys(sizes).sort(), Object.values(names).sort());
    const listed: string[] = [];
    for await (const e of Deno.readDir(dir)) listed.push(e.name);
    assert.ok(!listed.some((n) => n.includes(".tmp-")), "no temporary file is left");
    const back = await loadCatalogFromDir(dir);
    assert.equal(back.stats.invalid + back.stats.duplicates + back.stats.noAttributes, 0);
    assert.deepEqual(back.products.map((p) => p.asin), cat.products.map((p) => p.asin));
    assert.deepEqual(back.products.map((p) => p.price), cat.products.map((p) => p.price));
    assert.equal(back.goalKind, "human");
    assert.deepEqual(
      back.goals!.map((g) => g.instruction_text),
      cat.goals.map((g) => g.instruction_text),
    );
    assert.deepEqual(back.humanGoals, cat.raw.humanGoals);
    assert.deepEqual(back.goalQueryMap, cat.raw.goalQueryMap);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeSyntheticCatalog() refuses a folder with files and writes all or nothing", async () => {
  const small = generateSyntheticCatalog({ numProducts: 40, seed: 1 });
  const dir = await Deno.makeTempDir({ prefix: "synthetic_test_" });
  try {
    await writeSyntheticCatalog(`${dir}/a`, small);
    await assertRejects(
      () => writeSyntheticCatalog(`${dir}/a/`, small),
      Error,
      `${dir}/a is not empty (5 entries: goal_query_map.json, human_goals.json,`,
    );
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assertRejects(() => writeSyntheticCatalog(`${dir}/file`, small), Error, "not a folder");
    // A failure part-way leaves neither the folder nor the staging folder behind.
    await assertRejects(
      () =>
        writeSyntheticCatalog(`${dir}/b`, small, {
          extra: () => Promise.reject(new Error("disk full")),
        }),
      Error,
      "disk full",
    );
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["a", "file"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generateSyntheticCatalog() default catalog is pinned byte for byte (SHA-256 of its JSON)", async () => {
  // Pinned before env got its own generator: moving code must not change a single record.
  const json = JSON.stringify(generateSyntheticCatalog());
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(json)),
  );
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(hex, "b2240ff1c19dad1b401065979e3f09f35aab1716f185c5abf12c0bfc03d2c8c4");
});
