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

import winkNLP from "wink-nlp";
import model from "wink-eng-lite-web-model";
import { COLOR_SET, normalizeColor } from "./normalize.ts";
import { type FuzzText, fuzzyMatch } from "./fuzz.ts";
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
export type GoalOption = FuzzText;

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
