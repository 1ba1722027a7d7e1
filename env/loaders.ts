/**
 * Loaders for WebShop's data files with WebShop's cleaning rules (engine.py `load_products`).
 *
 * - `streamJsonArray` / `streamJsonObject` / `streamJsonLines` read a file in chunks and yield one
 *   top-level record at a time, so a multi-GB `items_shuffle.json` is never held as one string.
 * - `CatalogBuilder` cleans raw product records one by one, exactly as WebShop does: ASINs that are
 *   "nan", longer than 10 characters or already seen are skipped; pricing "$a$b" becomes [a, b]
 *   ([100] when missing) and one price is drawn uniformly in it from a seeded RNG; option names and
 *   values are lower-cased, values trimmed with "/" -> " | "; `Title`, `Description`,
 *   `BulletPoints`, `MainImage` come from `name`, `full_description`, `small_description`,
 *   `images[0]`; `Attributes` from the attribute file (["DUMMY_ATTR"] when absent); the query is
 *   lower-cased and trimmed. Records missing required fields are skipped and counted (or throw
 *   under `strict`), where WebShop would crash.
 * - `loadCatalogFromDir` finds WebShop's files in a folder by their names; `loadCatalogFromRecords`
 *   does the same from records in memory (the synthetic catalog generator's path).
 *
 * Deviations from the original, all where it would crash or keep an unusable value: a null
 * `small_description` gives [] (not [None]); a null `full_description` gives ""; a record without
 * images gets `MainImage` null; unparseable pricing ("$", "12.99" without "$") skips the record.
 *
 * @module
 */

import { pyFloatStr } from "./_python.ts";
import seedrandom from "seedrandom";
import type {
  Goal,
  LoadIssue,
  LoadStats,
  Product,
  RawAttributeEntry,
  RawGoalQueryMap,
  RawHumanInstruction,
  RawIlTrajectory,
  RawProduct,
} from "./types.ts";
import { type GoalSplits, makeGoals, splitGoals } from "./goals.ts";

// ---------------------------------------------------------------------------------------------
// Streaming JSON
// ---------------------------------------------------------------------------------------------

