import { deepStrictEqual as assertEquals } from "node:assert/strict";
import seedrandom from "seedrandom";
import { makeProduct, smallCatalog } from "./_fixtures.ts";
import {
  analyze,
  documentText,
  PRODUCT_WINDOW,
  productsOnPage,
  SEARCH_RETURN_N,
  SearchEngine,
  tokenize,
} from "./search.ts";
import type { Product } from "./types.ts";

Deno.test("documentText() is WebShop's indexed contents", () => {
  const [shoe] = smallCatalog();
  assertEquals(
    documentText(shoe),
    "red running shoes light running shoes in red. rubber sole " +
      "color: red, blue | white, and size: 7, 8.5",
  );
  assertEquals(documentText(makeProduct({ asin: "B1", Title: "Mug" })), "mug   ");
});

Deno.test("analyze() tokenizes, drops Lucene stop words and Porter-stems", () => {
  assertEquals(tokenize("Men's 40.00 x-large, 1,000 e.g."), [
    "men's",
    "40.00",
    "x",
    "large",
    "1,000",
    "e.g",
  ]);
  assertEquals(analyze("The running shoes are for the men's team"), ["run", "shoe", "men", "team"]);
  assertEquals(analyze("a an and of with"), []);
});

/** Lucene-style BM25 (k1 0.9, b 0.4) over `analyze`, written plainly as the reference. */
function referenceRank(products: readonly Product[], query: string, n: number): number[] {
  const docs = products.map((p) => analyze(documentText(p)));
  const avg = docs.reduce((s, d) => s + d.length, 0) / docs.length;
  const scores = docs.map((d) => {
    let s = 0;
    for (const t of analyze(query)) {
      const tf = d.filter((x) => x === t).length;
      if (tf === 0) continue;
      const df = docs.filter((x) => x.includes(t)).length;
      const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
      s += idf * tf * 1.9 / (tf + 0.9 * (1 - 0.4 + 0.4 * d.length / avg));
    }
    return s;
  });
  return scores.map((s, i) => ({ s, i })).filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || a.i - b.i).slice(0, n).map((x) => x.i);
}

function randomCatalog(n: number, seed: string): Product[] {
  const rng = seedrandom.alea(seed);
  const words = [
    "red",
    "blue",
    "shoe",
    "shoes",
    "running",
    "mug",
    "coffee",
    "leather",
    "wool",
    "sock",
    "men",
    "women",
    "large",
    "small",
    "pack",
  ];
  const pick = (k: number) =>
    Array.from({ length: k }, () => words[Math.floor(rng() * words.length)]).join(" ");
  return Array.from({ length: n }, (_, i) =>
    makeProduct({
      asin: `B${String(i).padStart(9, "0")}`,
      Title: pick(3 + Math.floor(rng() * 4)),
      Description: pick(Math.floor(rng() * 20)),
      BulletPoints: [pick(3)],
      options: rng() < 0.5 ? { color: [pick(1), pick(1)] } : {},
    }));
}

Deno.test("SearchEngine.rank() agrees with a plain BM25 reference, ties by catalog order", () => {
  const products = randomCatalog(300, "bm25");
  const words = [
    "red",
    "shoes",
    "running",
    "mug",
    "wool sock",
    "men large",
    "the coffee",
    "blue blue",
  ];
  for (const backend of ["minisearch", "compact"] as const) {
    const engine = new SearchEngine(products, { backend });
    const rng = seedrandom.alea("q");
    for (let i = 0; i < 30; i++) {
      const q = words[Math.floor(rng() * words.length)] + " " +
        words[Math.floor(rng() * words.length)];
      assertEquals(engine.rank(q, 50), referenceRank(products, q, 50), `${backend}, query "${q}"`);
    }
    assertEquals(engine.rank("the of and"), []);
    assertEquals(engine.rank("zzz"), []);
  }
});

Deno.test("SearchEngine backends rank identically on long queries", () => {
  const products = randomCatalog(1500, "backends");
  const mini = new SearchEngine(products, { backend: "minisearch" });
  const compact = new SearchEngine(products, { backend: "compact" });
  assertEquals([mini.backend, compact.backend], ["minisearch", "compact"]);
  const rng = seedrandom.alea("long");
  for (let i = 0; i < 40; i++) {
    const q = products[Math.floor(rng() * products.length)].Title + " " +
      products[Math.floor(rng() * products.length)].BulletPoints[0];
    assertEquals(compact.rank(q, 50), mini.rank(q, 50), `query "${q}"`);
  }
});

Deno.test("SearchEngine.search() returns the top 50 and pages of 10", () => {
  const products = randomCatalog(120, "top");
  const engine = new SearchEngine(products);
  const res = engine.search("shoes red".split(" "));
  assertEquals(res.length, SEARCH_RETURN_N);
  assertEquals(productsOnPage(res, 1), res.slice(0, PRODUCT_WINDOW));
  assertEquals(productsOnPage(res, 5), res.slice(40, 50));
  assertEquals(productsOnPage(res, 6), []);
  // The cache hands back the same ranking.
  assertEquals(engine.search("shoes red"), res);
  const small = new SearchEngine(smallCatalog());
  assertEquals(small.search(["running", "shoes"])[0].asin, "B000000001");
  assertEquals(small.search(["coffee"]).map((p) => p.asin), ["B000000004"]);
});

Deno.test("SearchEngine.search() handles <r>, <a>, <c> and <q> as engine.py", () => {
  const products = smallCatalog();
  const engine = new SearchEngine(products);
  const r = engine.search(["<r>"], seedrandom.alea("r"));
  assertEquals(r.length, 4);
  assertEquals(new Set(r.map((p) => p.asin)).size, 4);
  assertEquals(engine.search(["<a>", "rubber", "sole"]).map((p) => p.asin), ["B000000001"]);
  assertEquals(engine.search(["<c>", "furniture", "ignored"]).map((p) => p.asin), ["B000000004"]);
  assertEquals(engine.search(["<q>", "shoes"]).length, 3);
  assertEquals(engine.search(["<q>", "nothing"]), []);
  const big = new SearchEngine(randomCatalog(80, "r"));
  assertEquals(big.search(["<r>"], seedrandom.alea("s")).length, 50);
});
