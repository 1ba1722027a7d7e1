/**
 * The WebShop environment: WebShop's page state machine (web_agent_text_env.py `SimServer` /
 * `SimBrowser` / `WebAgentTextEnv`) with the agent-facing wrapper of baseline_models/env.py
 * (`WebEnv`: step limit, `click[item - <title>]` naming, valid-action list), producing the text
 * observations directly instead of rendering and parsing HTML.
 *
 * Pages: search -> results (Back to Search, < Prev from page 2, Next >, product links) -> item
 * (option values, Description, Features, Reviews, Buy Now, < Prev) -> sub-page (< Prev back to the
 * item) and Buy Now -> done, which scores the purchase with `getReward`. The session keeps the
 * chosen options, visited ASINs, results page, keywords and action counts, and a pseudo URL built
 * as the original builds it, because the original decides some transitions ("< Prev", "Next >")
 * and the clicked-option markers by looking into that URL.
 *
 * Deliberate differences from the original (each keeps its observable behaviour where it is
 * defined): a step after the episode ended is a no-op returning the last observation with
 * `done: true`; `click[item - <title>]` prefers a product on the current page when titles repeat
 * (WebEnv maps a title to the last product holding it, anywhere in the catalog); WebEnv's hidden
 * extra steps that fetch the description and features after each item click (for its `info`) are
 * not taken, so they do not enter the observation history; `<a>` queries work (the original
 * passes no attribute index and fails).
 *
 * @module
 */

import seedrandom from "seedrandom";
import {
  type AvailableActions,
  normalizeGoalQueryMap,
  parseAction,
  type ValidActionOptions,
  validActions,
} from "./actions.ts";
import {
  BACK_TO_SEARCH,
  type Clickable,
  clickablesOf,
  END_BUTTON,
  NEXT_PAGE,
  type Page,
  PREV_PAGE,
  renderDonePage,
  renderItemPage,
  renderResultsPage,
  renderSearchPage,
  renderSubPage,
  SUB_PAGES,
  type SubPageName,
  type TextMode,
} from "./pages.ts";
import { pyDictRepr, pyJsonDumps, pyStr } from "./_python.ts";
import { goalIndicesForSplit, type GoalSplit } from "./goals.ts";

import { DEFAULT_REWARD_MODE, getReward, type RewardInfo, type RewardMode } from "./reward.ts";
import { productsOnPage, SearchEngine } from "./search.ts";
import type { ChosenOptions, Goal, Product } from "./types.ts";

/** Observation formats: WebShop's `text` and `text_rich`, or the page `url`. */
export type ObservationMode = TextMode | "url";

/** Configuration of {@linkcode WebShopEnv}. */
export interface WebShopEnvConfig {
  /** The catalog, or a search engine built over it (share one index between many envs). */
  catalog: readonly Product[] | SearchEngine;
  /** The goals (their order defines the splits). */
  goals: readonly Goal[];
  /** Which goals `reset()` samples from (default "all"). See `goalIndicesForSplit`. */
  split?: GoalSplit;
  /** "text_rich" (default, the baseline's `state_format`), "text" or "url". */
  observationMode?: ObservationMode;
  /** Steps after which the episode ends with reward 0 (default 100, as train_rl.py). */
  stepLimit?: number;
  /** Seed of goal sampling, `<r>` searches and the action-list reduction (default 0). */
  seed?: number;
  /** Reward variant (default "webshop"). */
  rewardMode?: RewardMode;
  /** Previous observations and actions joined into the state (default 0 and 0). */
  numPrevObs?: number;
  numPrevActions?: number;
  /** Show the Attributes button on item pages (default false, as the text env). */
  showAttrs?: boolean;
  /** Human search queries per instruction (goal_query_map.json) for the search candidates. */
  goalQueryMap?: Readonly<Record<string, readonly string[]>> | null;
  /** Options of the agent-facing action list (item naming, buy ban, reduction). */
  validActions?: ValidActionOptions;
  /**
   * Allow `search[...]` on every page, as WebShop's text env does (default true); false makes
   * search a no-op away from the search page.
   */
  searchFromAnyPage?: boolean;
}

/** Per-step details. */
export interface StepInfo {
  /** Whether the action did something (false: invalid or unavailable, a no-op). */
  actionValid: boolean;
  /** The page now shown. */
  page: Page["kind"];
  /** Steps taken this episode. */
  steps: number;
  /** The reward breakdown, on the step that bought. */
  rewardInfo?: RewardInfo;
  /** True when the episode ended by the step limit. */
  truncated?: boolean;
}

