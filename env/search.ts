/**
 * WebShop's product search: BM25 over the text WebShop indexes, top 50 results, 10 per page, and
 * the special queries of engine.py `get_top_n_product_from_keywords`.
 *
 * WebShop indexes with Lucene (pyserini, search_engine/convert_product_file_format.py): one
 * field `contents` = lower-cased `Title + " " + Description + " " + BulletPoints[0] + " " +
 * option text`, where the option text is `"name: v1, v2, and name2: w1"`. Pyserini's default
 * analyzer tokenizes (Unicode word rules), lower-cases, drops Lucene's 33 English stop words and
 * applies the Porter stemmer; its BM25 uses k1 = 0.9, b = 0.4. We reproduce that with
 * `minisearch` (BM25 with `d = 0` is Lucene's BM25 up to a constant factor) and the `stemmer`
 * package (Porter's original algorithm, as Lucene's `PorterStemFilter`); document length counts
 * every indexed token as Lucene does (see `occurrenceTokens`). Ties break by catalog
 * order, as Lucene breaks them by document id. Lucene's one-byte document-length encoding is not
 * reproduced, so near-ties can order differently from the original index.
 *
 * Large catalogs use a second backend (`backend: "compact"`, chosen automatically above 2,000
 * products): the same analysis and BM25 formula over typed-array postings, tested to rank
 * exactly as the minisearch backend, without minisearch's index-build and per-query costs.
 *
 * @module
 */

import MiniSearch from "minisearch";
import { stemmer } from "stemmer";
import type { Product } from "./types.ts";

/** How many products one search returns (engine.py `SEARCH_RETURN_N`). */
export const SEARCH_RETURN_N = 50;
/** Products per results page (engine.py `PRODUCT_WINDOW`). */
export const PRODUCT_WINDOW = 10;

/** Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`, used by pyserini's default analyzer. */
export const LUCENE_STOP_WORDS: ReadonlySet<string> = new Set([
  "a",
  "an",
  "and",
  "are",
  "as",
  "at",
  "be",
  "but",
  "by",
  "for",
  "if",
  "in",
  "into",
  "is",
  "it",
  "no",
  "not",
  "of",
  "on",
  "or",
  "such",
  "that",
  "the",
  "their",
  "then",
  "there",
  "these",
  "they",
  "this",
  "to",
  "was",
  "will",
  "with",
]);

// Approximates Lucene's StandardTokenizer (UAX #29 word breaks): letters and digits, joined
// across "." and "'" inside a word ("e.g", "don't", "40.00") and across "," between digits
// ("1,000").
const TOKEN_RE = /[\p{L}\p{N}_]+(?:['’.][\p{L}\p{N}_]+|,\p{N}+)*/gu;

/** Splits text into Lucene-like word tokens (lower-cased). */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN_RE) ?? [];
}

// The vocabulary is small next to the token count, so each distinct token is stemmed once.
const stemCache = new Map<string, string | null>();

/**
 * One token through pyserini's default filters: English possessive removal, stop words, Porter
 * stemming. Returns null for a stop word.
 */
export function processTerm(token: string): string | null {
  const hit = stemCache.get(token);
  if (hit !== undefined) return hit;
  let t = token.toLowerCase();
  if (t.endsWith("'s") || t.endsWith("’s")) t = t.slice(0, -2);
  const out = t === "" || LUCENE_STOP_WORDS.has(t) ? null : stemmer(t);
  if (stemCache.size < 1_000_000) stemCache.set(token, out);
  return out;
}

/** The analyzed terms of a text, as the index sees them. */
export function analyze(text: string): string[] {
  const out: string[] = [];
  for (const tok of tokenize(text)) {
    const t = processTerm(tok);
    if (t !== null) out.push(t);
  }
  return out;
}

// minisearch takes a field's length to be its number of DISTINCT tokens, where Lucene's BM25
// counts every indexed token. Tokens are therefore analyzed up front and repeats are tagged
// ("shoe", "shoe\u00012", ...) so they are distinct to minisearch's count; `stripOccurrence`
// removes the tag before a term reaches the index or a query.
function occurrenceTokens(text: string): string[] {
  const seen = new Map<string, number>();
  const out = analyze(text);
  for (let i = 0; i < out.length; i++) {
    const n = (seen.get(out[i]) ?? 0) + 1;
    seen.set(out[i], n);
    if (n > 1) out[i] = `${out[i]}\u0001${n}`;
  }
  return out;
}

