/**
 * WebShop's reward (engine/goal.py `get_reward`), component by component:
 *
 *   total = r_type * (n_att + n_opt + r_price) / (|attributes| + |goal_options| + 1)
 *
 * - r_type (`getTypeReward`): 1 when the bought product is of the goal's type, judged by an equal
 *   search query, >= 2 shared `product_category` levels, or the share of the goal title's nouns
 *   found among the bought title's nouns (`title_score`); 0.5 when none of the three holds; 0.1
 *   when title_score < 0.1; 0 when title_score is 0.
 * - n_att (`getAttributeReward`): goal attributes matched by a product attribute with fuzzy
 *   token_set_ratio > 85, else found as a substring of the title, bullet points or description.
 * - n_opt (`getOptionReward`): goal options matched (token_set_ratio > 85) by a chosen option
 *   value, both sides passed through `normalizeColor`.
 * - r_price: 1 when the price is at most `price_upper`.
 *
 * Fidelity notes (each checked against the Python semantics):
 * - Fuzzy scores are thefuzz 0.19.0's (the version WebShop pins, without python-Levenshtein, so
 *   difflib's SequenceMatcher): strings are cut to ASCII by deleting U+0080..U+00FF, every
 *   character that is not a letter, digit or "_" becomes a space, then lower-cased and trimmed;
 *   the ratio is difflib's, rounded. fuzzball provides the difflib port.
 * - Nouns: WebShop uses spaCy en_core_web_sm POS tags (NOUN, PROPN); here wink-nlp's English
 *   lite model, the closest tagger available in JavaScript. Titles may differ in a few tags.
 * - Mode "webshop" (default) keeps the original's quirk for synthetic goals: their
 *   `goal_options` object is passed as (name, value) pairs, so `normalize_color` tests the pair
 *   for membership (an exact colour name or value) and thefuzz compares the chosen value with
 *   Python's `str()` of the pair, "('size', 'standard')". Colour normalisation then runs on the
 *   bought side only: "standard" becomes "tan", which no longer matches the pair, so an exact
 *   purchase can score below 1. Mode "corrected" compares option values on both sides, and an
 *   exactly equal value always matches.
 *
 * @module
 */

import * as fuzz from "fuzzball";
import winkNLP from "wink-nlp";
import model from "wink-eng-lite-web-model";
import { COLOR_SET, normalizeColor } from "./normalize.ts";
import { pyRound, pyStrPair } from "./_python.ts";
import type { ChosenOptions, Goal, Product } from "./types.ts";

/** Which option comparison to use: WebShop's exact behaviour, or the corrected one. */
export type RewardMode = "webshop" | "corrected";

/** Every reward mode, for flag checks. */
export const REWARD_MODES: readonly RewardMode[] = ["webshop", "corrected"];

/**
 * The reward mode of every command and of `WebShopEnv` when none is given: WebShop's own, as the
 * published numbers use it.
 */
export const DEFAULT_REWARD_MODE: RewardMode = "webshop";

/** Options of `getReward`. */
export interface RewardOptions {
  /** Return `[reward, info]` with the breakdown instead of the reward alone. */
  verbose?: boolean;
  /** "webshop" (default): the original's option quirk; "corrected": compare option values. */
  mode?: RewardMode;
}

/** The product fields the reward reads (a cleaned `Product` has them all). */
export type RewardProduct = Pick<
  Product,
  "Title" | "BulletPoints" | "Description" | "Attributes" | "query" | "product_category" | "name"
>;

/** The goal fields the reward reads. */
export type RewardGoal = Pick<
  Goal,
  "attributes" | "goal_options" | "price_upper" | "query" | "product_category" | "name"
>;

/** `get_type_reward`'s result. */
export interface TypeReward {
  r_type: number;
  query_match: boolean;
  category_match: boolean;
  title_score: number;
}

/** The verbose breakdown, with WebShop's keys (option/price keys absent when not scored). */
export interface RewardInfo {
  r_type: number;
  r_att: number;
  w_att: number;
  query_match: boolean;
  category_match: boolean;
  title_score: number;
  r_option?: number;
  w_option?: number;
  /** A boolean as in WebShop (`price <= price_upper`). */
  r_price?: boolean;
  w_price?: number;
}

/**
 * A goal option as `get_option_reward` receives it: a value (human goals, corrected mode) or a
 * (name, value) pair (synthetic goals in webshop mode, the original's `dict.items()`).
 */
export type GoalOption = string | readonly [name: string, value: string];