/** Malformed JSON: names the file, the byte offset and the line (1-based). */
export class JsonParseError extends Error {
  constructor(
    readonly file: string,
    readonly byte: number,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}: malformed JSON at byte ${byte} (line ${line}): ${detail}`);
    this.name = "JsonParseError";
  }
}

const CHUNK_BYTES = 1 << 22;

/** Reads a file as a sequence of fresh byte chunks (fresh, because records keep views on them). */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  while (true) {
    const buf = new Uint8Array(CHUNK_BYTES);
    let filled = 0;
    while (filled < CHUNK_BYTES) {
      const n = await file.read(buf.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled > 0) yield buf.subarray(0, filled);
    if (filled < CHUNK_BYTES) return;
  }
}

const Q = 34, BS = 92, LBRACE = 123, RBRACE = 125, LBRACK = 91, RBRACK = 93, COMMA = 44, NL = 10;

const BOM = [0xef, 0xbb, 0xbf];

function isSpace(c: number): boolean {
  return c === 32 || c === NL || c === 13 || c === 9;
}

/**
 * Splits the bytes of one top-level JSON array (or object) into its elements (or "key": value
 * members) and parses each alone. Structural characters are ASCII, so scanning UTF-8 bytes is
 * safe. Push chunks in order, then call `end()`.
 */
export class JsonTopLevelScanner {
  #decoder = new TextDecoder();
  #phase: "start" | "inside" | "done" = "start";
  #depth = 0; // nesting inside the current element
  #inString = false;
  #escape = false;
  #pieces: Uint8Array[] = [];
  #hasContent = false;
  #elementByte = 0;
  #elementLine = 1;
  #elements = 0;
  #byte = 0; // offset of the current chunk's first byte
  #line = 1;
  #bomBytes = 0;

  constructor(readonly file: string, readonly kind: "array" | "object") {}

  #fail(byteInChunk: number, detail: string): never {
    throw new JsonParseError(this.file, this.#byte + byteInChunk, this.#line, detail);
  }

  #parseElement(bytes: Uint8Array): unknown {
    const text = this.#decoder.decode(bytes);
    try {
      return JSON.parse(this.kind === "array" ? text : `{${text}}`);
    } catch (e) {
      const msg = (e as Error).message;
      const m = /position (\d+)/.exec(msg);
      let byte = this.#elementByte;
      let line = this.#elementLine;
      if (m) {
        // Position is in UTF-16 units of the parsed text (shifted by the "{" of object members).
        const pos = Math.max(0, Number(m[1]) - (this.kind === "array" ? 0 : 1));
        const before = text.slice(0, pos);
        byte += new TextEncoder().encode(before).length;
        line += before.split("\n").length - 1;
      }
      throw new JsonParseError(
        this.file,
        byte,
        line,
        `${this.kind === "array" ? "element" : "member"} ${this.#elements} ` +
          `(starting at byte ${this.#elementByte}, line ${this.#elementLine}): ${msg}`,
      );
    }
  }

  #finishElement(chunk: Uint8Array, end: number, start: number, out: unknown[], at: number): void {
    if (!this.#hasContent) {
      // "[]" / "{}" are fine; an empty slot ("[1,,2]", "[1,]") is not.
      if (this.#elements === 0 && this.#pieces.length === 0 && chunk[at] !== COMMA) return;
      this.#fail(at, `empty ${this.kind === "array" ? "element" : "member"} ${this.#elements}`);
    }
    let bytes: Uint8Array;
    if (this.#pieces.length === 0) bytes = chunk.subarray(start, end);
    else {
      this.#pieces.push(chunk.subarray(0, end));
      let len = 0;
      for (const p of this.#pieces) len += p.length;
      bytes = new Uint8Array(len);
      let o = 0;
      for (const p of this.#pieces) {
        bytes.set(p, o);
        o += p.length;
      }
      this.#pieces = [];
    }
    const value = this.#parseElement(bytes);
    if (this.kind === "array") out.push(value);
    else {
      for (const entry of Object.entries(value as Record<string, unknown>)) out.push(entry);
    }
    this.#elements++;
    this.#hasContent = false;
  }

  /** Feeds the next chunk; returns the elements (or [key, value] members) completed in it. */
  push(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    const n = chunk.length;
    let i = 0;
    let start = this.#hasContent ? 0 : -1; // start of the current element in this chunk
    const open = this.kind === "array" ? LBRACK : LBRACE;
    const close = this.kind === "array" ? RBRACK : RBRACE;
    while (i < n) {
      if (this.#inString) {
        // Fast skip to the closing quote; an escape may straddle the chunk boundary.
        if (this.#escape) {
          this.#escape = false;
          i++;
          continue;
        }
        while (i < n) {
          const c = chunk[i];
          if (c === BS) {
            if (i + 1 < n) i += 2;
            else {
              this.#escape = true;
              i++;
            }
          } else if (c === Q) break;
          else i++;
        }
        if (i < n) {
          this.#inString = false;
          i++;
        }
        continue;
      }
      const c = chunk[i];
      if (this.#phase === "inside") {
        if (this.#depth === 0 && (c === COMMA || c === close)) {
          this.#finishElement(chunk, i, start, out, i);
          start = -1;
          if (c === close) this.#phase = "done";
          i++;
          continue;
        }
        if (isSpace(c)) {
          if (c === NL) this.#line++;
          i++;
          continue;
        }
        if (!this.#hasContent) {
          this.#hasContent = true;
          start = i;
          this.#elementByte = this.#byte + i;
          this.#elementLine = this.#line;
        }
        if (c === Q) this.#inString = true;
        else if (c === LBRACE || c === LBRACK) this.#depth++;
        else if (c === RBRACE || c === RBRACK) {
          if (this.#depth === 0) this.#fail(i, `unbalanced '${String.fromCharCode(c)}'`);
          this.#depth--;
        }
        i++;
      } else if (isSpace(c)) {
        if (c === NL) this.#line++;
        i++;
      } else if (this.#phase === "start") {
        // A UTF-8 byte-order mark (EF BB BF) may precede the array, possibly split over chunks.
        const at = this.#byte + i;
        if (at < 3 && c === BOM[at] && this.#bomBytes === at) {
          this.#bomBytes++;
          i++;
          continue;
        }
        if (c !== open) {
          this.#fail(
            i,
            `expected a top-level ${this.kind} ('${String.fromCharCode(open)}'), ` +
              `got '${String.fromCharCode(c)}'`,
          );
        }
        this.#phase = "inside";
        i++;
      } else {
        this.#fail(i, `unexpected '${String.fromCharCode(c)}' after the end of the ${this.kind}`);
      }
    }
    if (this.#hasContent) this.#pieces.push(chunk.subarray(Math.max(start, 0)));
    this.#byte += n;
    return out;
  }

  /** Checks that the input ended with the top-level container closed. */
  end(): void {
    if (this.#phase !== "done") {
      const what = this.#phase === "start"
        ? `no top-level ${this.kind}`
        : "unexpected end of file" +
          (this.#inString ? " inside a string" : "") +
          ` in ${this.kind === "array" ? "element" : "member"} ${this.#elements}`;
      throw new JsonParseError(this.file, this.#byte, this.#line, what);
    }
  }

  /** Number of elements (members) completed so far. */
  get count(): number {
    return this.#elements;
  }
}

/**
 * Yields the elements of a file holding one JSON array, one at a time (the file is read in 4 MiB
 * chunks). Malformed input throws `JsonParseError` naming the file, byte and line.
 *
 * @example
 * ```ts
 * for await (const record of streamJsonArray("data/items_shuffle.json")) console.log(record);
 * ```
 */
export async function* streamJsonArray(path: string): AsyncGenerator<unknown> {
  const scanner = new JsonTopLevelScanner(path, "array");
  for await (const chunk of fileChunks(path)) yield* scanner.push(chunk);
  scanner.end();
}

/** Yields the [key, value] members of a file holding one JSON object, one at a time. */
export async function* streamJsonObject(path: string): AsyncGenerator<[string, unknown]> {
  const scanner = new JsonTopLevelScanner(path, "object");
  for await (const chunk of fileChunks(path)) yield* scanner.push(chunk) as [string, unknown][];
  scanner.end();
}

/** Parses a JSON array held in memory element by element (the streaming path, for tests/tools). */
export function parseJsonArrayText(text: string, label = "<memory>"): unknown[] {
  const scanner = new JsonTopLevelScanner(label, "array");
  const out = scanner.push(new TextEncoder().encode(text));
  scanner.end();
  return out;
}

/**
 * Yields `{line, value}` for each non-blank line of a JSON Lines file (`il_trajs*.jsonl`).
 * A malformed line throws `JsonParseError` naming the file, line and the line's first byte.
 */
export async function* streamJsonLines(
  path: string,
): AsyncGenerator<{ line: number; value: unknown }> {
  const decoder = new TextDecoder();
  let pieces: Uint8Array[] = [];
  let line = 1;
  let lineByte = 0;
  let byte = 0;
  const parse = (bytes: Uint8Array) => {
    const text = decoder.decode(bytes).trim();
    if (text.length === 0) return undefined;
    try {
      return { line, value: JSON.parse(text) as unknown };
    } catch (e) {
      throw new JsonParseError(path, lineByte, line, (e as Error).message);
    }
  };
  for await (const chunk of fileChunks(path)) {
    let from = 0;
    while (true) {
      const nl = chunk.indexOf(NL, from);
      if (nl < 0) break;
      let bytes = chunk.subarray(from, nl);
      if (pieces.length > 0) {
        pieces.push(bytes);
        bytes = concat(pieces);
        pieces = [];
      }
      const rec = parse(bytes);
      if (rec) yield rec;
      line++;
      lineByte = byte + nl + 1;
      from = nl + 1;
    }
    if (from < chunk.length) pieces.push(chunk.subarray(from));
    byte += chunk.length;
  }
  if (pieces.length > 0) {
    const rec = parse(concat(pieces));
    if (rec) yield rec;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cleaning
// ---------------------------------------------------------------------------------------------

/** A record that cannot be cleaned (missing or mistyped required field). */
export class RecordError extends Error {
  constructor(readonly issue: LoadIssue) {
    super(
      `${issue.file}: record ${issue.index}${issue.asin ? ` (asin ${issue.asin})` : ""}: ` +
        issue.reason,
    );
    this.name = "RecordError";
  }
}

/**
 * WebShop's pricing rule: "$a$b..." -> [a, b] (every "$"-separated part stripped to digits and
 * dots), "$a" -> [a], missing or empty -> [100]. Returns null when a part has no number.
 */
export function parsePricing(pricing: unknown): { pricing: number[]; tag: string } | null {
  if (pricing === null || pricing === undefined || pricing === "") {
    return { pricing: [100.0], tag: "$100.0" };
  }
  if (typeof pricing !== "string") return null;
  const parts = pricing.split("$").slice(1).map((p) => p.replace(/[^\d.]/g, ""));
  if (parts.length === 0) return null;
  const values: number[] = [];
  for (const p of parts) {
    if (!/^(\d+\.?\d*|\.\d+)$/.test(p)) return null;
    values.push(Number(p));
  }
  if (values.length === 1) return { pricing: values, tag: `$${pyFloatStr(values[0])}` };
  return {
    pricing: values.slice(0, 2),
    tag: `$${pyFloatStr(values[0])} to $${pyFloatStr(values[1])}`,
  };
}

/** Options of catalog loading. */
export interface LoadOptions {
  /** Seed of the price RNG (seedrandom); the same seed gives the same prices. Default 233. */
  seed?: number | string;
  /** WebShop's `num_products`: keep only the first N product records (before de-duplication). */
  numProducts?: number;
  /** Throw on the first invalid record instead of skipping and counting it. Default false. */
  strict?: boolean;
  /** Called every 10,000 product records with the count so far (long loads show progress). */
  onProgress?: (records: number) => void;
}

const MAX_ISSUES = 100;

function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/**
 * Cleans raw product records into `Product`s one at a time, with WebShop's rules (see the module
 * doc). Give it the attribute entries and human instructions first.
 */
export class CatalogBuilder {
  readonly products: Product[] = [];
  readonly byAsin: Map<string, Product> = new Map();
  readonly stats: LoadStats = {
    records: 0,
    products: 0,
    duplicates: 0,
    badAsin: 0,
    invalid: 0,
    noAttributes: 0,
    issues: [],
    ms: 0,
  };
  #rng: () => number;
  #t0 = performance.now();

  constructor(
    readonly attributes: Map<string, RawAttributeEntry> = new Map(),
    readonly humanInstructions: Map<string, RawHumanInstruction[]> = new Map(),
    readonly opts: LoadOptions = {},
    readonly file = "<products>",
  ) {
    this.#rng = seedrandom(String(opts.seed ?? 233));
  }

  /** Records an invalid record: throws under `strict`, else counts it. */
  issue(issue: LoadIssue): void {
    if (this.opts.strict) throw new RecordError(issue);
    this.stats.invalid++;
    if (this.stats.issues.length < MAX_ISSUES) this.stats.issues.push(issue);
  }

  /** Whether another record would still be taken under `numProducts`. */
  get wantsMore(): boolean {
    return this.opts.numProducts === undefined || this.stats.records < this.opts.numProducts;
  }

  /** Cleans and adds one raw record (index = its position in the file); false when skipped. */
  add(raw: unknown, index = this.stats.records): boolean {
    if (!this.wantsMore) return false;
    this.stats.records++;
    if (this.opts.onProgress && this.stats.records % 10_000 === 0) {
      this.opts.onProgress(this.stats.records);
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      this.issue({ file: this.file, index, reason: `record is ${describe(raw)}, not an object` });
      return false;
    }
    const p = raw as RawProduct;
    if (typeof p.asin !== "string") {
      this.issue({ file: this.file, index, reason: `missing or non-string 'asin'` });
      return false;
    }
    const asin = p.asin;
    if (asin === "nan" || asin.length > 10) {
      this.stats.badAsin++;
      return false;
    }
    let product: Product;
    try {
      product = this.#clean(p);
    } catch (e) {
      if (!(e instanceof Error) || e instanceof RecordError) throw e;
      this.issue({ file: this.file, index, asin, reason: e.message });
      return false;
    }
    if (this.byAsin.has(asin)) {
      this.stats.duplicates++;
      return false;
    }
    this.byAsin.set(asin, product);
    this.products.push(product);
    this.stats.products++;
    return true;
  }

  #clean(p: RawProduct): Product {
    for (const key of ["name", "product_category", "category", "query"] as const) {
      if (typeof p[key] !== "string") {
        throw new Error(`'${key}' is ${describe(p[key])}, not a string`);
      }
    }
    const desc = p.full_description;
    if (desc !== undefined && desc !== null && typeof desc !== "string") {
      throw new Error(`'full_description' is ${describe(desc)}, not a string`);
    }
    const small = p.small_description;
    let bullets: string[];
    if (small === undefined || small === null) bullets = [];
    else if (typeof small === "string") bullets = [small];
    else if (Array.isArray(small) && small.every((s) => typeof s === "string")) bullets = small;
    else throw new Error(`'small_description' must be a string or a list of strings`);

    const price = parsePricing(p.pricing);
    if (price === null) throw new Error(`unparseable 'pricing' ${JSON.stringify(p.pricing)}`);

    const options: Record<string, string[]> = {};
    const optionToImage: Record<string, string | null> = {};
    const custom = p.customization_options;
    if (custom !== undefined && custom !== null) {
      if (typeof custom !== "object" || Array.isArray(custom)) {
        throw new Error(`'customization_options' is ${describe(custom)}, not an object`);
      }
      for (const [rawName, contents] of Object.entries(custom)) {
        if (contents === null || contents === undefined) continue;
        if (!Array.isArray(contents)) {
          throw new Error(`option '${rawName}' is ${describe(contents)}, not a list`);
        }
        const values: string[] = [];
        for (const content of contents) {
          if (typeof content?.value !== "string") {
            throw new Error(`option '${rawName}' has a value without a string 'value'`);
          }
          const value = content.value.trim().replaceAll("/", " | ").toLowerCase();
          values.push(value);
          optionToImage[value] = typeof content.image === "string" ? content.image : null;
        }
        options[rawName.toLowerCase()] = values;
      }
    }

    const images = p.images;
    if (images !== undefined && images !== null && !Array.isArray(images)) {
      throw new Error(`'images' is ${describe(images)}, not a list`);
    }

    const attr = this.attributes.get(p.asin);
    let attributes: string[];
    if (attr && Array.isArray(attr.attributes)) attributes = attr.attributes;
    else {
      attributes = ["DUMMY_ATTR"];
      this.stats.noAttributes++;
    }

    const pricing = price.pricing;
    // generate_product_prices: uniform in [low, high] for a range, else the one price.
    const drawn = pricing.length === 1
      ? pricing[0]
      : pricing[0] + (pricing[1] - pricing[0]) * this.#rng();

    const product: Product = {
      asin: p.asin,
      name: p.name,
      Title: p.name,
      Description: desc ?? "",
      BulletPoints: bullets,
      Attributes: attributes,
      category: p.category,
      query: p.query.toLowerCase().trim(),
      product_category: p.product_category,
      pricing,
      Price: price.tag,
      price: drawn,
      options,
      option_to_image: optionToImage,
      Reviews: [],
      Rating: "N.A.",
      MainImage: images && images.length > 0 && typeof images[0] === "string" ? images[0] : null,
      instruction_text: attr?.instruction ?? null,
      instruction_attributes: attr?.instruction_attributes ?? null,
    };
    const human = this.humanInstructions.get(p.asin);
    if (human) product.instructions = human;
    return product;
  }

  /** The result so far. */
  finish(): Catalog {
    this.stats.ms = performance.now() - this.#t0;
    return { products: this.products, byAsin: this.byAsin, stats: this.stats };
  }
}

/** A cleaned catalog. */
export interface Catalog {
  /** Products in file order (WebShop's `all_products`). */
  products: Product[];
  /** ASIN -> product (WebShop's `product_item_dict`). */
  byAsin: Map<string, Product>;
  stats: LoadStats;
}

/** Validates an attribute-file entry; returns a reason when unusable. */
function checkAttributeEntry(v: unknown): string | null {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return `entry is ${describe(v)}`;
  const e = v as RawAttributeEntry;
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === "string");
  if (e.attributes !== undefined && !strings(e.attributes)) return "'attributes' not strings";
  if (e.instruction !== undefined && typeof e.instruction !== "string") {
    return "'instruction' not a string";
  }
  if (e.instruction_attributes !== undefined && !strings(e.instruction_attributes)) {
    return "'instruction_attributes' not strings";
  }
  return null;
}

/** Validates one human instruction; returns a reason when unusable. */
function checkHumanInstruction(v: unknown): string | null {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return `entry is ${describe(v)}`;
  const h = v as RawHumanInstruction;
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === "string");
  if (typeof h.instruction !== "string") return "'instruction' missing or not a string";
  if (!strings(h.instruction_attributes)) return "'instruction_attributes' missing or not strings";
  if (!strings(h.instruction_options)) return "'instruction_options' missing or not strings";
  return null;
}

/** Issue sink shared by the side-file readers. */
interface Sink {
  issue(i: LoadIssue): void;
}

function addAttributeEntry(
  map: Map<string, RawAttributeEntry>,
  asin: string,
  v: unknown,
  index: number,
  file: string,
  sink: Sink,
): void {
  const reason = checkAttributeEntry(v);
  if (reason) sink.issue({ file, index, asin, reason });
  else map.set(asin, v as RawAttributeEntry);
}

function addHumanEntry(
  map: Map<string, RawHumanInstruction[]>,
  asin: string,
  v: unknown,
  index: number,
  file: string,
  sink: Sink,
): void {
  if (!Array.isArray(v)) {
    sink.issue({ file, index, asin, reason: `entry is ${describe(v)}, not a list` });
    return;
  }
  const kept: RawHumanInstruction[] = [];
  for (const h of v) {
    const reason = checkHumanInstruction(h);
    if (reason) sink.issue({ file, index, asin, reason });
    else kept.push(h as RawHumanInstruction);
  }
  map.set(asin, kept);
}

/**
 * One line of what a load kept and skipped, for every loading command to print:
 * "160 products loaded, 2 skipped (1 invalid, 1 duplicate ASIN); first: <file>: record 3: ...".
 */
export function describeLoad(stats: LoadStats): string {
  const reasons: string[] = [];
  if (stats.invalid) reasons.push(`${stats.invalid} invalid`);
  if (stats.duplicates) reasons.push(`${stats.duplicates} duplicate ASIN`);
  if (stats.badAsin) reasons.push(`${stats.badAsin} bad ASIN`);
  const skipped = stats.invalid + stats.duplicates + stats.badAsin;
  let line = `${stats.products} products loaded, ${skipped} skipped`;
  if (reasons.length) line += ` (${reasons.join(", ")})`;
  if (stats.noAttributes) line += `, ${stats.noAttributes} without attributes`;
  const first = stats.issues[0];
  if (first) {
    line += `; first: ${first.file}: record ${first.index}${
      first.asin ? ` (asin ${first.asin})` : ""
    }: ${first.reason}; --strict stops at the first`;
  }
  return line;
}

// ---------------------------------------------------------------------------------------------
// Loading from memory and from files
// ---------------------------------------------------------------------------------------------

/** Raw inputs of `loadCatalogFromRecords`, in WebShop's file formats. */
export interface RawCatalogInput {
  /** `items_shuffle*.json` records. */
  products: Iterable<unknown>;
  /** `items_ins_v2*.json` content (ASIN -> entry). */
  attributes?: Record<string, unknown>;
  /** `items_human_ins.json` content (ASIN -> human instructions). */
  humanInstructions?: Record<string, unknown>;
}

/**
 * Cleans raw records held in memory, exactly as files are cleaned (e.g. the synthetic catalog
 * generator's output).
 *
 * @example
 * ```ts
 * const { products, stats } = loadCatalogFromRecords({ products: raws, attributes });
 * ```
 */
export function loadCatalogFromRecords(input: RawCatalogInput, opts: LoadOptions = {}): Catalog {
  const attributes = new Map<string, RawAttributeEntry>();
  const human = new Map<string, RawHumanInstruction[]>();
  const builder = new CatalogBuilder(attributes, human, opts);
  let i = 0;
  for (const [asin, v] of Object.entries(input.attributes ?? {})) {
    addAttributeEntry(attributes, asin, v, i++, "<attributes>", builder);
  }
  i = 0;
  for (const [asin, v] of Object.entries(input.humanInstructions ?? {})) {
    addHumanEntry(human, asin, v, i++, "<human instructions>", builder);
  }
  for (const raw of input.products) {
    if (!builder.wantsMore) break;
    builder.add(raw);
  }
  return builder.finish();
}

/** The files `loadCatalogFromDir` found (absolute paths), by WebShop's names. */
export interface CatalogFiles {
  products: string;
  attributes?: string;
  humanInstructions?: string;
  humanGoals?: string;
  goalQueryMap?: string;
}

/** Options of `loadCatalogFromDir`. */
export interface DirLoadOptions extends LoadOptions {
  /**
   * Goals to build: "human" (from items_human_ins.json), "synthetic" (from the attribute file's
   * instructions), "none", or "auto" (default): human when that file is present, else synthetic
   * when any product has an instruction, else none.
   */
  goals?: "auto" | "human" | "synthetic" | "none";
}

/** `loadCatalogFromDir`'s result. */
export interface CatalogDir extends Catalog {
  files: CatalogFiles;
  /** Goals, already shuffled as WebShop does (absent for goals "none"). */
  goals?: Goal[];
  /** Which goals were built. */
  goalKind?: "human" | "synthetic";
  /** Goal index ranges of the test / eval / train splits. */
  splits?: GoalSplits;
  /** `human_goals.json`: human instructions in split order. */
  humanGoals?: string[];
  /** `goal_query_map.json`: instruction -> queries people typed. */
  goalQueryMap?: RawGoalQueryMap;
}

async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  } catch (e) {
    throw new Error(`loadCatalogFromDir: cannot read folder ${dir}: ${(e as Error).message}`);
  }
  return names.sort();
}

/**
 * Picks WebShop's files in a folder's file names (no products when none fits). A folder with two
 * candidate product files (`items_shuffle*.json`, `items_sample*.json`) or two attribute files
 * (`items_ins_v2*.json`) is an error naming both: picking one in silence mixes catalogs, e.g. a
 * stale `items_shuffle_1000.json` left beside a new `items_shuffle.json`.
 */
export function findCatalogFiles(names: readonly string[]): {
  products?: string;
  attributes?: string;
  humanInstructions?: string;
  humanGoals?: string;
  goalQueryMap?: string;
} {
  const has = (n: string) => names.includes(n);
  const only = (what: string, re: RegExp) => {
    const found = names.filter((n) => re.test(n)).sort();
    if (found.length > 1) {
      throw new Error(
        `more than one ${what} file: ${found.join(", ")}; keep one per folder (or write a ` +
          "catalog into an empty folder)",
      );
    }
    return found[0] as string | undefined;
  };
  return {
    products: only("product", /^items_(shuffle|sample).*\.json$/),
    attributes: only("attribute", /^items_ins_v2.*\.json$/),
    humanInstructions: has("items_human_ins.json") ? "items_human_ins.json" : undefined,
    humanGoals: has("human_goals.json") ? "human_goals.json" : undefined,
    goalQueryMap: has("goal_query_map.json") ? "goal_query_map.json" : undefined,
  };
}

async function readJsonFile(path: string): Promise<unknown> {
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const pos = m ? Number(m[1]) : 0;
    const before = text.slice(0, pos);
    throw new JsonParseError(
      path,
      new TextEncoder().encode(before).length,
      before.split("\n").length,
      msg,
    );
  }
}

