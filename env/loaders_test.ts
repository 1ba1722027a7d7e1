import { assertRejects, assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import { pyFloatStr } from "./_python.ts";
import {
  attributeToAsins,
  describeLoad,
  findCatalogFiles,
  JsonParseError,
  JsonTopLevelScanner,
  loadCatalogFromDir,
  loadCatalogFromRecords,
  loadIlTrajectories,
  parseJsonArrayText,
  parsePricing,
  RecordError,
  streamJsonArray,
  streamJsonObject,
} from "./loaders.ts";

import { SHARED } from "./_fixtures.ts";
import { requires, WEBSHOP_SAMPLE } from "../testing/requires.ts";

async function withTempFile<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "loaders_test_" });
  const path = `${dir}/items_shuffle_test.json`;
  await Deno.writeTextFile(path, text);
  try {
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A valid raw product record in items_shuffle format. */
function raw(asin: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    asin,
    name: `Product ${asin}`,
    full_description: "A description.",
    small_description: ["Bullet one", "Bullet two"],
    pricing: "$10.00$20.00",
    images: ["https://example.com/a.jpg"],
    product_category: "Home › Kitchen › Mugs",
    category: "garden",
    query: "Coffee Mugs ",
    customization_options: {
      Color: [{ value: "Black/White", image: "https://example.com/c.jpg" }, { value: " Red " }],
      Size: null,
    },
    brand: "Brand: X",
    ...over,
  };
}

Deno.test("JsonTopLevelScanner equals JSON.parse whatever the chunking", () => {
  const value = [
    { a: 'x"y\\', b: [1, 2, { c: "}]" }], u: "ü€😀", e: "" },
    [],
    {},
    "s,t]",
    -1.5e3,
    null,
    true,
    { nested: { deep: [[['[\\"]']]] } },
  ];
  const text = "\ufeff" + JSON.stringify(value, null, 1);
  const bytes = new TextEncoder().encode(text);
  for (const size of [1, 2, 3, 5, 7, 64, bytes.length]) {
    const scanner = new JsonTopLevelScanner("mem", "array");
    const out: unknown[] = [];
    for (let i = 0; i < bytes.length; i += size) {
      out.push(...scanner.push(bytes.subarray(i, i + size)));
    }
    scanner.end();
    assert.deepEqual(out, value, `chunk size ${size}`);
  }
  assert.deepEqual(parseJsonArrayText("[]"), []);
  assert.deepEqual(parseJsonArrayText(" [ 1 ] \n"), [1]);
});

requires([WEBSHOP_SAMPLE], {
  name: "streamJsonArray() equals JSON.parse on the real sample",
  fn: async () => {
    const path = new URL("items_sample_160.json", SHARED).pathname;
    const streamed = await collect(streamJsonArray(path));
    assert.deepEqual(streamed, JSON.parse(await Deno.readTextFile(path)));
    const attrPath = new URL("items_ins_v2_1000.json", SHARED).pathname;
    const members = await collect(streamJsonObject(attrPath));
    assert.deepEqual(Object.fromEntries(members), JSON.parse(await Deno.readTextFile(attrPath)));
  },
});

Deno.test("streamJsonArray() names the file, byte and line of malformed JSON", async () => {
  const bad = '[\n{"asin": "A1"},\n{"asin": "A2" "name": 1},\n{"asin": "A3"}\n]';
  await withTempFile(bad, async (path) => {
    const err = await collect(streamJsonArray(path)).then(() => null, (e) => e);
    assert.ok(err instanceof JsonParseError, String(err));
    assert.ok(err.message.includes(path), err.message);
    assert.equal(err.line, 3);
    assert.equal(err.byte, bad.indexOf('"name"'));
    assert.ok(err.message.includes("element 1"), err.message);
  });
  const cases: [string, string, number][] = [
    ['[{"a": 1},\n{"b": 2}', "unexpected end of file", 2],
    ['[{"a": 1},]', "empty element 1", 1],
    ['{"a": 1}', "expected a top-level array", 1],
    ["[1]\n]", "after the end of the array", 2],
    ['[{"a": "unterminated]', "inside a string", 1],
  ];
  for (const [text, want, line] of cases) {
    await withTempFile(text, async (path) => {
      await assertRejects(() => collect(streamJsonArray(path)), JsonParseError, want);
      const err = await collect(streamJsonArray(path)).then(() => null, (e) => e);
      assert.equal(err.line, line, text);
      assert.ok(err.message.startsWith(path), err.message);
    });
  }
});