/** What `step` returns. */
export interface StepResult {
  observation: string;
  reward: number;
  done: boolean;
  info: StepInfo;
}

const BASE_URL = "http://127.0.0.1:3000";

interface Session {
  goalIndex: number;
  goal: Goal;
  id: string;
  keywords: string[] | null;
  /** Results page number and the results of the last search. */
  page: number | null;
  results: Product[];
  asin: string | null;
  asins: Set<string>;
  options: ChosenOptions;
  actions: Record<string, number>;
  done: boolean;
  reward: number;
  rewardInfo?: RewardInfo;
}

/**
 * WebShop as a gym-style environment.
 *
 * @example
 * ```ts
 * const env = new WebShopEnv({ catalog: products, goals, observationMode: "text_rich" });
 * let { observation } = env.reset(0);
 * const r = env.step("search[red running shoes]");
 * console.log(env.validActions()); // ["click[back to search]", "click[next >]", ...]
 * ```
 */
export class WebShopEnv {
  /** The search engine (and catalog) this env uses. */
  readonly engine: SearchEngine;
  readonly goals: readonly Goal[];
  /** Goal indices `reset()` samples from. */
  readonly goalIndices: readonly number[];
  readonly observationMode: ObservationMode;
  readonly stepLimit: number;
  readonly rewardMode: RewardMode;
  readonly showAttrs: boolean;
  readonly numPrevObs: number;
  readonly numPrevActions: number;
  readonly searchFromAnyPage: boolean;
  readonly #validOptions: ValidActionOptions;
  readonly #goalQueryMap: Map<string, readonly string[]> | null;
  readonly #rng: () => number;
  #asinToName: Map<string, string> | null = null;
  #nameToAsin: Map<string, string> | null = null;

  #session: Session | null = null;
  #page: Page = { kind: "search" };
  #url = "";
  #clickables: Map<string, Clickable> = new Map();
  #observation = "";
  #steps = 0;
  #episodeDone = false;
  #prevObs: string[] = [];
  #prevActions: string[] = [];
  #validCache: string[] | null = null;

  constructor(config: WebShopEnvConfig) {
    const c = config;
    if (!c || !c.catalog) throw new Error("WebShopEnv: config.catalog is required");
    if (!Array.isArray(c.goals)) {
      throw new Error("WebShopEnv: config.goals must be an array of goals");
    }
    this.engine = c.catalog instanceof SearchEngine ? c.catalog : new SearchEngine(c.catalog);
    this.goals = c.goals;
    this.observationMode = c.observationMode ?? "text_rich";
    if (!["text", "text_rich", "url"].includes(this.observationMode)) {
      throw new Error(
        `WebShopEnv: observationMode must be "text", "text_rich" or "url", got "${this.observationMode}"` +
          " (html is not produced: observations are built without rendering HTML)",
      );
    }
    this.stepLimit = c.stepLimit ?? 100;
    if (!Number.isInteger(this.stepLimit) || this.stepLimit < 1) {
      throw new Error(`WebShopEnv: stepLimit must be a positive integer, got ${c.stepLimit}`);
    }
    this.rewardMode = c.rewardMode ?? DEFAULT_REWARD_MODE;
    if (this.rewardMode !== "webshop" && this.rewardMode !== "corrected") {
      throw new Error(
        `WebShopEnv: rewardMode must be "webshop" or "corrected", got "${c.rewardMode}"`,
      );
    }
    this.showAttrs = c.showAttrs ?? false;
    this.numPrevObs = c.numPrevObs ?? 0;
    this.numPrevActions = c.numPrevActions ?? 0;
    this.searchFromAnyPage = c.searchFromAnyPage ?? true;
    this.#validOptions = c.validActions ?? {};
    this.#goalQueryMap = c.goalQueryMap ? normalizeGoalQueryMap(c.goalQueryMap) : null;
    this.#rng = seedrandom.alea(`webshop-env:${c.seed ?? 0}`);
    this.goalIndices = goalIndicesForSplit(this.goals.length, c.split ?? "all");
    if (this.goalIndices.length === 0) {
      throw new Error(
        `WebShopEnv: split "${c.split ?? "all"}" has no goals (${this.goals.length} goals in all)`,
      );
    }
  }

  /** The current goal (after `reset`). */
  get goal(): Goal {
    return this.#requireSession().goal;
  }