/**
 * Loads a WebShop data folder: finds the one product file (items_shuffle*.json or
 * items_sample*.json), the one attribute file (items_ins_v2*.json; see `findCatalogFiles`), and
 * items_human_ins.json, human_goals.json, goal_query_map.json when present; streams and cleans the
 * products; builds and shuffles goals (see `DirLoadOptions.goals`) with their splits.
 *
 * @example
 * ```ts
 * const { products, goals, splits, stats } = await loadCatalogFromDir("data/webshop");
 * ```
 */
export async function loadCatalogFromDir(
  dir: string,
  opts: DirLoadOptions = {},
): Promise<CatalogDir> {
  const names = await listFiles(dir);
  let found: ReturnType<typeof findCatalogFiles>;
  try {
    found = findCatalogFiles(names);
  } catch (e) {
    throw new Error(`${(e as Error).message} (${dir})`);
  }
  if (!found.products) {
    throw new Error(
      `no product file, looked for items_shuffle*.json and items_sample*.json (${dir})`,
    );
  }
  const at = (n?: string) => (n ? `${dir.replace(/\/$/, "")}/${n}` : undefined);
  const files: CatalogFiles = {
    products: at(found.products)!,
    attributes: at(found.attributes),
    humanInstructions: at(found.humanInstructions),
    humanGoals: at(found.humanGoals),
    goalQueryMap: at(found.goalQueryMap),
  };

  const attributes = new Map<string, RawAttributeEntry>();
  const human = new Map<string, RawHumanInstruction[]>();
  const builder = new CatalogBuilder(attributes, human, opts, files.products);
  if (files.attributes) {
    let i = 0;
    for await (const [asin, v] of streamJsonObject(files.attributes)) {
      addAttributeEntry(attributes, asin, v, i++, files.attributes, builder);
    }
  }
  if (files.humanInstructions) {
    let i = 0;
    for await (const [asin, v] of streamJsonObject(files.humanInstructions)) {
      addHumanEntry(human, asin, v, i++, files.humanInstructions, builder);
    }
  }
  for await (const raw of streamJsonArray(files.products)) {
    if (!builder.wantsMore) break;
    builder.add(raw);
  }
  const catalog = builder.finish();
  if (catalog.products.length === 0) {
    throw new Error(
      `${
        catalog.stats.records
          ? `all ${catalog.stats.records} product records are invalid`
          : "no product records"
      }${catalog.stats.records ? `: ${describeLoad(catalog.stats)}` : ""} (${files.products})`,
    );
  }
  const out: CatalogDir = { ...catalog, files };

  if (files.humanGoals) {
    const v = await readJsonFile(files.humanGoals);
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
      throw new Error(`${files.humanGoals}: expected a JSON list of instruction strings`);
    }
    out.humanGoals = v;
  }
  if (files.goalQueryMap) {
    const v = await readJsonFile(files.goalQueryMap);
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new Error(`${files.goalQueryMap}: expected a JSON object instruction -> queries`);
    }
    out.goalQueryMap = v as RawGoalQueryMap;
  }

  let kind = opts.goals ?? "auto";
  if (kind === "auto") {
    kind = files.humanInstructions
      ? "human"
      : catalog.products.some((p) => p.instruction_text)
      ? "synthetic"
      : "none";
  }
  if (kind !== "none") {
    const { goals } = makeGoals(catalog.products, kind, { seed: opts.seed });
    out.goals = goals;
    out.goalKind = kind;
    out.splits = splitGoals(goals.length);
  }
  out.stats.ms = catalog.stats.ms;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Demonstrations