Deno.test("pricing and price tags follow WebShop's rules", () => {
  assert.deepEqual(parsePricing("$78.42$94.90"), {
    pricing: [78.42, 94.9],
    tag: "$78.42 to $94.9",
  });
  assert.deepEqual(parsePricing(""), { pricing: [100], tag: "$100.0" });
  assert.deepEqual(parsePricing(null), { pricing: [100], tag: "$100.0" });
  assert.deepEqual(parsePricing("$1,299.00"), { pricing: [1299], tag: "$1299.0" });
  assert.deepEqual(parsePricing("$12.99 - $15.99"), {
    pricing: [12.99, 15.99],
    tag: "$12.99 to $15.99",
  });
  assert.deepEqual(parsePricing("$12$15$20"), { pricing: [12, 15], tag: "$12.0 to $15.0" });
  assert.equal(parsePricing("12.99"), null);
  assert.equal(parsePricing("$"), null);
  assert.equal(parsePricing(12), null);
  assert.equal(pyFloatStr(100), "100.0");
  assert.equal(pyFloatStr(0.1), "0.1");
  assert.equal(pyFloatStr(1e16), "1e+16");
  assert.equal(pyFloatStr(1.5e-5), "1.5e-05");
});

Deno.test("loadCatalogFromRecords() cleans records as WebShop's load_products", () => {
  const records = [
    raw("B000000001"),
    raw("B000000001", { name: "duplicate" }),
    raw("nan"),
    raw("LK_COLOR_B000000002"),
    raw("B000000003", { pricing: "$5.5", small_description: "One string", images: [] }),
    raw("B000000004", { customization_options: null, full_description: null }),
  ];
  const attributes = {
    B000000001: {
      attributes: ["dishwasher safe"],
      instruction: "Find mugs",
      instruction_attributes: ["dishwasher safe"],
    },
  };
  const { products, byAsin, stats } = loadCatalogFromRecords({ products: records, attributes });
  assert.deepEqual(
    { ...stats, ms: 0 },
    {
      records: 6,
      products: 3,
      duplicates: 1,
      badAsin: 2,
      invalid: 0,
      noAttributes: 2,
      issues: [],
      ms: 0,
    },
  );
  const p = byAsin.get("B000000001")!;
  assert.equal(p.name, "Product B000000001"); // the first copy wins
  assert.equal(p.Title, p.name);
  assert.equal(p.Description, "A description.");
  assert.deepEqual(p.BulletPoints, ["Bullet one", "Bullet two"]);
  assert.deepEqual(p.Attributes, ["dishwasher safe"]);
  assert.equal(p.query, "coffee mugs");
  assert.deepEqual(p.pricing, [10, 20]);
  assert.equal(p.Price, "$10.0 to $20.0");
  assert.ok(p.price >= 10 && p.price <= 20);
  assert.deepEqual(p.options, { color: ["black | white", "red"] });
  assert.deepEqual(p.option_to_image, { "black | white": "https://example.com/c.jpg", red: null });
  assert.equal(p.MainImage, "https://example.com/a.jpg");
  assert.equal(p.Rating, "N.A.");
  assert.equal(p.instruction_text, "Find mugs");
  assert.equal("brand" in p, false);
  const q = byAsin.get("B000000003")!;
  assert.deepEqual([q.pricing, q.Price, q.price], [[5.5], "$5.5", 5.5]);
  assert.deepEqual(q.BulletPoints, ["One string"]);
  assert.deepEqual(q.Attributes, ["DUMMY_ATTR"]);
  assert.equal(q.MainImage, null);
  const r = byAsin.get("B000000004")!;
  assert.deepEqual([r.options, r.Description, r.instruction_text], [{}, "", null]);
  assert.deepEqual(products.map((x) => x.asin), ["B000000001", "B000000003", "B000000004"]);
  assert.deepEqual(
    attributeToAsins(products).get("DUMMY_ATTR"),
    new Set(["B000000003", "B000000004"]),
  );
  // numProducts keeps the first N records, before de-duplication (WebShop's products[:N]).
  assert.equal(
    loadCatalogFromRecords({ products: records }, { numProducts: 2 }).products.length,
    1,
  );
});

