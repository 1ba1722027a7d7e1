/**
 * A scripted expert for the WebShop env that shops the way WebShop's human demonstrators did:
 * it searches with a query of its own, scans results pages for a product that fits the
 * instruction (by default the goal's own product, as a human reading the instruction would
 * recognise it; with `accept: "fit"`, the first product on the page whose purchase with the
 * goal's options earns reward 1, as a person buys the first product that satisfies the
 * instruction), opens it, ticks the goal's options and buys. Part of its episodes are
 * deliberately imperfect, like the human data: a vague first search followed by a second one, a
 * look at another product (usually a lookalike with the same title) and back with "< Prev", extra
 * Description / Features page views, a trip to the next results page and back.
 *
 * It is a `Policy` (policies.ts), so `runEpisode` runs it and `recordDemonstration` (demos.ts)
 * turns its episodes into il_trajs lines. Every draw comes from a stream seeded by the expert's
 * seed and the goal index, so an episode depends on its goal only, not on what ran before.
 *
 * @module
 */

import seedrandom from "seedrandom";
import { instructionWithoutPrice } from "./actions.ts";
import type { Policy } from "./policies.ts";
import { getReward } from "./reward.ts";
import { PRODUCT_WINDOW, productsOnPage } from "./search.ts";
import type { ChosenOptions, Goal, Product } from "./types.ts";
import type { WebShopEnv } from "./webshop_env.ts";

/** Settings of {@linkcode ExpertPolicy}. */
export interface ExpertOptions {
  /** Seed of the expert's draws (default 0). */
  seed?: number;
  /** Share of episodes with at least one detour (default 0.5). */
  imperfectRate?: number;
  /** Results pages scanned per search before searching again (default 5, all 50 results). */
  maxPages?: number;
  /**
   * Which product to buy: `"target"` (default) the goal's own product only (paging and
   * searching again until it shows up, which on a catalog of lookalikes means clicking Next >
   * past products that fit); `"fit"` the first on the page that earns reward 1 with the goal's
   * options.
   */
  accept?: ExpertAccept;
}

/** What {@linkcode ExpertPolicy} accepts to buy. */
export type ExpertAccept = "fit" | "target";

/** Every {@linkcode ExpertAccept}, for checking a value read from a flag or a config. */
export const EXPERT_ACCEPTS: readonly ExpertAccept[] = ["target", "fit"];

/** The detours one episode takes. */
export interface ExpertDetours {
  /** Search the bare product query first, then search properly. */
  vagueFirst: boolean;
  /** Open another product on the results page before the target. */
  peek: boolean;
  /** On the peeked product, also open its Description or Features. */
  peekSubPage: boolean;
  /** Go to the next results page and back although the target is on this one. */
  wander: boolean;
  /** Sub-pages to view on the target before buying. */
  views: ("description" | "features")[];
}

/** Goal options as lower-cased values (human goals list values, synthetic ones name them). */
export function goalOptionValues(goal: Pick<Goal, "goal_options">): string[] {
  const g = goal.goal_options;
  const values = Array.isArray(g) ? g : Object.values(g as Record<string, string>);
  return values.map((v) => String(v).toLowerCase());
}

/** Brackets would end `search[...]` early (engine.py's parse is greedy on "]"). */
function cleanQuery(q: string): string {
  return q.replace(/[[\]]/g, " ").replace(/\s+/g, " ").trim().toLowerCase();
}

/**
 * Search queries a person might type for `goal`, best last: keywords from the instruction
 * (attributes, option values and the product query), the instruction itself, the title.
 */
export function expertQueries(
  goal: Goal,
  product: Product | undefined,
  rng: () => number,
): { queries: string[]; vague: string } {
  const opts = goalOptionValues(goal);
  const keywords = cleanQuery(
    [...goal.attributes.slice(0, 2), opts[0] ?? "", goal.query].join(" "),
  );
  const instruction = cleanQuery(instructionWithoutPrice(goal.instruction_text));
  const title = cleanQuery(product?.Title ?? goal.name);
  const r = rng();
  const first = r < 0.45 ? keywords : r < 0.8 ? instruction : title;
  const out = [first];
  for (const q of [keywords, title]) if (q !== "" && !out.includes(q)) out.push(q);
  return { queries: out.filter((q) => q !== ""), vague: cleanQuery(goal.query) };
}