// ---------------------------------------------------------------------------------------------

/** `loadIlTrajectories`'s result. */
export interface IlTrajectories {
  trajectories: RawIlTrajectory[];
  stats: {
    lines: number;
    invalid: number;
    /** Trajectories whose parallel lists differ in length (used zipped, as the original). */
    ragged: number;
    issues: LoadIssue[];
  };
}

/** Checks one il_trajs line; returns a reason when unusable. */
export function checkIlTrajectory(v: unknown): string | null {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return `line is ${describe(v)}`;
  const t = v as RawIlTrajectory;
  if (!Array.isArray(t.states) || !t.states.every((s) => typeof s === "string")) {
    return "'states' missing or not strings";
  }
  if (t.states.length === 0) return "'states' is empty";
  if (!Array.isArray(t.available_actions) || !t.available_actions.every(Array.isArray)) {
    return "'available_actions' missing or not lists";
  }
  if (!Array.isArray(t.action_idxs) || !t.action_idxs.every(Number.isInteger)) {
    return "'action_idxs' missing or not integers";
  }
  const n = Math.min(t.states.length, t.available_actions.length, t.action_idxs.length);
  for (let i = 0; i < n; i++) {
    const idx = t.action_idxs[i];
    if (idx < -1 || idx >= t.available_actions[i].length) {
      return `action_idxs[${i}] = ${idx} outside the ${t.available_actions[i].length} actions`;
    }
  }
  return null;
}