Deno.test("invalid records are skipped with a count, or throw under strict", () => {
  const records = [
    raw("B000000001"),
    { asin: "B000000002", name: "no category" },
    42,
    raw("B000000003", { pricing: "$" }),
  ];
  const { products, stats } = loadCatalogFromRecords({ products: records });
  assert.equal(products.length, 1);
  assert.equal(stats.invalid, 3);
  assert.deepEqual(stats.issues.map((i) => [i.index, i.asin]), [[1, "B000000002"], [2, undefined], [
    3,
    "B000000003",
  ]]);
  assert.ok(stats.issues[0].reason.includes("'product_category'"), stats.issues[0].reason);
  assert.ok(stats.issues[2].reason.includes("pricing"), stats.issues[2].reason);
  assertThrows(
    () => loadCatalogFromRecords({ products: records }, { strict: true }),
    RecordError,
    "record 1 (asin B000000002)",
  );
});

Deno.test("prices are deterministic for a seed and differ across seeds", () => {
  const records = Array.from({ length: 50 }, (_, i) => raw(`B${String(i).padStart(9, "0")}`));
  const prices = (seed: number) =>
    loadCatalogFromRecords({ products: records }, { seed }).products.map((p) => p.price);
  assert.deepEqual(prices(1), prices(1));
  assert.notDeepEqual(prices(1), prices(2));
  for (const x of prices(3)) assert.ok(x >= 10 && x <= 20, String(x));
});

Deno.test("findCatalogFiles() takes WebShop's names and refuses two candidates", () => {
  assert.deepEqual(
    findCatalogFiles([
      "items_shuffle_1000.json",
      "items_ins_v2_1000.json",
      "human_goals.json",
      "other.json",
    ]),
    {
      products: "items_shuffle_1000.json",
      attributes: "items_ins_v2_1000.json",
      humanInstructions: undefined,
      humanGoals: "human_goals.json",
      goalQueryMap: undefined,
    },
  );
  assert.equal(findCatalogFiles(["items_shuffle_100k.json"]).products, "items_shuffle_100k.json");
  assert.equal(findCatalogFiles(["items_sample_160.json"]).products, "items_sample_160.json");
  assert.equal(findCatalogFiles(["other.json"]).products, undefined);
  assertThrows(
    () => findCatalogFiles(["items_shuffle.json", "items_shuffle_1000.json"]),
    Error,
    "more than one product file: items_shuffle.json, items_shuffle_1000.json",
  );
  assertThrows(
    () => findCatalogFiles(["items_sample_160.json", "items_shuffle.json"]),
    Error,
    "items_sample_160.json, items_shuffle.json",
  );
  assertThrows(
    () => findCatalogFiles(["items_ins_v2.json", "items_ins_v2_1000.json"]),
    Error,
    "more than one attribute file",
  );
});

