/**
 * Goals and splits, as engine/goal.py and the baselines build them:
 *
 * - Human goals (`get_human_goals`): one per human instruction of a product with at least one
 *   attribute; `goal_options` are the option values the worker ticked; weight 1.
 * - Synthetic goals (`get_synthetic_goals`): each product with a synthetic instruction, times every
 *   combination of its option values (option names sorted, the last varying fastest), with
 *   " with name: value, and name: value" appended; weight = mean over the goal's attributes of
 *   1 / (number of goals asking for that attribute).
 * - Price bound: of the multiples of 10 (10..990) above the product's price, the first four are
 *   candidates; two distinct ones are drawn and the larger is `price_upper`, and the instruction
 *   gets ", and price lower than X.00 dollars". With fewer than two candidates the bound is
 *   1000000 and no text is added. WebShop draws these from Python's unseeded global RNG; here
 *   from a seeded one (seedrandom), so a seed reproduces them.
 * - Order: WebShop then runs `random.seed(233); random.shuffle(goals)`. `PyRandom` re-implements
 *   CPython's Mersenne Twister and shuffle bit for bit, so the same goal list gets the same order
 *   as in WebShop (the order `human_goals.json` records).
 * - Splits: goals [0, 500) test, [500, 1500) eval, [1500, n) train, for n >= 12087 (the size of
 *   WebShop's human goal set, which those bounds were made for). Smaller goal sets are split in
 *   the same proportions: test = max(1, round(n * 500 / 12087)), eval = max(1, round(n * 1000 /
 *   12087)), train = the rest (with n < 3, test then eval get one goal each first).
 *
 * @module
 */

import seedrandom from "seedrandom";
import { PyRandom } from "./_python.ts";
import type { Goal, Product, RawHumanGoalsFile, RawIlTrajectory } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Goals
// ---------------------------------------------------------------------------------------------

/** WebShop's price grid: 10, 20, ..., 990. */
export const PRICE_RANGE: readonly number[] = Array.from({ length: 99 }, (_, i) => 10 * (i + 1));

/** Bound used when no price bound applies. */
export const NO_PRICE_UPPER = 1000000;

/**
 * WebShop's price bound for a product priced `price`: the larger of two distinct draws among the
 * next four multiples of 10 above the price, with the instruction suffix; 1000000 and "" when
 * fewer than two multiples remain.
 */
export function drawPriceUpper(
  price: number,
  rng: () => number,
): { price_upper: number; price_text: string } {
  const candidates = PRICE_RANGE.filter((p) => p > price).slice(0, 4);
  if (candidates.length < 2) return { price_upper: NO_PRICE_UPPER, price_text: "" };
  // random.sample(candidates, 2), then the larger of the two.
  const i = Math.floor(rng() * candidates.length);
  let j = Math.floor(rng() * (candidates.length - 1));
  if (j >= i) j++;
  const price_upper = Math.max(candidates[i], candidates[j]);
  return { price_upper, price_text: `, and price lower than ${price_upper.toFixed(2)} dollars` };
}

function stripDots(s: string): string {
  return s.replace(/^\.+|\.+$/g, "");
}

/** Counts of what goal building skipped. */
export interface GoalStats {
  /** Human instructions without attributes (WebShop prints these as "skipped"). */
  skippedNoAttributes: number;
  /** Products with a synthetic instruction but no instruction attributes (WebShop asserts). */
  skippedNoInstructionAttributes: number;
  /** Products with an option that has no values (no option combination exists). */
  skippedEmptyOption: number;
}

/** goal.py `get_human_goals`: one goal per human instruction with attributes. */
export function makeHumanGoals(
  products: readonly Product[],
  rng: () => number,
  stats?: GoalStats,
): Goal[] {
  const goals: Goal[] = [];
  for (const item of products) {
    if (!item.instructions) continue;
    for (const ins of item.instructions) {
      if (ins.instruction_attributes.length === 0) {
        if (stats) stats.skippedNoAttributes++;
        continue;
      }
      const { price_upper, price_text } = drawPriceUpper(item.price, rng);
      goals.push({
        asin: item.asin,
        category: item.category,
        query: item.query,
        name: item.name,
        product_category: item.product_category,
        instruction_text: stripDots(ins.instruction) + price_text,
        attributes: ins.instruction_attributes,
        price_upper,
        goal_options: ins.instruction_options,
        weight: 1,
      });
    }
  }
  return goals;
}