/**
 * Reads `il_trajs*.jsonl` (one demonstration per line: states, available_actions, action_idxs,
 * actions, images), skipping and counting invalid lines (or throwing under `strict`).
 */
export async function loadIlTrajectories(
  path: string,
  opts: { strict?: boolean } = {},
): Promise<IlTrajectories> {
  const out: IlTrajectories = {
    trajectories: [],
    stats: { lines: 0, invalid: 0, ragged: 0, issues: [] },
  };
  for await (const { line, value } of streamJsonLines(path)) {
    out.stats.lines++;
    const reason = checkIlTrajectory(value);
    if (reason) {
      const issue = { file: path, index: line - 1, reason };
      if (opts.strict) throw new RecordError(issue);
      out.stats.invalid++;
      if (out.stats.issues.length < MAX_ISSUES) out.stats.issues.push(issue);
      continue;
    }
    const t = value as RawIlTrajectory;
    const n = t.states.length;
    if (t.available_actions.length !== n || t.action_idxs.length !== n) out.stats.ragged++;
    out.trajectories.push(t);
  }
  return out;
}

/** WebShop's `attribute_to_asins`: attribute -> ASINs of products listing it. */
export function attributeToAsins(products: readonly Product[]): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const p of products) {
    for (const a of p.Attributes) {
      let s = map.get(a);
      if (!s) map.set(a, s = new Set());
      s.add(p.asin);
    }
  }
  return map;
}
