/**
 * WebShop actions: parsing `search[...]` / `click[...]` as engine.py `parse_action`, and the
 * agent-facing valid-action list of baseline_models/env.py `WebEnv.get_valid_actions`.
 *
 * @module
 */

import type { Goal } from "./types.ts";

/** An action split into name and argument (`arg` null when there are no brackets). */
export interface ParsedAction {
  name: string;
  arg: string | null;
}

// engine.py uses re.match(r'(.+)\[(.+)\]'): anchored at the start only, greedy on both groups,
// "." not matching "\n" (JS "." also refuses "\r" and U+2028/9, so spell the class out).
const ACTION_RE = /^([^\n]+)\[([^\n]+)\]/;

/**
 * engine.py `parse_action`: `"search[red shoes]"` -> `{name: "search", arg: "red shoes"}`.
 * Both groups are greedy, so `"click[a [b] c]"` gives name `"click[a "` and arg `"b] c"`, and
 * text after the last `]` is ignored; without a match the whole string is the name.
 *
 * @example
 * ```ts
 * parseAction("click[Buy Now]"); // { name: "click", arg: "Buy Now" }
 * parseAction("finish"); // { name: "finish", arg: null }
 * ```
 */
export function parseAction(action: string): ParsedAction {
  const m = ACTION_RE.exec(action);
  if (m === null) return { name: action, arg: null };
  return { name: m[1], arg: m[2] };
}

/** What the text env reports as available on the current page (`get_available_actions`). */
export interface AvailableActions {
  /** True on the search page. */
  has_search_bar: boolean;
  /** Lower-cased button and product-link texts, then option values, in page order. */
  clickables: string[];
}

/** The instruction up to ", and price lower than" (how goal_query_map keys are written). */
export function instructionWithoutPrice(instruction: string): string {
  const idx = instruction.indexOf(", and price lower than");
  return idx >= 0 ? instruction.slice(0, idx) : instruction;
}

/**
 * Normalizes a goal_query_map (human instruction -> typed queries) as WebEnv does: keys lose
 * leading and trailing dots.
 */
export function normalizeGoalQueryMap(
  map: Readonly<Record<string, readonly string[]>>,
): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [k, v] of Object.entries(map)) out.set(k.replace(/^\.+|\.+$/g, ""), v);
  return out;
}

/**
 * WebEnv `get_search_texts`: with a goal query map, the human queries for this instruction
 * then the lower-cased instruction; otherwise the goal's query, each "attribute query", and the
 * lower-cased instruction.
 */
export function searchTexts(
  goal: Pick<Goal, "attributes" | "query" | "instruction_text">,
  goalQueryMap?: ReadonlyMap<string, readonly string[]> | null,
): string[] {
  const inst = goal.instruction_text;
  if (goalQueryMap) {
    // Keys are the instruction as written (WebShop's file), or processed as human_goals.json
    // writes it (lower case, no quotes): the synthetic catalog's map uses the second form.
    const key = instructionWithoutPrice(inst);
    const queries = goalQueryMap.get(key) ??
      goalQueryMap.get(key.toLowerCase().replaceAll('"', "").replaceAll("'", "").trim()) ?? [];
    return [...queries, inst.toLowerCase()];
  }
  return [goal.query, ...goal.attributes.map((a) => `${a} ${goal.query}`), inst.toLowerCase()];
}

/** Options of the agent-facing action list (WebEnv's flags, with its defaults). */
export interface ValidActionOptions {
  /** Name product links `click[item - <title>]` instead of `click[<asin>]` (default true). */
  clickItemName?: boolean;
  /** Hide `click[buy now]` until every option of the item is chosen (default false). */
  banBuy?: boolean;
  /** Cut lists longer than 20 to the first 6 plus 10 sampled (default true). */
  reduceClick?: boolean;
}

/** Session facts the action list needs. */
export interface ValidActionContext {
  goal: Pick<Goal, "attributes" | "query" | "instruction_text">;
  /** Lower-cased ASIN -> lower-cased title, for `item - <title>` naming. */
  asinToName: (asinLower: string) => string | undefined;
  /** Options chosen so far and options the current item has (for `banBuy`). */
  chosenOptions: number;
  itemOptions: number;
  goalQueryMap?: ReadonlyMap<string, readonly string[]> | null;
  /** Uniform [0, 1) generator for the reduction's sample. */
  rng: () => number;
}

/**
 * Python's `random.sample(population, k)`: `k` distinct elements in draw order, from `rng`.
 */
export function sampleWithoutReplacement<T>(
  population: readonly T[],
  k: number,
  rng: () => number,
): T[] {
  if (k > population.length) {
    throw new Error(`sampleWithoutReplacement: k=${k} exceeds population ${population.length}`);
  }
  const pool = population.slice();
  const out: T[] = [];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
    out.push(pool[i]);
  }
  return out;
}

/**
 * WebEnv `get_valid_actions`: on the search page, `search[...]` for each search text; elsewhere
 * `click[...]` for each clickable except "search", product links named by title when
 * `clickItemName`. The reduction runs inside the loop as in the original: whenever the list
 * grows past 20 it becomes its first 6 plus 10 sampled from the rest, then filling continues.
 * An empty list is `["finish"]` (the done page).
 */
export function validActions(
  available: AvailableActions,
  ctx: ValidActionContext,
  options: ValidActionOptions = {},
): string[] {
  const clickItemName = options.clickItemName ?? true;
  const banBuy = options.banBuy ?? false;
  const reduceClick = options.reduceClick ?? true;
  let valids: string[];
  if (available.has_search_bar) {
    valids = searchTexts(ctx.goal, ctx.goalQueryMap).map((t) => `search[${t}]`);
  } else {
    valids = [];
    for (let text of available.clickables) {
      if (text === "buy now" && banBuy && ctx.chosenOptions !== ctx.itemOptions) continue;
      if (text !== "search") {
        const name = clickItemName ? ctx.asinToName(text) : undefined;
        if (name !== undefined) text = `item - ${name}`;
        valids.push(`click[${text}]`);
      }
      if (reduceClick && valids.length > 20) {
        valids = [...valids.slice(0, 6), ...sampleWithoutReplacement(valids.slice(6), 10, ctx.rng)];
      }
    }
  }
  return valids.length === 0 ? ["finish"] : valids;
}