/** Every combination of option values, option names sorted, last name varying fastest. */
function optionCombinations(options: Record<string, string[]>): Record<string, string>[] {
  const names = Object.keys(options).sort();
  let combos: Record<string, string>[] = [{}];
  for (const name of names) {
    const next: Record<string, string>[] = [];
    for (const c of combos) for (const v of options[name]) next.push({ ...c, [name]: v });
    combos = next;
  }
  return combos;
}

/** goal.py `get_synthetic_goals`: instruction x option combinations, weighted. */
export function makeSyntheticGoals(
  products: readonly Product[],
  rng: () => number,
  stats?: GoalStats,
): Goal[] {
  const goals: Goal[] = [];
  const attributeCount = new Map<string, number>();
  for (const product of products) {
    const text = product.instruction_text;
    if (text === undefined || text === null) continue;
    const attributes = product.instruction_attributes;
    if (!attributes || attributes.length === 0) {
      if (stats) stats.skippedNoInstructionAttributes++;
      continue;
    }
    const { price_upper, price_text } = drawPriceUpper(product.price, rng);
    const combos = optionCombinations(product.options);
    if (combos.length === 0 && stats) stats.skippedEmptyOption++;
    for (const goal_options of combos) {
      const optionText = Object.entries(goal_options).map(([k, v]) => `${k}: ${v}`).join(", and ");
      goals.push({
        asin: product.asin,
        category: product.category,
        query: product.query,
        name: product.Title,
        product_category: product.product_category,
        instruction_text: `${text}${optionText ? " with " + optionText : ""}${price_text}`,
        attributes,
        price_upper,
        goal_options,
        weight: 0,
      });
      for (const a of attributes) attributeCount.set(a, (attributeCount.get(a) ?? 0) + 1);
    }
  }
  for (const g of goals) {
    let sum = 0;
    for (const a of g.attributes) sum += 1 / attributeCount.get(a)!;
    g.weight = sum / g.attributes.length;
  }
  return goals;
}

/** Options of `makeGoals`. */
export interface MakeGoalsOptions {
  /** Seed of the price-bound draws (seedrandom). Default 233. */
  seed?: number | string;
  /** Seed of the CPython-identical shuffle; WebShop's is 233. Null keeps the build order. */
  shuffleSeed?: number | null;
}

/**
 * Builds human or synthetic goals and orders them as WebShop does (`random.seed(233);
 * random.shuffle(goals)`).
 *
 * @example
 * ```ts
 * const { goals } = makeGoals(catalog.products, "human");
 * const test = goals.slice(...splitGoals(goals.length).test);
 * ```
 */
export function makeGoals(
  products: readonly Product[],
  kind: "human" | "synthetic",
  opts: MakeGoalsOptions = {},
): { goals: Goal[]; stats: GoalStats } {
  const stats: GoalStats = {
    skippedNoAttributes: 0,
    skippedNoInstructionAttributes: 0,
    skippedEmptyOption: 0,
  };
  const rng = seedrandom(`${opts.seed ?? 233}:goals`);
  let goals: Goal[];
  if (kind === "human") goals = makeHumanGoals(products, rng, stats);
  else if (kind === "synthetic") goals = makeSyntheticGoals(products, rng, stats);
  else throw new Error(`makeGoals: kind must be "human" or "synthetic", got "${kind}"`);
  const shuffleSeed = opts.shuffleSeed === undefined ? 233 : opts.shuffleSeed;
  if (shuffleSeed !== null) new PyRandom(shuffleSeed).shuffle(goals);
  return { goals, stats };
}

// ---------------------------------------------------------------------------------------------
// Splits
// ---------------------------------------------------------------------------------------------

/** Goal index ranges [start, end) of each split. */
export interface GoalSplits {
  test: [number, number];
  eval: [number, number];
  train: [number, number];
}

/** Number of WebShop human goals, for which the fixed split bounds were made. */
export const WEBSHOP_HUMAN_GOALS = 12087;

/** Split bounds for `n` goals (see the module doc for the rule). */
export function splitGoals(n: number): GoalSplits {
  if (!Number.isInteger(n) || n < 0) throw new Error(`splitGoals: n must be a count, got ${n}`);
  let nTest: number, nEval: number;
  if (n >= WEBSHOP_HUMAN_GOALS) {
    nTest = 500;
    nEval = 1000;
  } else if (n < 3) {
    nTest = Math.min(n, 1);
    nEval = Math.min(n - nTest, 1);
  } else {
    nTest = Math.max(1, Math.round(n * 500 / WEBSHOP_HUMAN_GOALS));
    nEval = Math.max(1, Math.round(n * 1000 / WEBSHOP_HUMAN_GOALS));
  }
  return { test: [0, nTest], eval: [nTest, nTest + nEval], train: [nTest + nEval, n] };
}

