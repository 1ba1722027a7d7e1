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
import type { Goal, Product, RawHumanGoalsFile, RawIlTrajectory } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// CPython's random, for the goal shuffle
// ---------------------------------------------------------------------------------------------

const N = 624, M = 397;

/**
 * CPython's `random.Random` core (MT19937, `seed(int)`, `random()`, `getrandbits(k <= 32)`,
 * `shuffle`), bit-identical to Python 3, so `new PyRandom(233).shuffle(goals)` orders goals as
 * WebShop's `random.seed(233); random.shuffle(goals)`.
 *
 * @example
 * ```ts
 * const xs = [0, 1, 2, 3, 4];
 * new PyRandom(233).shuffle(xs); // same order as Python's
 * ```
 */
export class PyRandom {
  #mt = new Uint32Array(N);
  #mti = N + 1;

  constructor(seed: number) {
    this.seed(seed);
  }

  /** `random.seed(n)` for an integer n (|n| < 2^53). */
  seed(n: number): void {
    if (!Number.isSafeInteger(n)) throw new Error(`PyRandom.seed: need a safe integer, got ${n}`);
    let a = Math.abs(n);
    const key: number[] = [];
    while (a > 0) {
      key.push(a % 0x100000000);
      a = Math.floor(a / 0x100000000);
    }
    if (key.length === 0) key.push(0);
    this.#initByArray(key);
  }

  #initGenrand(s: number): void {
    const mt = this.#mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.#mti = N;
  }

  #initByArray(key: number[]): void {
    const mt = this.#mt;
    this.#initGenrand(19650218);
    let i = 1, j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1664525)) + key[j] + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  /** One tempered 32-bit output (genrand_uint32). */
  uint32(): number {
    const mt = this.#mt;
    if (this.#mti >= N) {
      let kk = 0;
      for (; kk < N - M; kk++) {
        const y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7fffffff);
        mt[kk] = mt[kk + M] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      for (; kk < N - 1; kk++) {
        const y = (mt[kk] & 0x80000000) | (mt[kk + 1] & 0x7fffffff);
        mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      const y = (mt[N - 1] & 0x80000000) | (mt[0] & 0x7fffffff);
      mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      this.#mti = 0;
    }
    let y = mt[this.#mti++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random.random()`: a 53-bit float in [0, 1). */
  random(): number {
    const a = this.uint32() >>> 5, b = this.uint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** `random.getrandbits(k)` for 1 <= k <= 32. */
  getrandbits(k: number): number {
    if (k < 1 || k > 32) throw new Error(`PyRandom.getrandbits: k must be in [1, 32], got ${k}`);
    return this.uint32() >>> (32 - k);
  }

  /** `random._randbelow(n)` (rejection sampling on n.bit_length() bits), 0 < n <= 2^32. */
  randbelow(n: number): number {
    const k = Math.floor(Math.log2(n)) + 1;
    let r = this.getrandbits(Math.min(k, 32));
    while (r >= n) r = this.getrandbits(Math.min(k, 32));
    return r;
  }

  /** `random.shuffle(x)` in place. */
  shuffle<T>(x: T[]): T[] {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      const t = x[i];
      x[i] = x[j];
      x[j] = t;
    }
    return x;
  }
}

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

/**
 * Demonstrations of one split, selected by their goal's index in `human_goals.json` (as
 * train_choice_il.py `get_data`); those whose instruction is not listed are counted, not kept.
 */
export function ilTrajectoriesForSplit(
  trajectories: readonly RawIlTrajectory[],
  humanGoals: RawHumanGoalsFile,
  split: keyof GoalSplits,
): { trajectories: RawIlTrajectory[]; unmatched: number } {
  const index = new Map<string, number>();
  humanGoals.forEach((g, i) => {
    if (!index.has(g)) index.set(g, i);
  });
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