  /** Index into `goals` of the current episode's goal; -1 for a custom goal. */
  get goalIndex(): number {
    return this.#requireSession().goalIndex;
  }

  /** The instruction shown on every page. */
  get instructionText(): string {
    return this.#requireSession().goal.instruction_text;
  }

  /** The current page. */
  get page(): Readonly<Page> {
    return this.#page;
  }

  /** The pseudo URL of the current page, as WebShop's SimServer builds it. */
  get url(): string {
    return this.#url;
  }

  /** Options chosen on the current item. */
  get chosenOptions(): Readonly<ChosenOptions> {
    return this.#requireSession().options;
  }

  /** ASINs opened since the last search page (shown as clicked on results pages). */
  get visitedAsins(): ReadonlySet<string> {
    return this.#requireSession().asins;
  }

  /** Steps taken this episode. */
  get steps(): number {
    return this.#steps;
  }

  /** Whether the episode has ended. */
  get done(): boolean {
    return this.#episodeDone;
  }

  /** The current observation (without history). */
  get observation(): string {
    return this.#observation;
  }

  /**
   * Starts an episode on goal `goalIndex` (an index into `goals`), on a goal drawn uniformly
   * from the split, or on a custom goal given as an object (a free-text instruction, say: it need
   * not be one of `goals`; `goalIndex` is then -1).
   */
  reset(goal?: number | Goal): { observation: string; info: StepInfo } {
    let idx: number, g: Goal;
    if (typeof goal === "object") {
      if (goal === null || typeof goal.instruction_text !== "string") {
        throw new Error("WebShopEnv.reset: a custom goal needs an instruction_text");
      }
      [idx, g] = [-1, goal];
    } else {
      idx = goal ?? this.goalIndices[Math.floor(this.#rng() * this.goalIndices.length)];
      if (!Number.isInteger(idx) || idx < 0 || idx >= this.goals.length) {
        throw new Error(
          `WebShopEnv.reset: goal index ${goal} is out of range [0, ${this.goals.length})`,
        );
      }
      g = this.goals[idx];
    }
    this.#session = {
      goalIndex: idx,
      goal: g,
      id: idx >= 0 ? String(idx) : "custom",
      keywords: null,
      page: null,
      results: [],
      asin: null,
      asins: new Set(),
      options: {},
      actions: {},
      done: false,
      reward: 0,
    };
    this.#steps = 0;
    this.#episodeDone = false;
    this.#showIndex();
    this.#prevObs = [this.#observation];
    this.#prevActions = [];
    return { observation: this.#observation, info: this.#info(true) };
  }

  /**
   * Takes one action (`search[...]` or `click[...]`, as WebShop parses them). Invalid or
   * unavailable actions change nothing and give reward 0; the episode ends on Buy Now or when
   * the step limit is reached.
   */
  step(action: string): StepResult {
    const s = this.#requireSession();
    if (this.#episodeDone) {
      return { observation: this.#observation, reward: 0, done: true, info: this.#info(false) };
    }
    if (typeof action !== "string") action = String(action);
    const resolved = this.resolveAction(action);
    const { name, arg: rawArg } = parseAction(resolved);
    const arg = rawArg === null ? null : rawArg.toLowerCase();
    let reward = 0;
    let done = false;
    let valid = false;
    let rewardInfo: RewardInfo | undefined;
    if (
      name === "search" && arg !== null && arg !== "" &&
      (this.searchFromAnyPage || this.#page.kind === "search")
    ) {
      this.#showResults(arg.split(" "), 1);
      valid = true;
    } else if (name === "click" && arg !== null && arg !== "search" && this.#clickables.has(arg)) {
      const r = this.#click(arg);
      valid = true;
      if (r !== null) {
        reward = r.reward;
        rewardInfo = r.info;
        done = true;
      }
    }
    this.#validCache = null;
    this.#steps++;
    let truncated = false;
    if (!done && this.#steps >= this.stepLimit) {
      done = true;
      truncated = true;
    }
    if (done) {
      this.#episodeDone = true;
      s.done = true;
    }
    // The text env records the action it was given: WebEnv has already turned item names into ASINs.
    const state = this.#stateWithHistory(resolved);
    const info = this.#info(valid);
    if (rewardInfo) info.rewardInfo = rewardInfo;
    if (truncated) info.truncated = true;
    return { observation: state, reward, done, info };
  }

  /** The text env's `get_available_actions`: search bar flag and clickables in page order. */
  availableActions(): AvailableActions {
    return {
      has_search_bar: this.#page.kind === "search",
      clickables: [...this.#clickables.keys()],
    };
  }

  /**
   * The baseline agent's valid actions (WebEnv `get_valid_actions`): search candidates on the
   * search page, `click[...]` elsewhere (products as `click[item - <title>]`), reduced to 16
   * with the env's seeded generator when longer than 20; fixed until the next step.
   */
  validActions(): string[] {
    if (this.#validCache) return this.#validCache.slice();
    const s = this.#requireSession();
    const product = s.asin !== null ? this.engine.byAsin.get(s.asin) : undefined;
    const asinToName = this.#asinNames();
    this.#validCache = validActions(this.availableActions(), {
      goal: s.goal,
      asinToName: (a) => asinToName.get(a),
      chosenOptions: Object.keys(s.options).length,
      itemOptions: product ? Object.keys(product.options ?? {}).length : 0,
      goalQueryMap: this.#goalQueryMap,
      rng: this.#rng,
    }, this.#validOptions);
    return this.#validCache.slice();
  }

  /** The session's action counts (WebShop's `session["actions"]`). */
  actionCounts(): Readonly<Record<string, number>> {
    return { ...this.#requireSession().actions };
  }

  // -------------------------------------------------------------------------------------------

  #requireSession(): Session {
    if (this.#session === null) throw new Error("WebShopEnv: call reset() before using the env");
    return this.#session;
  }

  #info(valid: boolean): StepInfo {
    return { actionValid: valid, page: this.#page.kind, steps: this.#steps };
  }

  #asinNames(): Map<string, string> {
    if (this.#asinToName === null) {
      const a2n = new Map<string, string>();
      for (const p of this.engine.products) a2n.set(p.asin.toLowerCase(), p.Title.toLowerCase());
      const n2a = new Map<string, string>();
      for (const [a, n] of a2n) n2a.set(n, a);
      this.#asinToName = a2n;
      this.#nameToAsin = n2a;
    }
    return this.#asinToName;
  }

  /**
   * An action in the form the text env takes it on the current page: WebEnv.step's
   * `click[item - <title>]` -> `click[<asin>]`; any other action unchanged.
   */
  resolveAction(action: string): string {
    if (!action.startsWith("click[item - ")) return action;
    const title = action.slice(13, -1);
    this.#asinNames();
    // Prefer a product on this page with that title (titles can repeat across the catalog).
    for (const [key, c] of this.#clickables) {
      if (c.kind === "link" && c.product.Title.toLowerCase() === title) return `click[${key}]`;
    }
    const asin = this.#nameToAsin!.get(title);
    return asin === undefined ? action : `click[${asin}]`;
  }

  #stateWithHistory(action: string): string {
    const ob = this.#observation;
    this.#prevActions.push(action);
    let state = ob;
    const n = Math.max(this.numPrevObs, this.numPrevActions);
    if (n > 0) {
      // web_agent_text_env.py step(): [ob, a_-1, o_-1, a_-2, o_-2, ...] reversed, " [SEP] ".
      const list = [ob];
      for (let i = 1; i <= n; i++) {
        if (this.#prevActions.length >= i && this.numPrevActions >= i) {
          list.push(this.#prevActions[this.#prevActions.length - i]);
        }
        if (this.#prevObs.length >= i && this.numPrevObs >= i) {
          list.push(this.#prevObs[this.#prevObs.length - i]);
        }
      }
      state = list.reverse().join(" [SEP] ");
    }
    this.#prevObs.push(ob);
    return state;
  }

  #count(key: string): void {
    const a = this.#session!.actions;
    a[key] = (a[key] ?? 0) + 1;
  }

  /** SimServer.get_page_name: the first page name found in the URL. */
  #pageName(): string {
    for (const n of ["search_results", "item_page", "item_sub_page", "done"]) {
      if (this.#url.includes(n)) return n;
    }
    return "";
  }

  /** Returns the purchase's reward when the click bought, else null. */
  #click(arg: string): { reward: number; info?: RewardInfo } | null {
    const s = this.#session!;
    const clickable = this.#clickables.get(arg)!;
    // SimServer.receive's dispatch order.
    if (arg === END_BUTTON.toLowerCase()) return this.#buy();
    if (arg === BACK_TO_SEARCH.toLowerCase()) {
      this.#showIndex();
      return null;
    }
    const where = this.#pageName();
    if (arg === NEXT_PAGE.toLowerCase() && where === "search_results") {
      this.#showResults(s.keywords!, s.page! + 1);
    } else if (arg === PREV_PAGE.toLowerCase() && where === "search_results") {
      this.#showResults(s.keywords!, s.page! - 1);
    } else if (arg === PREV_PAGE.toLowerCase() && where === "item_sub_page") {
      this.#showItem(null);
    } else if (arg === PREV_PAGE.toLowerCase() && where === "item_page") {
      this.#showResults(s.keywords!, s.page!);
    } else if (SUB_PAGES.some((k) => k.toLowerCase() === arg)) {
      this.#showSubPage(SUB_PAGES.find((k) => k.toLowerCase() === arg)!);
    } else {
      this.#showItem(clickable);
    }
    return null;
  }

  #render(): void {
    const s = this.#session!;
    const mode = this.observationMode;
    const page = this.#page;
    this.#clickables = clickablesOf(page, this.showAttrs);
    this.#validCache = null;
    if (mode === "url") {
      this.#observation = this.#url;
      return;
    }
    const inst = s.goal.instruction_text;
    switch (page.kind) {
      case "search":
        this.#observation = renderSearchPage(mode, inst);
        break;
      case "results":
        this.#observation = renderResultsPage(
          mode,
          inst,
          productsOnPage(page.results, page.page),
          page.page,
          page.results.length,
          s.asins,
        );
        break;
      case "item":
        this.#observation = renderItemPage(mode, inst, page.product, this.#url, this.showAttrs);
        break;
      case "sub":
        this.#observation = renderSubPage(mode, inst, page.product, page.sub);
        break;
      case "done":
        this.#observation = renderDonePage(mode, page.product.asin, s.options, page.reward);
        break;
    }
  }

  #showIndex(): void {
    const s = this.#session!;
    s.keywords = null;
    s.page = null;
    s.asin = null;
    s.asins = new Set();
    s.options = {};
    s.actions = {};
    s.results = [];
    this.#page = { kind: "search" };
    this.#url = `${BASE_URL}/${s.id}`;
    this.#render();
  }

  #showResults(keywords: string[], page: number): void {
    const s = this.#session!;
    s.page = page;
    s.keywords = keywords;
    this.#count("search");
    s.asin = null;
    s.options = {};
    s.results = this.engine.search(keywords, this.#rng);
    this.#page = { kind: "results", keywords, page, results: s.results };
    this.#url = `${BASE_URL}/search_results/${s.id}/${keywords.join("+")}/${page}`;
    this.#render();
  }

  #showItem(clickable: Clickable | null): void {
    const s = this.#session!;
    if (clickable?.kind === "link") {
      s.asin = clickable.product.asin;
      this.#count("asin");
      s.asins.add(s.asin);
    } else if (clickable?.kind === "radio") {
      s.options[clickable.name.toLowerCase()] = clickable.value;
      this.#count("options");
    }
    const product = this.engine.byAsin.get(s.asin!)!;
    this.#page = { kind: "item", product };
    this.#url =
      `${BASE_URL}/item_page/${s.id}/${s.asin}/${(s.keywords ?? []).join("+")}/${pyStr(s.page)}/` +
      pyJsonDumps(s.options);
    this.#render();
  }

