/**
 * A seeded synthetic WebShop catalog in WebShop's own raw formats, so the whole toolkit runs with
 * nothing downloaded: `items_shuffle*.json` product records, `items_ins_v2*.json` attributes (with
 * a synthetic instruction for about 40% of products), `items_human_ins.json` human-style
 * instructions with ticked attributes and options, `human_goals.json` (the processed instruction
 * strings in split order) and `goal_query_map.json`.
 *
 * Products come in families: a base product and one or two lookalikes with the same title and
 * type but one thing off (an attribute replaced, the values of one option dimension replaced by
 * clearly different ones, or a price far above any price bound a goal could get). Goals are only
 * written for base products, so buying right needs reading item pages and choosing options.
 *
 * Everything is drawn from one `seedrandom` Alea stream: the same seed gives byte-identical
 * files, and 100k products take a few seconds.
 *
 * @module
 */

import seedrandom from "seedrandom";
import { mulberry32 } from "../base/random.ts";
import { makeGoals, splitGoals, WEBSHOP_HUMAN_GOALS } from "./goals.ts";
import { PyRandom } from "./_python.ts";
import type { LoadedCatalog, OpenCatalogOptions } from "./catalog.ts";
import { loadCatalogFromRecords } from "./loaders.ts";
import { writeAtomically } from "../base/atomic.ts";
import { normalizeColor } from "./normalize.ts";
import {
  ATTRIBUTE_BULLETS,
  ATTRIBUTE_SENTENCES,
  BRANDS,
  type Category,
  DESCRIPTION_FRAMES,
  INSTRUCTION_OPENERS,
  type OptionSpec,
  PRODUCT_TYPES,
  type ProductTypeSpec,
} from "./synthetic_vocab.ts";

import type {
  RawAttributeFile,
  RawGoalQueryMap,
  RawHumanInstruction,
  RawHumanInstructionFile,
  RawOptionValue,
  RawProduct,
} from "./types.ts";

/** Options of {@linkcode generateSyntheticCatalog}. */
export interface SyntheticCatalogOptions {
  /** Product records in all, lookalikes included (default 1000). */
  numProducts?: number;
  /** Seed of the random stream (default 0). */
  seed?: number;
  /**
   * Human-style instructions to write (default 2 x numProducts, at most 12,087: WebShop's own
   * count of human goals, for which its split 0-499 test, 500-1499 eval, 1500+ train was made;
   * 1000 products get 2000 goals, so that fixed split has all three parts). Fewer come out when
   * base products run out of distinct instructions.
   */
  numHumanGoals?: number;
  /** Chance that a base product gets lookalikes (default 0.85). */
  lookalikeRate?: number;
}

/** Why a lookalike differs from its base product. */
export type LookalikeKind = "attribute" | "option" | "price";

/** One lookalike: its ASIN, its base product and what is off. */
export interface LookalikeInfo {
  asin: string;
  base: string;
  kind: LookalikeKind;
  /** The attribute removed, the option name whose values changed, or "price". */
  detail: string;
}

/** The generated catalog, one field per WebShop file. */
export interface SyntheticCatalog {
  /** `items_shuffle*.json`: product records in shuffled order. */
  products: RawProduct[];
  /** `items_ins_v2*.json`: ASIN -> attributes (+ synthetic instruction for some). */
  attributes: RawAttributeFile;
  /** `items_human_ins.json`: ASIN -> human-style instructions. */
  humanInstructions: RawHumanInstructionFile;
  /** `human_goals.json`: processed instruction strings in split order. */
  humanGoals: string[];
  /** `goal_query_map.json`: processed instruction -> search queries a person might type. */
  goalQueryMap: RawGoalQueryMap;
  /** Every lookalike and what makes it one (not a WebShop file; for checks and analysis). */
  lookalikes: LookalikeInfo[];
}

type Rng = () => number;

/** The mutable draft of one product before it becomes a raw record. */
interface Draft {
  asin: string;
  type: ProductTypeSpec;
  brand: string;
  titleWord: string;
  /** Attributes shown in the title (a subset of `attrs`). */
  titleAttrs: string[];
  attrs: string[];
  /** Option name -> offered values, in the spec's order. */
  options: Map<string, string[]>;
  /** [low] or [low, high]. */
  pricing: number[];
  name: string;
  /** Seed of the text draws, so a lookalike can rewrite its text in the same voice. */
  textSeed: number;
}