/** Fuzzy threshold: a pair matches when token_set_ratio > 85. */
export const FUZZ_THRESHOLD = 85;

// ---------------------------------------------------------------------------------------------
// thefuzz 0.19.0 token_set_ratio
// ---------------------------------------------------------------------------------------------

/** A processed string and its sorted unique tokens. */
interface Processed {
  text: string;
  tokens: string[];
}

const processCache = new Map<string, Processed>();
const PROCESS_CACHE_MAX = 200_000;

function processed(s: string): Processed {
  let out = processCache.get(s);
  if (out !== undefined) return out;
  const text = s.replace(/[\u0080-\u00ff]/g, "").replace(/[^\p{L}\p{N}_]/gu, " ").toLowerCase()
    .trim();
  const tokens = text.length === 0 ? [] : [...new Set(text.split(/\s+/))].sort();
  out = { text, tokens };
  if (processCache.size >= PROCESS_CACHE_MAX) processCache.clear();
  processCache.set(s, out);
  return out;
}

/** thefuzz's `intr(100 * m.ratio())` from difflib's matched-character count. */
function ratioScore(matches: number, length: number): number {
  return pyRound(100 * (2.0 * matches / length));
}

/**
 * Characters difflib's SequenceMatcher(None, a, b) matches (the sum of its matching blocks):
 * longest block first, earliest in a then in b, then recursively left and right of it. Exact for
 * b shorter than 200 characters, where difflib's autojunk does not apply.
 */
function difflibMatches(a: string, b: string): number {
  const b2j = new Map<number, number[]>();
  for (let j = 0; j < b.length; j++) {
    const c = b.charCodeAt(j);
    const list = b2j.get(c);
    if (list) list.push(j);
    else b2j.set(c, [j]);
  }
  let j2len = new Int32Array(b.length + 1);
  let newj2len = new Int32Array(b.length + 1);
  let total = 0;
  const queue: number[] = [0, a.length, 0, b.length];
  while (queue.length > 0) {
    const bhi = queue.pop()!, blo = queue.pop()!, ahi = queue.pop()!, alo = queue.pop()!;
    let besti = alo, bestj = blo, bestsize = 0;
    j2len.fill(0);
    for (let i = alo; i < ahi; i++) {
      newj2len.fill(0);
      const js = b2j.get(a.charCodeAt(i));
      if (js) {
        for (const j of js) {
          if (j < blo) continue;
          if (j >= bhi) break;
          // j2len is indexed j + 1 so that j - 1 = -1 reads slot 0.
          const k = j2len[j] + 1;
          newj2len[j + 1] = k;
          if (k > bestsize) {
            besti = i - k + 1;
            bestj = j - k + 1;
            bestsize = k;
          }
        }
      }
      const t = j2len;
      j2len = newj2len;
      newj2len = t;
    }
    if (bestsize > 0) {
      total += bestsize;
      if (alo < besti && blo < bestj) queue.push(alo, besti, blo, bestj);
      if (besti + bestsize < ahi && bestj + bestsize < bhi) {
        queue.push(besti + bestsize, ahi, bestj + bestsize, bhi);
      }
    }
  }
  return total;
}

// fuzzball options for the reference path (isAClone skips its per-call defaults clone).
const FUZZ_OPTS = {
  isAClone: true,
  full_process: false,
  force_ascii: false,
  collapseWhitespace: true,
  ratio_alg: "difflib",
  autojunk: true,
};

/** thefuzz 0.19.0 `fuzz.ratio` on processed strings (difflib), via fuzzball. */
function refRatio(a: string, b: string): number {
  if (a === b) return 100;
  if (a.length === 0 || b.length === 0) return 0;
  // deno-lint-ignore no-explicit-any
  return fuzz.ratio(a, b, FUZZ_OPTS as any);
}

/** Upper bound on difflib's matches: the shared character multiset. */
function sharedChars(a: string, b: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let shared = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    const n = counts.get(c);
    if (n) {
      shared++;
      counts.set(c, n - 1);
    }
  }
  return shared;
}

/**
 * token_set_ratio on processed inputs. With `threshold` it may stop early and return any score
 * on the right side of it (used by the reward, which only asks "> 85"); without, the exact score.
 */