/** The goal's option values that `product` offers, by option name (what the expert ticks). */
export function goalOptionsOn(product: Product, goal: Pick<Goal, "goal_options">): ChosenOptions {
  const want = goalOptionValues(goal);
  const out: ChosenOptions = {};
  for (const [name, values] of Object.entries(product.options)) {
    const v = values.find((x) => want.includes(x));
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/**
 * The scripted expert. Reaches reward 1 (corrected mode) whenever a query finds the product,
 * which the title query nearly always does.
 *
 * @example
 * ```ts
 * const r = runEpisode(env, new ExpertPolicy({ seed: 1 }), 0);
 * console.log(r.reward, r.actions);
 * ```
 */
export class ExpertPolicy implements Policy {
  readonly name = "expert";
  readonly seed: number;
  readonly imperfectRate: number;
  readonly maxPages: number;
  readonly accept: ExpertAccept;
  /** Lower-cased ASIN of the product this episode buys, once one is picked. */
  #chosen = "";
  #queries: string[] = [];
  #queryIndex = 0;
  #detours: ExpertDetours = {
    vagueFirst: false,
    peek: false,
    peekSubPage: false,
    wander: false,
    views: [],
  };
  #pendingVague = "";
  #onVagueResults = false;
  #peeked = false;
  #peekSubDone = false;
  #wander: "planned" | "away" | "back" = "planned";
  #viewsLeft: string[] = [];
  #giveUp = false;
  #rng: () => number = Math.random;

  constructor(options: ExpertOptions = {}) {
    this.seed = options.seed ?? 0;
    this.imperfectRate = options.imperfectRate ?? 0.5;
    this.maxPages = options.maxPages ?? 5;
    this.accept = options.accept ?? "target";
    if (!EXPERT_ACCEPTS.includes(this.accept)) {
      throw new Error(`ExpertPolicy: accept must be "fit" or "target", got "${options.accept}"`);
    }
    if (!(this.imperfectRate >= 0 && this.imperfectRate <= 1)) {
      throw new Error(
        `ExpertPolicy: imperfectRate must be in [0, 1], got ${options.imperfectRate}`,
      );
    }
    if (!Number.isInteger(this.maxPages) || this.maxPages < 1) {
      throw new Error(`ExpertPolicy: maxPages must be a positive integer, got ${options.maxPages}`);
    }
  }

  /** The detours chosen for the current episode. */
  get detours(): Readonly<ExpertDetours> {
    return this.#detours;
  }

  reset(env: WebShopEnv): void {
    const rng = seedrandom.alea(`expert:${this.seed}:${env.goalIndex}`);
    this.#rng = rng;
    const goal = env.goal;
    const product = env.engine.byAsin.get(goal.asin);
    const { queries, vague } = expertQueries(goal, product, rng);
    this.#queries = queries;
    this.#queryIndex = 0;
    const d: ExpertDetours = {
      vagueFirst: false,
      peek: false,
      peekSubPage: false,
      wander: false,
      views: [],
    };
    if (rng() < this.imperfectRate) {
      // At least one detour; each kind independently, the first forced if none was drawn.
      d.vagueFirst = rng() < 0.35 && vague !== "" && vague !== queries[0];
      d.peek = rng() < 0.5;
      d.peekSubPage = d.peek && rng() < 0.4;
      d.wander = rng() < 0.2;
      if (rng() < 0.5) d.views.push(rng() < 0.6 ? "description" : "features");
      if (d.views.length > 0 && rng() < 0.3) {
        d.views.push(d.views[0] === "description" ? "features" : "description");
      }
      if (!d.vagueFirst && !d.peek && !d.wander && d.views.length === 0) d.peek = true;
    }
    this.#detours = d;
    this.#pendingVague = d.vagueFirst ? vague : "";
    this.#onVagueResults = false;
    this.#peeked = false;
    this.#peekSubDone = false;
    this.#wander = "planned";
    this.#viewsLeft = d.views.slice();
    this.#giveUp = false;
    this.#chosen = "";
  }

  act(env: WebShopEnv): string {
    const page = env.page;
    const goal = env.goal;
    const clickables = new Set(env.availableActions().clickables);
    switch (page.kind) {
      case "search": {
        if (this.#pendingVague) {
          const q = this.#pendingVague;
          this.#pendingVague = "";
          this.#onVagueResults = true;
          return `search[${q}]`;
        }
        const q = this.#queries[Math.min(this.#queryIndex, this.#queries.length - 1)];
        this.#queryIndex++;
        return `search[${q}]`;
      }
      case "results": {
        const target = this.#pick(env, page.results, page.page);
        if (this.#onVagueResults) {
          // A vague search's first page: people mostly refine the query rather than browse it.
          this.#onVagueResults = false;
          if (!(target !== "" && this.#rng() < 0.3)) return "click[back to search]";
        }
        // Wandered onto page 2: return to where the product was.
        if (this.#wander === "away" && !this.#giveUp) {
          this.#wander = "back";
          return "click[< prev]";
        }
        if (!this.#giveUp && target !== "") {
          if (this.#detours.wander && this.#wander === "planned" && page.page === 1) {
            this.#wander = "away";
            return "click[next >]";
          }
          if (this.#detours.peek && !this.#peeked) {
            this.#peeked = true;
            const other = this.#peekCandidate(page.results, page.page, target);
            if (other) return `click[${other}]`;
          }
          this.#chosen = target;
          return `click[${target}]`;
        }
        const morePages = page.results.length > page.page * PRODUCT_WINDOW;
        if (!this.#giveUp && page.page < this.maxPages && morePages) return "click[next >]";
        if (!this.#giveUp && this.#queryIndex < this.#queries.length) {
          return "click[back to search]";
        }
        // No query found it: settle for the best-ranked product of the last search.
        this.#giveUp = true;
        if (page.page > 1) return "click[< prev]";
        const first = page.results[0];
        if (!first) return "click[back to search]";
        this.#chosen = first.asin.toLowerCase();
        return `click[${this.#chosen}]`;
      }
      case "item": {
        const here = page.product.asin.toLowerCase();
        if (here !== this.#chosen) {
          // A peek at another product: perhaps read a sub-page, then go back.
          if (this.#detours.peekSubPage && !this.#peekSubDone) {
            this.#peekSubDone = true;
            return this.#rng() < 0.5 ? "click[description]" : "click[features]";
          }
          return "click[< prev]";
        }
        // Read a sub-page before or between option clicks, as people do.
        if (this.#viewsLeft.length > 0 && this.#rng() < 0.5) {
          return `click[${this.#viewsLeft.shift()}]`;
        }
        const chosen = new Set(Object.values(env.chosenOptions));
        for (const v of goalOptionValues(goal)) {
          if (!chosen.has(v) && clickables.has(v)) return `click[${v}]`;
        }
        if (this.#viewsLeft.length > 0) return `click[${this.#viewsLeft.shift()}]`;
        return "click[buy now]";
      }
      case "sub":
        return "click[< prev]";
      case "done":
        return "finish";
    }
  }

  /** The lower-cased ASIN to buy on results page `pageNo`, or "" when none is acceptable. */
  #pick(env: WebShopEnv, results: readonly Product[], pageNo: number): string {
    const onPage = productsOnPage(results, pageNo);
    if (this.accept === "target") {
      const target = env.goal.asin.toLowerCase();
      return onPage.some((p) => p.asin.toLowerCase() === target) ? target : "";
    }
    const goal = env.goal;
    const fit = onPage.find((p) =>
      getReward(p, goal, p.price, goalOptionsOn(p, goal), { mode: env.rewardMode }) === 1
    );
    return fit ? fit.asin.toLowerCase() : "";
  }

  /** Another product on this results page, a same-title lookalike when there is one. */
  #peekCandidate(results: readonly Product[], pageNo: number, target: string): string | null {
    const onPage = productsOnPage(results, pageNo);
    const targetProduct = onPage.find((p) => p.asin.toLowerCase() === target);
    const others = onPage.filter((p) => p.asin.toLowerCase() !== target);
    if (others.length === 0) return null;
    const twins = others.filter((p) => p.Title === targetProduct?.Title);
    const pool = twins.length > 0 && this.#rng() < 0.8 ? twins : others;
    return pool[Math.floor(this.#rng() * pool.length)].asin.toLowerCase();
  }
}