function stripOccurrence(token: string): string {
  const cut = token.indexOf("\u0001");
  return cut < 0 ? token : token.slice(0, cut);
}

/** The document text WebShop indexes for a product (convert_product_file_format.py). */
export function documentText(p: Product): string {
  const optionTexts: string[] = [];
  for (const [name, values] of Object.entries(p.options ?? {})) {
    optionTexts.push(`${name}: ${values.join(", ")}`);
  }
  return [p.Title, p.Description, p.BulletPoints[0] ?? "", optionTexts.join(", and ")]
    .join(" ")
    .toLowerCase();
}

/** Search engine settings; defaults are pyserini's. */
export interface SearchEngineOptions {
  /** BM25 term-frequency saturation (pyserini default 0.9). */
  k1?: number;
  /** BM25 length normalisation (pyserini default 0.4). */
  b?: number;
  /** Results per query (WebShop: 50). */
  returnN?: number;
  /** Distinct keyword queries whose results are kept (a search is the env's costliest step). */
  cacheSize?: number;
  /**
   * Index implementation: "minisearch", or "compact" (typed-array postings, the same scores and
   * ranking, built for 100k-product catalogs where minisearch's index build and per-query result
   * objects dominate: on long queries compact is ~40x faster at 1k products and ~150x at 20k).
   * Default "auto": minisearch up to 2,000 products (WebShop's 100 and 1k settings), compact
   * above.
   */
  backend?: "auto" | "minisearch" | "compact";
}

/** A uniform random number in [0, 1), for `<r>` queries. */
export type Rng = () => number;

/**
 * BM25 index over a catalog with WebShop's query semantics.
 *
 * @example
 * ```ts
 * const engine = new SearchEngine(products);
 * const top = engine.search("red running shoes".split(" "));
 * const firstPage = productsOnPage(top, 1);
 * ```
 */
export class SearchEngine {
  /** The catalog, in index order. */
  readonly products: readonly Product[];
  /** ASIN -> product. */
  readonly byAsin: ReadonlyMap<string, Product>;
  /** Milliseconds spent building the index. */
  readonly indexMs: number;
  /** The index implementation in use. */
  readonly backend: "minisearch" | "compact";
  readonly #index: MiniSearch<{ id: number; contents: string }> | null = null;
  readonly #compact: CompactBm25 | null = null;
  readonly #returnN: number;
  readonly #bm25: { k: number; b: number; d: number };
  readonly #cache = new Map<string, Product[]>();
  readonly #cacheSize: number;
  #attributeToProducts: Map<string, Product[]> | null = null;

  constructor(products: readonly Product[], options: SearchEngineOptions = {}) {
    const t0 = performance.now();
    this.products = products;
    const byAsin = new Map<string, Product>();
    for (const p of products) if (!byAsin.has(p.asin)) byAsin.set(p.asin, p);
    this.byAsin = byAsin;
    this.#returnN = options.returnN ?? SEARCH_RETURN_N;
    this.#cacheSize = options.cacheSize ?? 4096;
    this.#bm25 = { k: options.k1 ?? 0.9, b: options.b ?? 0.4, d: 0 };
    if (!(this.#bm25.k > 0) || !(this.#bm25.b >= 0 && this.#bm25.b <= 1)) {
      throw new Error(
        `SearchEngine: need k1 > 0 and 0 <= b <= 1, got k1=${this.#bm25.k} b=${this.#bm25.b}`,
      );
    }
    const backend = options.backend ?? "auto";
    if (!["auto", "minisearch", "compact"].includes(backend)) {
      throw new Error(
        `SearchEngine: backend must be auto, minisearch or compact, got "${backend}"`,
      );
    }
    this.backend = backend === "auto"
      ? (products.length <= 2_000 ? "minisearch" : "compact")
      : backend;
    if (this.backend === "compact") {
      this.#compact = new CompactBm25(products, this.#bm25.k, this.#bm25.b);
    } else {
      this.#index = new MiniSearch<{ id: number; contents: string }>({
        fields: ["contents"],
        idField: "id",
        tokenize: occurrenceTokens,
        processTerm: stripOccurrence,
        searchOptions: { bm25: this.#bm25, combineWith: "OR", prefix: false, fuzzy: false },
      });
      // Index in chunks so a large catalog never holds all document strings at once.
      const chunk = 2048;
      for (let i = 0; i < products.length; i += chunk) {
        const docs = [];
        for (let j = i; j < Math.min(products.length, i + chunk); j++) {
          docs.push({ id: j, contents: documentText(products[j]) });
        }
        this.#index.addAll(docs);
      }
    }
    this.indexMs = performance.now() - t0;
  }