function tokenSetScore(p1: Processed, p2: Processed, threshold?: number): number {
  if (p1.text.length === 0 || p2.text.length === 0) return 0;
  if (p1.text === p2.text) return 100;
  const t1 = p1.tokens, t2 = p2.tokens;
  const sect: string[] = [], d12: string[] = [], d21: string[] = [];
  let i = 0, j = 0;
  while (i < t1.length && j < t2.length) {
    if (t1[i] === t2[j]) {
      sect.push(t1[i++]);
      j++;
    } else if (t1[i] < t2[j]) d12.push(t1[i++]);
    else d21.push(t2[j++]);
  }
  while (i < t1.length) d12.push(t1[i++]);
  while (j < t2.length) d21.push(t2[j++]);
  // Python sorts by code point, JS by UTF-16 unit: they differ only beyond the BMP.
  const s = sect.join(" ");
  const c12 = (s + " " + d12.join(" ")).trim();
  const c21 = (s + " " + d21.join(" ")).trim();
  // sect is a prefix of both combinations: difflib matches exactly its characters.
  const r1 = s.length === 0 ? 0 : s === c12 ? 100 : ratioScore(s.length, s.length + c12.length);
  const r2 = s.length === 0 ? 0 : s === c21 ? 100 : ratioScore(s.length, s.length + c21.length);
  let best = Math.max(r1, r2);
  if (threshold !== undefined && best > threshold) return best;
  if (c12 === c21) return 100;
  const length = c12.length + c21.length;
  if (threshold !== undefined && ratioScore(sharedChars(c12, c21), length) <= threshold) {
    return best;
  }
  const r3 = c21.length < 200 ? ratioScore(difflibMatches(c12, c21), length) : refRatio(c12, c21);
  best = Math.max(best, r3);
  return best;
}

function processedOption(o: GoalOption): Processed {
  return processed(typeof o === "string" ? o : pyStrPair(o));
}

/**
 * thefuzz 0.19.0 `fuzz.token_set_ratio(a, b)` (difflib ratio, integer 0..100). A pair argument is
 * compared through Python's `str()` of the tuple, as the original does with `dict.items()`.
 *
 * @example
 * ```ts
 * tokenSetRatio("tea tree", "Tea-Tree oil"); // 100
 * ```
 */
export function tokenSetRatio(a: GoalOption, b: GoalOption): number {
  return tokenSetScore(processedOption(a), processedOption(b));
}

/**
 * The same score computed the slow, plain way with fuzzball's difflib port (the reference the
 * fast `tokenSetRatio` is tested against).
 */
export function tokenSetRatioReference(a: GoalOption, b: GoalOption): number {
  const p1 = processedOption(a).text, p2 = processedOption(b).text;
  if (p1.length === 0 || p2.length === 0) return 0;
  // deno-lint-ignore no-explicit-any
  return fuzz.token_set_ratio(p1, p2, FUZZ_OPTS as any);
}

// Match results per (a, b) pair: the same attribute pairs recur across episodes and goals.
const matchCache = new Map<string, boolean>();
const MATCH_CACHE_MAX = 500_000;

/** Whether thefuzz's token_set_ratio(a, b) > 85, the reward's match test (cached per pair). */
export function fuzzyMatch(a: GoalOption, b: GoalOption): boolean {
  const ka = typeof a === "string" ? a : pyStrPair(a);
  const kb = typeof b === "string" ? b : pyStrPair(b);
  const key = ka + "\u0000" + kb;
  let hit = matchCache.get(key);
  if (hit === undefined) {
    hit = tokenSetScore(processed(ka), processed(kb), FUZZ_THRESHOLD) > FUZZ_THRESHOLD;
    if (matchCache.size >= MATCH_CACHE_MAX) matchCache.clear();
    matchCache.set(key, hit);
  }
  return hit;
}

// ---------------------------------------------------------------------------------------------
// Type reward
// ---------------------------------------------------------------------------------------------

let nlp: ReturnType<typeof winkNLP> | undefined;
const nounCache = new Map<string, string[]>();
const NOUN_CACHE_MAX = 200_000;

/**
 * Lower-cased nouns and proper nouns of a title, in order with repeats (spaCy's
 * `[t.text.lower() for t in nlp(title) if t.pos_ in ('NOUN', 'PROPN')]`, here with wink-nlp).
 * Cached per title.
 */
export function titleNouns(title: string): string[] {
  let nouns = nounCache.get(title);
  if (nouns !== undefined) return nouns;
  nlp ??= winkNLP(model);
  const tokens = nlp.readDoc(title).tokens();
  const words = tokens.out(nlp.its.value) as string[];
  const pos = tokens.out(nlp.its.pos) as string[];
  nouns = [];
  for (let i = 0; i < words.length; i++) {
    if (pos[i] === "NOUN" || pos[i] === "PROPN") nouns.push(words[i].toLowerCase());
  }
  if (nounCache.size >= NOUN_CACHE_MAX) nounCache.clear();
  nounCache.set(title, nouns);
  return nouns;
}