Deno.test("loadCatalogFromDir() counts skipped records, and --strict names file, record and field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loaders_test_" });
  try {
    const path = `${dir}/items_shuffle.json`;
    const { name: _name, ...noName } = raw("B000000002");
    await Deno.writeTextFile(path, JSON.stringify([raw("B000000001"), noName, raw("B000000001")]));
    const c = await loadCatalogFromDir(dir, { goals: "none" });
    assert.equal(c.products.length, 1);
    const line = describeLoad(c.stats);
    assert.match(line, /^1 products loaded, 2 skipped \(1 invalid, 1 duplicate ASIN\)/);
    assert.match(line, /items_shuffle\.json: record 1 \(asin B000000002\): .*name/);
    await assertRejects(
      () => loadCatalogFromDir(dir, { goals: "none", strict: true }),
      RecordError,
      "items_shuffle.json: record 1 (asin B000000002)",
    );
    await Deno.writeTextFile(path, JSON.stringify([noName, { asin: "B000000003" }]));
    await assertRejects(
      () => loadCatalogFromDir(dir, { goals: "none" }),
      Error,
      "all 2 product records are invalid",
    );
    await Deno.writeTextFile(`${dir}/items_shuffle_1000.json`, "[]");
    await assertRejects(
      () => loadCatalogFromDir(dir),
      Error,
      "more than one product file: items_shuffle.json, items_shuffle_1000.json",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

requires([WEBSHOP_SAMPLE], {
  name: "loadCatalogFromDir() loads the real 160-product sample",
  fn: async () => {
    const t0 = performance.now();
    const c = await loadCatalogFromDir(SHARED.pathname, { seed: 7 });
    console.log(
      `160-product sample + attributes + goals loaded in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    assert.equal(c.stats.records, 160);
    assert.equal(c.products.length, 160);
    assert.equal(c.stats.invalid + c.stats.duplicates + c.stats.badAsin, 0);
    assert.equal(c.humanGoals?.length, 12087);
    assert.equal(Object.keys(c.goalQueryMap ?? {}).length, 1506);
    assert.equal(c.products.filter((p) => p.instruction_text).length, 103);
    let slashValues = 0;
    for (const p of c.products) {
      // Some ranges are written high to low ("$44.99$33.98"); uniform() draws between either way.
      const lo = Math.min(...p.pricing), hi = Math.max(...p.pricing);
      assert.ok(p.price >= lo && p.price <= hi, p.asin);
      for (const [name, values] of Object.entries(p.options)) {
        assert.equal(name, name.toLowerCase());
        for (const v of values) {
          assert.equal(v, v.toLowerCase());
          assert.ok(!v.includes("/"), v);
          if (v.includes(" | ")) slashValues++;
        }
      }
    }
    assert.equal(slashValues, 55); // option values with "/" in the raw file
    assert.equal(c.products.filter((p) => p.pricing.length === 2).length, 79);
    assert.equal(c.products.filter((p) => p.Price === "$100.0").length, 4);
    const again = await loadCatalogFromDir(SHARED.pathname, { seed: 7 });
    assert.deepEqual(again.products.map((p) => p.price), c.products.map((p) => p.price));
    // The in-memory path cleans identically.
    const records = JSON.parse(await Deno.readTextFile(new URL("items_sample_160.json", SHARED)));
    const attributes = JSON.parse(
      await Deno.readTextFile(new URL("items_ins_v2_1000.json", SHARED)),
    );
    const mem = loadCatalogFromRecords({ products: records, attributes }, { seed: 7 });
    assert.deepEqual(mem.products, c.products);
  },
});

Deno.test("loadIlTrajectories() reads il_trajs lines and reports bad ones", async () => {
  const good = {
    states: ["WebShop\nInstruction: i need a mug", "s1"],
    available_actions: [["search"], ["click[b1]", "click[b2]"]],
    action_idxs: [-1, 1],
    actions: ["search[mug]", "click[b2]"],
  };
  const badIdx = { ...good, action_idxs: [-1, 5] };
  const ragged = { ...good, states: ["WebShop\nInstruction: x"] };
  const text = [good, badIdx, ragged].map((x) => JSON.stringify(x)).join("\n") + "\n\n";
  await withTempFile(text, async (path) => {
    const r = await loadIlTrajectories(path);
    assert.equal(r.trajectories.length, 2);
    assert.deepEqual({ ...r.stats, issues: r.stats.issues.map((i) => i.index) }, {
      lines: 3,
      invalid: 1,
      ragged: 1,
      issues: [1],
    });
    assert.ok(r.stats.issues[0].reason.includes("action_idxs[1] = 5"));
    await assertRejects(() => loadIlTrajectories(path, { strict: true }), RecordError, "record 1");
  });
  await withTempFile(JSON.stringify(good) + "\n{bad json\n", async (path) => {
    const err = await loadIlTrajectories(path).then(() => null, (e) => e);
    assert.ok(err instanceof JsonParseError);
    assert.equal(err.line, 2);
    assert.ok(err.message.includes(path));
  });
});