  /**
   * Indices of the top `n` products for a free-text query, by BM25 (sum over query terms, each
   * occurrence counted, as Lucene's OR query), ties by catalog order.
   */
  rank(query: string, n: number = this.#returnN): number[] {
    if (analyze(query).length === 0) return [];
    if (this.#compact) return this.#compact.rank(query, n);
    const hits = this.#index!.search(query);
    // minisearch multiplies each score by the number of distinct matched query terms; Lucene's
    // BM25 does not, so divide it back out.
    const scored = hits.map((h) => ({
      id: h.id as number,
      s: h.score / (h.queryTerms.length || 1),
    }));
    scored.sort((a, b) => b.s - a.s || a.id - b.id);
    return scored.slice(0, n).map((h) => h.id);
  }

  /**
   * WebShop's `get_top_n_product_from_keywords`: `keywords` is the search split on single
   * spaces. `<r>` samples 50 products at random; `<a> attr` lists every product with that
   * attribute; `<c> cat` every product of that category (only the second word counts, as in
   * WebShop); `<q> query` every product scraped under that query; anything else is a BM25
   * search returning the top 50.
   */
  search(keywords: readonly string[] | string, rng: Rng = Math.random): Product[] {
    const kw = typeof keywords === "string" ? keywords.split(" ") : keywords;
    const head = kw[0];
    if (head === "<r>") return this.#sample(rng);
    if (head === "<a>") {
      const attribute = kw.slice(1).join(" ").trim();
      return [...(this.#attributeIndex().get(attribute) ?? [])];
    }
    if (head === "<c>") {
      const category = (kw[1] ?? "").trim();
      return this.products.filter((p) => p.category === category);
    }
    if (head === "<q>") {
      const query = kw.slice(1).join(" ").trim();
      return this.products.filter((p) => p.query === query);
    }
    const text = kw.join(" ");
    const cached = this.#cache.get(text);
    if (cached) return cached;
    const result = this.rank(text).map((i) => this.products[i]);
    if (this.#cache.size >= this.#cacheSize) {
      // Drop the oldest entry: Map iterates in insertion order.
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
    this.#cache.set(text, result);
    return result;
  }

  #sample(rng: Rng): Product[] {
    // random.sample(all_products, 50): distinct products in draw order. WebShop raises when the
    // catalog has fewer than 50; we return them all, shuffled.
    const n = this.products.length;
    const k = Math.min(this.#returnN, n);
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng() * (n - i));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx.slice(0, k).map((i) => this.products[i]);
  }

  #attributeIndex(): Map<string, Product[]> {
    if (this.#attributeToProducts === null) {
      const m = new Map<string, Product[]>();
      for (const p of this.products) {
        for (const a of new Set(p.Attributes)) {
          const list = m.get(a);
          if (list) list.push(p);
          else m.set(a, [p]);
        }
      }
      this.#attributeToProducts = m;
    }
    return this.#attributeToProducts;
  }
}

/**
 * BM25 over compressed-row postings: per term, the documents holding it and the term frequency,
 * in catalog order. Scores are computed with minisearch's formula and summation order (per query
 * term, in query order; its running average document length), so rankings equal the minisearch
 * backend's, at a fraction of the memory and time on large catalogs.
 */
class CompactBm25 {
  readonly #vocab = new Map<string, number>();
  readonly #offsets: Int32Array; // (V + 1) start of each term's postings
  readonly #docs: Int32Array; // (P) document index per posting
  readonly #tfs: Float32Array; // (P) term frequency per posting
  readonly #lengths: Float64Array; // (N) indexed tokens per document
  readonly #avgLength: number;
  readonly #k: number;
  readonly #b: number;
  readonly #scores: Float64Array; // (N) scratch accumulator, zeroed after each query
  readonly #touched: Int32Array; // (N) scratch list of documents scored by a query

  constructor(products: readonly Product[], k: number, b: number) {
    this.#k = k;
    this.#b = b;
    const n = products.length;
    this.#lengths = new Float64Array(n);
    // Pass 1: each document's distinct term ids and frequencies; document frequencies.
    const docTerms: Int32Array[] = new Array(n);
    const docTfs: Uint16Array[] = new Array(n);
    const df: number[] = [];
    let avg = 0;
    const local = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const terms = analyze(documentText(products[i]));
      local.clear();
      for (const t of terms) {
        let id = this.#vocab.get(t);
        if (id === undefined) {
          id = this.#vocab.size;
          this.#vocab.set(t, id);
          df.push(0);
        }
        local.set(id, (local.get(id) ?? 0) + 1);
      }
      const ids = new Int32Array(local.size);
      const tfs = new Uint16Array(local.size);
      let j = 0;
      for (const [id, tf] of local) {
        ids[j] = id;
        tfs[j++] = Math.min(tf, 65535);
        df[id]++;
      }
      docTerms[i] = ids;
      docTfs[i] = tfs;
      this.#lengths[i] = terms.length;
      // minisearch's running mean, so both backends divide by the same number.
      avg = (avg * i + terms.length) / (i + 1);
    }
    this.#avgLength = avg;
    // Pass 2: postings in document order.
    const v = df.length;
    this.#offsets = new Int32Array(v + 1);
    for (let t = 0; t < v; t++) this.#offsets[t + 1] = this.#offsets[t] + df[t];
    const total = this.#offsets[v];
    this.#docs = new Int32Array(total);
    this.#tfs = new Float32Array(total);
    const fill = this.#offsets.slice(0, v);
    for (let i = 0; i < n; i++) {
      const ids = docTerms[i], tfs = docTfs[i];
      for (let j = 0; j < ids.length; j++) {
        const at = fill[ids[j]]++;
        this.#docs[at] = i;
        this.#tfs[at] = tfs[j];
      }
    }
    this.#scores = new Float64Array(n);
    this.#touched = new Int32Array(n);
  }

  rank(query: string, topN: number): number[] {
    const n = this.#lengths.length;
    const k = this.#k, b = this.#b, avg = this.#avgLength;
    const scores = this.#scores, touched = this.#touched;
    let nTouched = 0;
    for (const term of analyze(query)) {
      const id = this.#vocab.get(term);
      if (id === undefined) continue;
      const start = this.#offsets[id], end = this.#offsets[id + 1];
      const df = end - start;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (let p = start; p < end; p++) {
        const d = this.#docs[p], tf = this.#tfs[p];
        const s = idf * (0 + tf * (k + 1) / (tf + k * (1 - b + b * this.#lengths[d] / avg)));
        if (scores[d] === 0) touched[nTouched++] = d;
        scores[d] += s;
      }
    }
    // Bounded insertion into the best `topN` (score desc, index asc), then reset the scratch.
    const best: number[] = [];
    for (let i = 0; i < nTouched; i++) {
      const d = touched[i], s = scores[d];
      const m = best.length;
      if (m === topN) {
        const w = best[m - 1];
        if (s < scores[w] || (s === scores[w] && d > w)) continue;
      }
      let j = m < topN ? m : m - 1;
      while (j > 0) {
        const o = best[j - 1];
        if (scores[o] > s || (scores[o] === s && o < d)) break;
        best[j] = o;
        j--;
      }
      best[j] = d;
    }
    for (let i = 0; i < nTouched; i++) scores[touched[i]] = 0;
    return best;
  }
}

/** The products shown on results page `page` (1-based), as engine.py `get_product_per_page`. */
export function productsOnPage<T>(results: readonly T[], page: number): T[] {
  // Pages below 1 never occur: "< Prev" is shown only from page 2 on.
  return results.slice(
    Math.max(0, (page - 1) * PRODUCT_WINDOW),
    Math.max(0, page * PRODUCT_WINDOW),
  );
}