const levelCache = new Map<string, Set<string>>();

function categoryLevels(productCategory: string): Set<string> {
  let levels = levelCache.get(productCategory);
  if (levels === undefined) {
    levels = new Set(productCategory.split("›").map((x) => x.trim()));
    if (levelCache.size >= NOUN_CACHE_MAX) levelCache.clear();
    levelCache.set(productCategory, levels);
  }
  return levels;
}

/**
 * goal.py `get_type_reward`: whether the bought product is the goal's kind of product.
 *
 * @example
 * ```ts
 * getTypeReward(product, goal).r_type; // 1, 0.5, 0.1 or 0
 * ```
 */
export function getTypeReward(purchasedProduct: RewardProduct, goal: RewardGoal): TypeReward {
  const query_match = purchasedProduct.query === goal.query;
  const goalLevels = categoryLevels(goal.product_category);
  let shared = 0;
  for (const level of categoryLevels(purchasedProduct.product_category)) {
    if (goalLevels.has(level)) shared++;
  }
  const category_match = shared >= 2;

  const purchasedNouns = new Set(titleNouns(purchasedProduct.name));
  const desiredNouns = titleNouns(goal.name);
  const desiredSet = new Set(desiredNouns);
  let intersect = 0;
  for (const n of desiredSet) if (purchasedNouns.has(n)) intersect++;
  // The denominator is the noun list's length with repeats, as the original's len(list).
  const title_score = desiredNouns.length === 0 ? 0.2 : intersect / desiredNouns.length;

  let r_type = 1.0;
  if (!(query_match || category_match || title_score > 0.2)) r_type = 0.5;
  if (title_score < 0.1) r_type = 0.1;
  if (title_score === 0) r_type = 0.0;
  return { r_type, query_match, category_match, title_score };
}

// ---------------------------------------------------------------------------------------------
// Attribute and option rewards
// ---------------------------------------------------------------------------------------------

interface LowerText {
  title: string;
  bullets: string;
  description: string;
}
// Keyed by the product object: products are treated as immutable once loaded.
const lowerCache = new WeakMap<object, LowerText>();

function lowerText(p: RewardProduct): LowerText {
  let t = lowerCache.get(p);
  if (t === undefined) {
    t = {
      title: p.Title.toLowerCase(),
      bullets: p.BulletPoints.join(" ").toLowerCase(),
      description: p.Description.toLowerCase(),
    };
    lowerCache.set(p, t);
  }
  return t;
}

/**
 * goal.py `get_attribute_reward`: `[r_att, num_attr_matches]`, the share and count of goal
 * attributes found in the product (fuzzy against `Attributes`, else as a substring of the
 * lower-cased title, bullet points or description).
 */
export function getAttributeReward(
  purchasedProduct: RewardProduct,
  goal: Pick<RewardGoal, "attributes">,
): [r_att: number, num_attr_matches: number] {
  const goalAttrs = goal.attributes;
  let matches = 0;
  let text: LowerText | undefined;
  for (const g of goalAttrs) {
    let matched = false;
    for (const p of purchasedProduct.Attributes) {
      if (fuzzyMatch(p, g)) {
        matched = true;
        break;
      }
    }
    if (!matched) {
      text ??= lowerText(purchasedProduct);
      matched = text.title.includes(g) || text.bullets.includes(g) || text.description.includes(g);
    }
    if (matched) matches++;
  }
  return [matches / goalAttrs.length, matches];
}

/** normalize.py `normalize_color` applied to a str or, as Python would, to a (name, value) pair. */
function normalizeGoalOption(o: GoalOption): GoalOption {
  if (typeof o === "string") return normalizeColor(o);
  // `base in tuple` is tuple membership: an exact colour name or value.
  for (const base of COLOR_SET) {
    if (o[0] === base || o[1] === base) return base;
  }
  return o;
}

/**
 * goal.py `get_option_reward`: `[r_option, num_option_matches]`, the share (null when the goal
 * has no options) and count of goal options matched by a chosen option value. Pass goal options
 * as values, or as (name, value) pairs to get the original's behaviour for synthetic goals.
 */