/** The goals of one split. */
export function goalsForSplit<T>(goals: readonly T[], split: keyof GoalSplits): T[] {
  const [a, b] = splitGoals(goals.length)[split];
  return goals.slice(a, b);
}

/** A goal split (see {@linkcode goalIndicesForSplit}), or all goals. */
export type GoalSplit = "test" | "eval" | "train" | "all";

/** Every {@linkcode GoalSplit}, in the order usage texts list them. */
export const GOAL_SPLITS: readonly GoalSplit[] = ["test", "eval", "train", "all"];

/**
 * Goal indices of a split: `splitGoals` bounds (WebShop's test 0-499, eval 500-1499,
 * train 1500+ for the full human goal set; the same proportions for smaller sets), or all.
 */
export function goalIndicesForSplit(numGoals: number, split: GoalSplit): number[] {
  let a = 0, b = numGoals;
  if (split === "test" || split === "eval" || split === "train") {
    [a, b] = splitGoals(numGoals)[split];
  } else if (split !== "all") {
    throw new Error(`goalIndicesForSplit: split must be test, eval, train or all, got "${split}"`);
  }
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}

// ---------------------------------------------------------------------------------------------
// Demonstrations and human_goals.json
// ---------------------------------------------------------------------------------------------

/**
 * WebShop's `process_goal` (train_choice_il.py), the one implementation: the instruction of a
 * demonstration's first state in the form `human_goals.json` lists it. As Python does it:
 * lower-cased, quotes removed, every page header and search button removed (`str.replace`
 * replaces all), stripped, then cut before the price clause (not stripped again).
 *
 * @example
 * ```ts
 * processGoal('WebShop\nInstruction: I\'d like "Red" mugs, and price lower than 30.00 dollars');
 * // "id like red mugs"
 * ```
 */
export function processGoal(state: string): string {
  let s = state.toLowerCase().replaceAll('"', "").replaceAll("'", "");
  s = s.replaceAll("amazon shopping game\ninstruction:", "").replaceAll(
    "webshop\ninstruction:",
    "",
  );
  s = s.replaceAll("\n[button] search [button_]", "").trim();
  const cut = s.indexOf(", and price lower than");
  return cut >= 0 ? s.slice(0, cut) : s;
}

/** {@linkcode processGoal} under its earlier name. */
export const ilGoalText: (firstState: string) => string = processGoal;

/** A goal's instruction in the form {@linkcode processGoal} gives, stripped after the cut too. */
export function goalKey(instructionText: string): string {
  return processGoal(instructionText).trim();
}

/** Index of each entry of `human_goals.json`; the first wins when an entry repeats. */
function humanGoalIndex(humanGoals: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  humanGoals.forEach((g, i) => {
    if (!index.has(g)) index.set(g, i);
  });
  return index;
}

/**
 * Goal index of each demonstration: its first state's instruction (`goalKey`) looked up in
 * `human_goals.json` as WebShop does, or among the goals' instructions; −1 when not found.
 */
export function demoGoalIndices(
  trajs: readonly RawIlTrajectory[],
  data: { goals: readonly Pick<Goal, "instruction_text">[]; humanGoals?: readonly string[] },
): number[] {
  let index: Map<string, number>;
  if (data.humanGoals) index = humanGoalIndex(data.humanGoals);
  else {
    index = new Map();
    data.goals.forEach((g, i) => {
      const k = goalKey(g.instruction_text);
      if (!index.has(k)) index.set(k, i);
    });
  }
  return trajs.map((t) => index.get(goalKey(t.states[0])) ?? -1);
}

/**
 * Demonstrations of one split, selected by their goal's index in `human_goals.json` (as
 * train_choice_il.py `get_data`, whose key is `process_goal` unstripped); those whose
 * instruction is not listed are counted, not kept.
 */
export function ilTrajectoriesForSplit(
  trajectories: readonly RawIlTrajectory[],
  humanGoals: RawHumanGoalsFile,
  split: keyof GoalSplits,
): { trajectories: RawIlTrajectory[]; unmatched: number } {
  const index = humanGoalIndex(humanGoals);
  const [a, b] = splitGoals(humanGoals.length)[split];
  const out: RawIlTrajectory[] = [];
  let unmatched = 0;
  for (const t of trajectories) {
    const i = index.get(processGoal(t.states[0]));
    if (i === undefined) unmatched++;
    else if (i >= a && i < b) out.push(t);
  }
  return { trajectories: out, unmatched };
}