  #showSubPage(sub: SubPageName): void {
    const s = this.#session!;
    const product = this.engine.byAsin.get(s.asin!)!;
    this.#count(sub);
    this.#page = { kind: "sub", product, sub };
    this.#url = `${BASE_URL}/item_sub_page/${s.id}/${s.asin}/${(s.keywords ?? []).join("+")}/` +
      `${s.page}/${sub}/${pyDictRepr(s.options)}`;
    this.#render();
  }

  /**
   * Buys the current item. A goal without attributes (a custom free-text goal: WebShop makes
   * none such) has nothing to score against, so the purchase ends the episode unscored: reward 0,
   * no breakdown.
   */
  #buy(): { reward: number; info?: RewardInfo } {
    const s = this.#session!;
    const product = this.engine.byAsin.get(s.asin!)!;
    this.#count("purchase");
    let reward = 0, info: RewardInfo | undefined;
    if (s.goal.attributes.length > 0) {
      [reward, info] = getReward(product, s.goal, product.price, s.options, {
        verbose: true,
        mode: this.rewardMode,
      });
    }
    s.reward = reward;
    s.rewardInfo = info;
    this.#page = { kind: "done", product, reward };
    this.#url = `${BASE_URL}/done/${s.id}/${s.asin}/${pyDictRepr(s.options)}`;
    this.#render();
    return { reward, info };
  }
}