export function getOptionReward(
  purchasedOptions: readonly string[],
  goalOptions: readonly GoalOption[],
): [r_option: number | null, num_option_matches: number] {
  const bought = purchasedOptions.map(normalizeColor);
  let matches = 0;
  for (const raw of goalOptions) {
    const g = normalizeGoalOption(raw);
    for (const p of bought) {
      if (fuzzyMatch(p, g)) {
        matches++;
        break;
      }
    }
  }
  return [goalOptions.length > 0 ? matches / goalOptions.length : null, matches];
}

/** Corrected option reward: values on both sides; an exactly equal value always matches. */
function getOptionRewardCorrected(
  purchasedOptions: readonly string[],
  goalValues: readonly string[],
): [number | null, number] {
  const bought = purchasedOptions.map(normalizeColor);
  let matches = 0;
  for (const raw of goalValues) {
    const g = normalizeColor(raw);
    for (let i = 0; i < bought.length; i++) {
      if (purchasedOptions[i] === raw || fuzzyMatch(bought[i], g)) {
        matches++;
        break;
      }
    }
  }
  return [goalValues.length > 0 ? matches / goalValues.length : null, matches];
}

// ---------------------------------------------------------------------------------------------
// Total
// ---------------------------------------------------------------------------------------------

/**
 * goal.py `get_reward`: the reward in [0, 1] for buying `purchasedProduct` at `price` with the
 * chosen `options` (option name -> value) under `goal`; with `{verbose: true}` returns
 * `[reward, info]` with WebShop's breakdown keys.
 *
 * @example
 * ```ts
 * const r = getReward(product, goal, product.price, { color: "black" });
 * const [total, info] = getReward(product, goal, product.price, {}, { verbose: true });
 * ```
 */
export function getReward(
  purchasedProduct: RewardProduct,
  goal: RewardGoal,
  price: number,
  options: ChosenOptions,
  opts: RewardOptions & { verbose: true },
): [number, RewardInfo];
export function getReward(
  purchasedProduct: RewardProduct,
  goal: RewardGoal,
  price: number,
  options: ChosenOptions,
  opts?: RewardOptions & { verbose?: false },
): number;
export function getReward(
  purchasedProduct: RewardProduct,
  goal: RewardGoal,
  price: number,
  options: ChosenOptions,
  opts?: RewardOptions,
): number | [number, RewardInfo];
export function getReward(
  purchasedProduct: RewardProduct,
  goal: RewardGoal,
  price: number,
  options: ChosenOptions,
  opts: RewardOptions = {},
): number | [number, RewardInfo] {
  const mode = opts.mode ?? DEFAULT_REWARD_MODE;
  if (mode !== "webshop" && mode !== "corrected") {
    throw new Error(`getReward: mode must be "webshop" or "corrected", got "${mode}"`);
  }
  if (!goal.attributes || goal.attributes.length === 0) {
    throw new Error(
      `getReward: goal for ${goal.name} has no attributes (WebShop skips such goals)`,
    );
  }
  const typeReward = getTypeReward(purchasedProduct, goal);
  // The original yields None for a non-positive bound and would then fail on the sum; 0 here.
  const r_price = goal.price_upper > 0 ? price <= goal.price_upper : null;
  const [r_att, numAttr] = getAttributeReward(purchasedProduct, goal);

  const chosen = Object.values(options);
  const isPairs = !Array.isArray(goal.goal_options);
  const nGoalOptions = isPairs
    ? Object.keys(goal.goal_options).length
    : (goal.goal_options as string[]).length;
  let r_option: number | null;
  let numOpt: number;
  if (mode === "webshop") {
    const goalOpts: GoalOption[] = isPairs
      ? Object.entries(goal.goal_options as Record<string, string>)
      : (goal.goal_options as string[]);
    [r_option, numOpt] = getOptionReward(chosen, goalOpts);
  } else {
    const values = isPairs
      ? Object.values(goal.goal_options as Record<string, string>)
      : (goal.goal_options as string[]);
    [r_option, numOpt] = getOptionRewardCorrected(chosen, values);
  }

  const denom = goal.attributes.length + nGoalOptions + 1;
  const total = typeReward.r_type * (numAttr + numOpt + (r_price ? 1 : 0)) / denom;
  if (!opts.verbose) return total;
  const info: RewardInfo = {
    r_type: typeReward.r_type,
    r_att,
    w_att: goal.attributes.length / denom,
    query_match: typeReward.query_match,
    category_match: typeReward.category_match,
    title_score: typeReward.title_score,
  };
  if (r_option !== null) {
    info.r_option = r_option;
    info.w_option = nGoalOptions / denom;
  }
  if (r_price !== null) {
    info.r_price = r_price;
    info.w_price = 1 / denom;
  }
  return [total, info];
}