const SEP = " › ";

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)];
}

function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** `k` distinct elements of `xs` in random order (partial Fisher-Yates on a copy). */
function sample<T>(rng: Rng, xs: readonly T[], k: number): T[] {
  const a = xs.slice();
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n);
}

function shuffle<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** `k` distinct values of `xs`, kept in the order of `xs` (sizes stay sorted). */
function subsetInOrder(rng: Rng, xs: readonly string[], k: number): string[] {
  const chosen = new Set(sample(rng, xs, k));
  return xs.filter((x) => chosen.has(x));
}

const titleCache = new Map<string, string>();

/** "gluten free" -> "Gluten Free" (cached: attributes come from small fixed lists). */
function titleCase(s: string): string {
  let t = titleCache.get(s);
  if (t === undefined) titleCache.set(s, t = s.replace(/\b([a-z])/g, (c) => c.toUpperCase()));
  return t;
}

const frameCache = new Map<string, string[]>();

/**
 * Fills `{name}` slots of a frame. Frames are split once into text and slot names (odd
 * indices): a regex replace per call was a tenth of the generator's time at 100k products.
 */
function fill(frame: string, vars: Record<string, string>): string {
  let parts = frameCache.get(frame);
  if (parts === undefined) frameCache.set(frame, parts = frame.split(/\{(\w+)\}/));
  let out = parts[0];
  for (let i = 1; i < parts.length; i += 2) out += (vars[parts[i]] ?? "") + parts[i + 1];
  return out;
}

/** 437456 -> "437,456" (toLocaleString is slow enough to matter at 100k records). */
function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, ",");
}

function money(x: number): string {
  return `$${x.toFixed(2)}`;
}

/** Tokens as thefuzz's processing sees them (letters and digits only). */
function tokens(s: string): string[] {
  return s.toLowerCase().split(/[^a-z0-9]+/).filter((t) => t.length > 0);
}

/**
 * Whether option value `b` can never pass for `a` in WebShop's option reward: different
 * normalised colour and no shared token (token_set_ratio is 100 as soon as one side's tokens are
 * a subset of the other's, e.g. "8" vs "8.5" or "large" vs "x-large").
 */
export function clearlyDifferentOption(a: string, b: string): boolean {
  const key = `${a}\u0000${b}`;
  let r = differentCache.get(key);
  if (r === undefined) differentCache.set(key, r = computeClearlyDifferent(a, b));
  return r;
}

// Option values come from small fixed lists, so the pairs repeat across a large catalog.
const differentCache = new Map<string, boolean>();

function computeClearlyDifferent(a: string, b: string): boolean {
  const la = a.toLowerCase(), lb = b.toLowerCase();
  if (normalizeColor(la) === normalizeColor(lb)) return false;
  const ta = new Set(tokens(la));
  return !tokens(lb).some((t) => ta.has(t));
}

/**
 * How WebShop's text env and baseline scripts turn an instruction into a `human_goals.json`
 * entry: `instruction.strip('.')`, lower-cased, quotes removed, trimmed (train_choice_il.py
 * `process_goal` applied to the first observation).
 */
export function processInstruction(instruction: string): string {
  return instruction.replace(/^\.+|\.+$/g, "").toLowerCase().replace(/["']/g, "").trim();
}

/** Writes the product's title, bullets and description from its draft (deterministic in it). */
function writeText(d: Draft): { bullets: string[]; description: string } {
  // A tiny seeded stream per product: seeding an Alea per product costs more than writing the
  // text, and a lookalike must be able to redraw its base's text from the seed alone.
  const rng = mulberry32(d.textSeed);
  const t = d.type;
  const noun = t.noun;
  const bullets: string[] = [];
  const sentences: string[] = [];
  const details = sample(rng, t.details, t.details.length);
  let di = 0;
  const detail = () => details[di++ % details.length];
  // Every attribute is written somewhere in the text, so search can find the product by it.
  for (const a of d.attrs) {
    if (rng() < 0.7) {
      bullets.push(fill(pick(rng, ATTRIBUTE_BULLETS), {
        ATTR: a.toUpperCase(),
        Attr: titleCase(a),
        attr: a,
        detail: detail(),
        noun,
      }));
    } else {
      sentences.push(fill(pick(rng, ATTRIBUTE_SENTENCES), { attr: a }));
    }
  }
  // Plain feature bullets only from details no attribute bullet used yet, so none repeats.
  // At least three bullets in all, as listings rarely have fewer.
  for (let i = Math.max(int(rng, 1, 2), 3 - bullets.length); i > 0 && di < details.length; i--) {
    const s = detail();
    bullets.push(s[0].toUpperCase() + s.slice(1));
  }
  const frames = sample(rng, DESCRIPTION_FRAMES, int(rng, 2, 3));
  const vars = { brand: d.brand, noun, material: pick(rng, t.materials), detail: detail() };
  const desc = frames.map((f) => fill(f, vars));
  // Attribute sentences go between the frames, as copywriters mix claims and story.
  for (const s of sentences) desc.splice(int(rng, 1, desc.length), 0, s);
  // Real bullet points end with a space (scraped list items).
  return { bullets: shuffle(rng, bullets).map((b) => b + " "), description: desc.join(" ") };
}

/** `n` characters of [A-Z0-9] (n <= 12), from two draws instead of one per character. */
function randomId(rng: Rng, n: number): string {
  const a = Math.floor(rng() * 2176782336).toString(36).padStart(6, "0");
  const b = Math.floor(rng() * 2176782336).toString(36).padStart(6, "0");
  return (a + b).slice(0, n).toUpperCase();
}

function imageUrl(rng: Rng): string {
  const id = randomId(rng, 11);
  // `.invalid` is reserved (RFC 2606): the URLs have WebShop's shape but point nowhere.
  return `https://images.synthetic-webshop.invalid/I/${id}.jpg`;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** Turns a draft into an `items_shuffle` record with the scraped keys real records carry. */
function toRecord(rng: Rng, d: Draft): RawProduct {
  const { bullets, description } = writeText(d);
  const customization: Record<string, RawOptionValue[]> = {};
  let selected = true;
  for (const spec of d.type.options) {
    const values = d.options.get(spec.name);
    if (!values) continue;
    customization[spec.name] = values.map((value) => {
      // Real records also carry url, price_string and price per value; WebShop ignores them
      // and at 100k products they cost more memory than they are worth.
      const v: RawOptionValue = { is_selected: selected, value };
      selected = false;
      if (spec.image) v.image = imageUrl(rng);
      return v;
    });
  }
  const pricing = d.pricing.map(money).join("");
  const images: string[] = [];
  for (let i = int(rng, 3, 6); i > 0; i--) images.push(imageUrl(rng));
  const model = `${d.brand.slice(0, 2).toUpperCase()}-${int(rng, 100, 9999)}`;
  const year = int(rng, 2015, 2022);
  const path = d.type.path;
  return {
    name: d.name,
    product_information: {
      "Product Dimensions": `${int(rng, 2, 40)} x ${int(rng, 2, 30)} x ${int(rng, 1, 20)} inches; ${
        (rng() * 20 + 0.2).toFixed(2)
      } Pounds`,
      "Item model number": model,
      "Date First Available": `${pick(rng, MONTHS)} ${int(rng, 1, 28)}, ${year}`,
      "Manufacturer": d.brand,
      "ASIN": d.asin,
      "Best Sellers Rank": `#${thousands(int(rng, 1000, 900000))} in ${path[0]} (See Top 100 in ${
        path[0]
      })#${int(rng, 10, 9000)} in ${path[path.length - 1]}`,
    },
    brand: rng() < 0.5 ? `Brand: ${d.brand}` : `Visit the ${d.brand} Store`,
    brand_url: `https://www.synthetic-webshop.invalid/stores/${d.brand.replace(/\W+/g, "")}`,
    full_description: description,
    pricing,
    list_price: "",
    availability_status: "",
    images,
    product_category: path.join(SEP),
    average_rating: Math.round((3.4 + rng() * 1.6) * 10) / 10,
    small_description: bullets,
    total_reviews: Math.floor(Math.exp(rng() * 9)),
    total_answered_questions: rng() < 0.5 ? "" : int(rng, 1, 60),
    customization_options: customization,
    seller_id: "",
    seller_name: "",
    fulfilled_by_amazon: "",
    fast_track_message: "",
    aplus_present: "",
    asin: d.asin,
    category: d.type.category,
    query: d.type.query,
    page: int(rng, 1, 50),
  };
}

/** A fresh ASIN: "B0" and eight capitals or digits, never one seen before. */
function newAsin(rng: Rng, seen: Set<string>): string {
  for (;;) {
    const a = "B0" + randomId(rng, 8);
    if (!seen.has(a)) {
      seen.add(a);
      return a;
    }
  }
}

function drawPrice(rng: Rng, [lo, hi]: [number, number]): number {
  // Log-uniform: cheap products are commoner than dear ones, as on Amazon.
  const p = Math.exp(Math.log(lo) + rng() * (Math.log(hi) - Math.log(lo)));
  return Math.round(p) - (rng() < 0.7 ? 0.01 : 0.51);
}

function makeBase(rng: Rng, seen: Set<string>): Draft {
  const type = pick(rng, PRODUCT_TYPES);
  const brand = pick(rng, BRANDS[type.category as Category]);
  const attrs = sample(rng, type.attributes, int(rng, 3, Math.min(5, type.attributes.length)));
  const titleAttrs = attrs.slice(0, int(rng, 0, 2));
  const titleWord = pick(rng, type.titleWords);
  const options = new Map<string, string[]>();
  for (const spec of type.options) {
    const k = int(rng, spec.count[0], Math.min(spec.count[1], spec.values.length));
    options.set(spec.name, subsetInOrder(rng, spec.values, k));
  }
  const low = drawPrice(rng, type.price);
  const pricing = rng() < 0.5 && type.options.length > 0
    ? [low, Math.round(low * (1.1 + rng() * 0.5) * 100) / 100]
    : [low];
  let name = `${brand} ${titleWord} ${type.titleNoun}`;
  if (titleAttrs.length === 1) name += ` with ${titleCase(titleAttrs[0])}`;
  if (titleAttrs.length === 2) {
    name += `, ${titleCase(titleAttrs[0])} & ${titleCase(titleAttrs[1])}`;
  }
  return {
    asin: newAsin(rng, seen),
    type,
    brand,
    titleWord,
    titleAttrs,
    attrs,
    options,
    pricing,
    name,
    textSeed: Math.floor(rng() * 2 ** 31),
  };
}

/** Values of `spec` none of which could pass for any of `avoid` (see clearlyDifferentOption). */
function disjointValues(spec: OptionSpec, avoid: string[]): string[] {
  let bySpec = disjointCache.get(spec);
  if (bySpec === undefined) disjointCache.set(spec, bySpec = new Map());
  const key = avoid.join("\u0001");
  let out = bySpec.get(key);
  if (out === undefined) {
    out = spec.values.filter((v) => avoid.every((a) => clearlyDifferentOption(a, v)));
    bySpec.set(key, out);
  }
  return out;
}

// Per spec object, then per avoided set: the same few value subsets recur across a catalog.
const disjointCache = new WeakMap<OptionSpec, Map<string, string[]>>();

/** A lookalike of `base` of the given kind, or null when that kind is impossible for it. */
function makeLookalike(
  rng: Rng,
  seen: Set<string>,
  base: Draft,
  kind: LookalikeKind,
): { draft: Draft; detail: string } | null {
  const copy: Draft = {
    ...base,
    attrs: base.attrs.slice(),
    options: new Map(base.options),
    pricing: base.pricing.slice(),
    asin: "",
  };
  let detail: string;
  if (kind === "attribute") {
    // Only attributes outside the title can go: the title stays identical to the base's.
    const removable = base.attrs.filter((a) => !base.titleAttrs.includes(a));
    const unused = base.type.attributes.filter((a) =>
      !base.attrs.includes(a) && !base.attrs.some((b) => b.includes(a) || a.includes(b))
    );
    if (removable.length === 0 || unused.length === 0) return null;
    detail = pick(rng, removable);
    copy.attrs[copy.attrs.indexOf(detail)] = pick(rng, unused);
    copy.textSeed = Math.floor(rng() * 2 ** 31);
  } else if (kind === "option") {
    const candidates = base.type.options
      .map((spec) => ({ spec, values: disjointValues(spec, base.options.get(spec.name) ?? []) }))
      .filter((c) => c.values.length >= c.spec.count[0]);
    if (candidates.length === 0) return null;
    const { spec, values } = pick(rng, candidates);
    const k = int(rng, spec.count[0], Math.min(spec.count[1], values.length));
    copy.options.set(spec.name, subsetInOrder(rng, values, k));
    detail = spec.name;
  } else {
    // Above any bound: a goal's price_upper is at most the next four tens above its price.
    const top = base.pricing[base.pricing.length - 1];
    const low = Math.round(top * (1.3 + rng() * 0.7) + 50) - 0.01;
    copy.pricing = base.pricing.length === 2 ? [low, Math.round(low * 1.25) + 0.99] : [low];
    detail = "price";
  }
  copy.asin = newAsin(rng, seen);
  return { draft: copy, detail };
}

/** "some " for plural and mass nouns, else "a "/"an " agreeing with the word that follows. */
function article(noun: string, next: string): string {
  if (/(s|water|oil|coffee|tea|jerky|pasta|polish|wash|shampoo|sunscreen)$/.test(noun)) {
    return "some ";
  }
  return /^[aeiou]/.test(next) ? "an " : "a ";
}

function joinList(xs: string[], conj: string): string {
  if (xs.length <= 1) return xs.join("");
  return `${xs.slice(0, -1).join(", ")}${xs.length > 2 ? "," : ""} ${conj} ${xs.at(-1)}`;
}

/** One option phrase such as "in navy color", "size large" or "12 count". */
function optionPhrase(rng: Rng, spec: OptionSpec, value: string): string {
  const v = value.toLowerCase();
  const body = fill(spec.phrase, { v });
  if (spec.phrase.startsWith("{v} ")) return rng() < 0.7 ? `in ${body}` : `with ${body}`;
  if (spec.phrase.startsWith("size")) return rng() < 0.5 ? `in ${body}` : body;
  return body;
}

/** A human-style instruction for base product `d` (the caller rejects repeats). */
function makeInstruction(
  rng: Rng,
  d: Draft,
): RawHumanInstruction {
  const t = d.type;
  const nAtt = Math.min(d.attrs.length, rng() < 0.5 ? 1 : rng() < 0.75 ? 2 : 3);
  const atts = sample(rng, d.attrs, nAtt);
  const chosen: { spec: OptionSpec; value: string }[] = [];
  for (const spec of t.options) {
    const values = d.options.get(spec.name);
    if (!values || values.length === 0) continue;
    // People sometimes leave a dimension out; the first one (colour, flavour) they rarely do.
    if (chosen.length > 0 && rng() < 0.15) continue;
    chosen.push({ spec, value: pick(rng, values) });
  }
  const opener = pick(rng, INSTRUCTION_OPENERS);
  const noun = rng() < 0.2 ? `${d.brand.toLowerCase()} ${t.noun}` : t.noun;
  const optText = joinList(chosen.map((c) => optionPhrase(rng, c.spec, c.value)), "and");
  const sep = optText.length === 0 ? "" : rng() < 0.6 ? " " : ", ";
  let text: string;
  const form = rng();
  if (form < 0.4) {
    text = `${opener} ${article(t.noun, atts[0])}${joinList(atts, "and")} ${noun}${sep}${optText}`;
  } else if (form < 0.65) {
    const that = rng() < 0.5 ? "that is" : "that's";
    text = `${opener} ${article(t.noun, noun)}${noun} ${that} ${
      joinList(atts, "and")
    }${sep}${optText}`;
  } else if (form < 0.85) {
    text = `${opener} ${article(t.noun, noun)}${noun}${sep}${optText}${
      optText ? "," : ""
    } it should be ${joinList(atts, "and")}`;
  } else {
    text = `${opener} ${joinList(atts, "and")} ${noun}${sep}${optText}${
      rng() < 0.5 ? ". i need it soon" : ""
    }`;
  }
  text = text.replace(/\s+/g, " ").trim();
  if (rng() < 0.3) text += ".";
  return {
    asin: d.asin,
    instruction: text,
    instruction_attributes: atts,
    instruction_options: chosen.map((c) => c.value.toLowerCase()),
    assignment_id: "",
    worker_id: "",
  };
}

/** Queries a person might type for an instruction (goal_query_map.json). */
function makeQueries(rng: Rng, d: Draft, ins: RawHumanInstruction): string[] {
  const noun = d.type.noun;
  const qs = [`${ins.instruction_attributes.join(" ")} ${noun}`];
  if (ins.instruction_options.length > 0) {
    qs.push(`${ins.instruction_options[0]} ${noun} ${ins.instruction_attributes[0]}`);
  }
  if (rng() < 0.3) qs.push(`${d.brand.toLowerCase()} ${noun}`);
  return qs.map((q) => q.replace(/\s+/g, " ").trim());
}

/** A synthetic instruction in items_ins_v2's style: "Find me X, Y {query} with Z". */
function makeSyntheticInstruction(rng: Rng, d: Draft): { text: string; atts: string[] } {
  const atts = sample(rng, d.attrs, int(rng, 1, Math.min(4, d.attrs.length)));
  const split = int(rng, 0, atts.length);
  const pre = atts.slice(0, split), post = atts.slice(split);
  let text = `Find me ${pre.length ? pre.join(", ") + " " : ""}${d.type.query}`;
  if (post.length) text += ` ${rng() < 0.5 ? "with" : "for"} ${post.join(", ")}`;
  return { text, atts: pre.concat(post) };
}

/**
 * Generates a synthetic catalog in WebShop's raw formats. Deterministic in `seed`.
 *
 * @example
 * ```ts
 * const cat = generateSyntheticCatalog({ numProducts: 200, seed: 1 });
 * cat.products.length; // 200
 * cat.humanGoals[0]; // e.g. "i need a gluten free protein bar in chocolate flavor, 12 count"
 * ```
 */
export function generateSyntheticCatalog(opts: SyntheticCatalogOptions = {}): SyntheticCatalog {
  const numProducts = opts.numProducts ?? 1000;
  const seed = opts.seed ?? 0;
  const numHumanGoals = opts.numHumanGoals ?? Math.min(2 * numProducts, WEBSHOP_HUMAN_GOALS);
  const lookalikeRate = opts.lookalikeRate ?? 0.85;
  if (!Number.isInteger(numProducts) || numProducts < 1) {
    throw new Error(
      `generateSyntheticCatalog: numProducts must be a positive integer, got ${numProducts}`,
    );
  }
  if (!Number.isInteger(seed)) {
    throw new Error(`generateSyntheticCatalog: seed must be an integer, got ${seed}`);
  }
  if (!Number.isInteger(numHumanGoals) || numHumanGoals < 0) {
    throw new Error(
      `generateSyntheticCatalog: numHumanGoals must be a non-negative integer, got ${numHumanGoals}`,
    );
  }
  if (!(lookalikeRate >= 0 && lookalikeRate <= 1)) {
    throw new Error(
      `generateSyntheticCatalog: lookalikeRate must be in [0, 1], got ${lookalikeRate}`,
    );
  }
  const rng: Rng = seedrandom.alea(`webshop-synthetic:${seed}`);
  const seen = new Set<string>();
  const drafts: Draft[] = [];
  const bases: Draft[] = [];
  const lookalikes: LookalikeInfo[] = [];
  const kinds: LookalikeKind[] = ["attribute", "option", "price"];
  while (drafts.length < numProducts) {
    const base = makeBase(rng, seen);
    drafts.push(base);
    bases.push(base);
    if (rng() >= lookalikeRate) continue;
    const n = int(rng, 1, 2);
    for (const kind of sample(rng, kinds, n)) {
      if (drafts.length >= numProducts) break;
      const la = makeLookalike(rng, seen, base, kind) ??
        makeLookalike(rng, seen, base, "price");
      if (!la) continue;
      drafts.push(la.draft);
      // A kind that is impossible for this base falls back to a price lookalike.
      const actual: LookalikeKind = la.detail === "price" ? "price" : kind;
      lookalikes.push({ asin: la.draft.asin, base: base.asin, kind: actual, detail: la.detail });
    }
  }

  // items_shuffle: the real file is shuffled, so families do not sit next to each other.
  const order = shuffle(rng, drafts.slice());
  const products = order.map((d) => toRecord(rng, d));

  const attributes: RawAttributeFile = {};
  for (const d of order) {
    const entry: RawAttributeFile[string] = { attributes: d.attrs.slice() };
    if (rng() < 0.4) {
      const s = makeSyntheticInstruction(rng, d);
      entry.instruction = s.text;
      entry.instruction_attributes = s.atts;
    }
    attributes[d.asin] = entry;
  }

  // Human-style instructions: rounds over the base products until enough distinct ones exist.
  const humanInstructions: RawHumanInstructionFile = {};
  const goalQueryMap: RawGoalQueryMap = {};
  let written = 0;
  const used = new Set<string>();
  const goalBases = shuffle(rng, bases.slice());
  for (let round = 0; round < 12 && written < numHumanGoals; round++) {
    let added = 0;
    for (const d of goalBases) {
      if (written >= numHumanGoals) break;
      for (let attempt = 0; attempt < 4; attempt++) {
        const ins = makeInstruction(rng, d);
        const key = processInstruction(ins.instruction);
        if (used.has(key)) continue;
        used.add(key);
        (humanInstructions[d.asin] ??= []).push(ins);
        written++;
        goalQueryMap[key] = makeQueries(rng, d, ins);
        added++;
        break;
      }
    }
    if (added === 0) break;
  }
  const humanGoals = humanGoalsOrder(products, humanInstructions);
  return { products, attributes, humanInstructions, humanGoals, goalQueryMap, lookalikes };
}

/**
 * `human_goals.json` for a catalog: WebShop's goal order, which is the split order. goal.py
 * `get_human_goals` walks the products in file order and each product's instructions in order,
 * skipping those without attributes; the text env then runs `random.seed(233);
 * random.shuffle(goals)`. `PyRandom` repeats that shuffle bit for bit, so entry i is the
 * processed instruction of the env's goal i and demonstrations split like the env's goals.
 */
export function humanGoalsOrder(
  products: readonly RawProduct[],
  humanInstructions: RawHumanInstructionFile,
): string[] {
  const texts: string[] = [];
  for (const p of products) {
    for (const ins of humanInstructions[p.asin] ?? []) {
      if (ins.instruction_attributes.length > 0) texts.push(processInstruction(ins.instruction));
    }
  }
  new PyRandom(233).shuffle(texts);
  return texts;
}

/** WebShop's file names for a catalog of `numProducts` (the 1000-product set has its own). */
export function syntheticFileNames(numProducts: number): {
  products: string;
  attributes: string;
  humanInstructions: string;
  humanGoals: string;
  goalQueryMap: string;
} {
  return {
    products: numProducts === 1000 ? "items_shuffle_1000.json" : "items_shuffle.json",
    attributes: numProducts === 1000 ? "items_ins_v2_1000.json" : "items_ins_v2.json",
    humanInstructions: "items_human_ins.json",
    humanGoals: "human_goals.json",
    goalQueryMap: "goal_query_map.json",
  };
}

// ---------------------------------------------------------------------------------------------
// Cleaning for the env, and writing the files
// ---------------------------------------------------------------------------------------------

/**
 * Generates a synthetic catalog and cleans it through the loaders' in-memory path, with goals
 * built and ordered as WebShop does, ready for `WebShopEnv`.
 *
 * @example
 * ```ts
 * const cat = loadSyntheticCatalog({ numProducts: 1000, seed: 0 });
 * const env = new WebShopEnv({ catalog: cat.products, goals: cat.goals });
 * ```
 */
export function loadSyntheticCatalog(
  opts: OpenCatalogOptions = {},
): LoadedCatalog & { raw: SyntheticCatalog } {
  return catalogFromSynthetic(generateSyntheticCatalog(opts), opts);
}

/** Cleans an already generated synthetic catalog and builds its goals (see loadSyntheticCatalog). */
export function catalogFromSynthetic(
  raw: SyntheticCatalog,
  opts: Pick<OpenCatalogOptions, "goals" | "loadSeed"> = {},
): LoadedCatalog & { raw: SyntheticCatalog } {
  const catalog = loadCatalogFromRecords(raw, { seed: opts.loadSeed });
  const goalKind = opts.goals ?? "human";
  const { goals } = makeGoals(catalog.products, goalKind, { seed: opts.loadSeed });
  return {
    ...catalog,
    goals,
    goalKind,
    splits: splitGoals(goals.length),
    humanGoals: goalKind === "human" ? raw.humanGoals : undefined,
    goalQueryMap: raw.goalQueryMap,
    source: "synthetic",
    raw,
  };
}

function* jsonArrayPieces(xs: readonly unknown[]): Iterable<string> {
  yield "[";
  for (let i = 0; i < xs.length; i++) yield (i > 0 ? ",\n" : "\n") + JSON.stringify(xs[i]);
  yield "\n]\n";
}

function* jsonObjectPieces(obj: Readonly<Record<string, unknown>>): Iterable<string> {
  yield "{";
  let first = true;
  for (const [k, v] of Object.entries(obj)) {
    yield (first ? "\n" : ",\n") + JSON.stringify(k) + ": " + JSON.stringify(v);
    first = false;
  }
  yield "\n}\n";
}

/** The entries of folder `path` (null when it does not exist); throws when it is a file. */
async function folderEntries(path: string): Promise<string[] | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  if (!info.isDirectory) throw new Error(`${path} is a file, not a folder`);
  const names: string[] = [];
  for await (const e of Deno.readDir(path)) names.push(e.name);
  return names.sort();
}

/**
 * Throws unless `dir` is missing or an empty folder, naming what it holds: the check
 * {@linkcode writeSyntheticCatalog} makes, for commands to make before a long generation.
 */
export async function checkNewFolder(dir: string): Promise<void> {
  const existing = await folderEntries(dir);
  if (existing && existing.length > 0) {
    const shown = existing.slice(0, 5).join(", ") + (existing.length > 5 ? ", ..." : "");
    throw new Error(
      `${dir} is not empty (${existing.length} entries: ${shown}); write a catalog into a new ` +
        "or empty folder",
    );
  }
}

/** Options of {@linkcode writeSyntheticCatalog}. */
export interface WriteCatalogOptions {
  /** Writes more files (e.g. demonstrations) into the staging folder; returns name -> bytes. */
  extra?: (dir: string) => Promise<Record<string, number>>;
}

/**
 * Writes a synthetic catalog as a new folder `dir` under WebShop's file names (see
 * `syntheticFileNames`), plus what `opts.extra` writes. The whole set is written into a staging
 * folder beside `dir` and renamed into place, so `dir` holds either all of it or nothing. A `dir`
 * that already holds files is refused with their names: files left over from another catalog
 * would be mixed with the new one (the loaders refuse two product files). Returns file name ->
 * bytes written.
 */
export async function writeSyntheticCatalog(
  dir: string,
  catalog: SyntheticCatalog,
  opts: WriteCatalogOptions = {},
): Promise<Record<string, number>> {
  dir = dir.replace(/(.)\/+$/, "$1");
  await checkNewFolder(dir);
  const parent = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(parent, { recursive: true });
  const stage = `${dir}.tmp-${Deno.pid}`;
  await Deno.mkdir(stage);
  const out: Record<string, number> = {};
  try {
    const names = syntheticFileNames(catalog.products.length);
    const at = (n: string) => `${stage}/${n}`;
    out[names.products] = await writeAtomically(
      at(names.products),
      jsonArrayPieces(catalog.products),
    );
    out[names.attributes] = await writeAtomically(
      at(names.attributes),
      jsonObjectPieces(catalog.attributes),
    );
    out[names.humanInstructions] = await writeAtomically(
      at(names.humanInstructions),
      jsonObjectPieces(catalog.humanInstructions),
    );
    out[names.humanGoals] = await writeAtomically(
      at(names.humanGoals),
      jsonArrayPieces(catalog.humanGoals),
    );
    out[names.goalQueryMap] = await writeAtomically(
      at(names.goalQueryMap),
      jsonObjectPieces(catalog.goalQueryMap),
    );
    if (opts.extra) Object.assign(out, await opts.extra(stage));
  } catch (e) {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    throw e;
  }
  // The empty target folder checked above goes first: a rename onto a folder is not portable.
  if ((await folderEntries(dir)) !== null) await Deno.remove(dir);
  await Deno.rename(stage, dir);
  return out;
}
