/**
 * WebShop's pages as text observations, produced directly (no HTML), character for character as
 * the original text env makes them: engine.py renders a Jinja template (templates/*.html), then
 * web_agent_text_env.py `convert_html_to_text` parses it with BeautifulSoup (html.parser) and
 * walks the visible text nodes in document order.
 *
 * The rules that decide each character, from those two steps:
 * - BeautifulSoup collapses a text node made only of ASCII whitespace to "\n" when it holds a
 *   newline (those are then skipped) or to " " otherwise; other nodes are kept verbatim (values
 *   are HTML-escaped by Jinja and unescaped by the parser, so they round-trip).
 * - `text` mode: Python `strip()` of every node, joined with " [SEP] ".
 * - `text_rich` mode: every node followed by "\n"; a node inside a `<button>` becomes
 *   "[button] t [button_]"; an option label "  [button] t [button_]", or "  [clicked button] t
 *   [clicked button_]" when `"t"` occurs in the page URL (the chosen options are in it as JSON),
 *   which also prepends "You have clicked t.\n" to the observation; a product link
 *   "\n[button] ASIN [button_]", or "\n[clicked button] ASIN [clicked button_]" when the ASIN was
 *   visited this session.
 *
 * Templates in text order:
 * - search: "WebShop", "Instruction: ", instruction, [Search].
 * - results: "Instruction:", instruction, [Back to Search], "Page p (Total results: n)",
 *   [< Prev] (page > 1), [Next >], then per product: link ASIN, title, price tag.
 * - item: "Instruction:", instruction, [Back to Search], [< Prev], per option name: the name and
 *   a label per value; title, "Price: ...", "Rating: ...", [Description], [Features], [Reviews],
 *   [Attributes] (only with `show_attrs`), [Buy Now].
 * - sub-pages: "Instruction:", instruction, [Back to Search], [< Prev], then the description; or
 *   " " + each bullet point; or per review `"title"`, score, body; or " " + each attribute,
 *   category, query, product category.
 * - done: no instruction; the hidden (display:none, still visible to the parser) purchase block
 *   with "None" wherever the text env passes None, the options as Flask's `tojson` (sorted keys,
 *   ASCII, HTML-safe escapes) and the reward as Python prints a float.
 *
 * @module
 */

import { pyFloatStr, pyJsonDumps, pyStr, pyStrip } from "./_python.ts";
import { productsOnPage } from "./search.ts";
import type { ChosenOptions, Product } from "./types.ts";

/** Text observation formats of WebShop's text env. */
export type TextMode = "text" | "text_rich";

/** WebShop's sub-pages of an item (engine.py `ACTION_TO_TEMPLATE`), in its order. */
export const SUB_PAGES = ["Description", "Features", "Reviews", "Attributes"] as const;
/** One of WebShop's item sub-pages. */
export type SubPageName = typeof SUB_PAGES[number];

/** Button texts (engine.py constants). */
export const END_BUTTON = "Buy Now";
export const NEXT_PAGE = "Next >";
export const PREV_PAGE = "< Prev";
export const BACK_TO_SEARCH = "Back to Search";

// BeautifulSoup's ASCII_SPACES: whitespace-only nodes are collapsed when made of these.
const ASCII_SPACES_ONLY = /^[ \n\t\f\r]+$/;

/** Flask's `tojson` filter: sorted-key JSON with `<`, `>`, `&`, `'` escaped for HTML. */
export function flaskToJson(obj: Readonly<Record<string, string>>): string {
  return pyJsonDumps(obj, true)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("'", "\\u0027");
}

// ---------------------------------------------------------------------------------------------
// Text node writer
// ---------------------------------------------------------------------------------------------

/**
 * Accumulates visible text nodes in one mode. `text` collects stripped segments for the
 * " [SEP] " join; `text_rich` concatenates decorated nodes and keeps the "You have clicked"
 * prefix apart, as it is prepended.
 */
class PageWriter {
  readonly rich: boolean;
  #parts: string[] = [];
  #prefix = "";

  constructor(mode: TextMode) {
    if (mode !== "text" && mode !== "text_rich") {
      throw new Error(`pages: observation mode must be "text" or "text_rich", got "${mode}"`);
    }
    this.rich = mode === "text_rich";
  }

  /** The node as BeautifulSoup keeps it, or null when it is dropped. */
  static node(t: string, preserve = false): string | null {
    if (t === "") return null;
    if (!preserve && ASCII_SPACES_ONLY.test(t)) return t.includes("\n") ? null : " ";
    // A preserved whitespace node that is exactly "\n" is still skipped by the text env.
    return t === "\n" ? null : t;
  }

  /** Plain text (`preserve`: inside `<pre>`, whitespace kept). */
  text(t: string, preserve = false): void {
    const n = PageWriter.node(t, preserve);
    if (n === null) return;
    this.#parts.push(this.rich ? n + "\n" : pyStrip(n));
  }

  button(t: string): void {
    const n = PageWriter.node(t);
    if (n === null) return;
    this.#parts.push(this.rich ? `[button] ${n} [button_]\n` : pyStrip(n));
  }

  label(t: string, clicked: boolean): void {
    const n = PageWriter.node(t);
    if (n === null) return;
    if (!this.rich) {
      this.#parts.push(pyStrip(n));
    } else if (clicked) {
      this.#parts.push(`  [clicked button] ${n} [clicked button_]\n`);
      this.#prefix = `You have clicked ${n}.\n` + this.#prefix;
    } else {
      this.#parts.push(`  [button] ${n} [button_]\n`);
    }
  }

  link(t: string, clicked: boolean): void {
    const n = PageWriter.node(t);
    if (n === null) return;
    if (!this.rich) this.#parts.push(pyStrip(n));
    else if (clicked) this.#parts.push(`\n[clicked button] ${n} [clicked button_]\n`);
    else this.#parts.push(`\n[button] ${n} [button_]\n`);
  }

  /** A pre-rendered fragment of this mode (from `fragment()`). */
  raw(fragment: Fragment): void {
    if (fragment.parts.length > 0) this.#parts.push(...fragment.parts);
  }

  /** The nodes written so far as a reusable fragment (no prefix allowed). */
  fragment(): Fragment {
    return { parts: this.#parts };
  }

  finish(): string {
    return this.rich ? this.#prefix + this.#parts.join("") : this.#parts.join(" [SEP] ");
  }
}

/** Pre-rendered nodes of one mode, reused across episodes. */
interface Fragment {
  parts: string[];
}

function header(w: PageWriter, instruction: string): void {
  w.text("Instruction:");
  w.text(instruction);
  w.button(BACK_TO_SEARCH);
}

// Static, product-only parts of pages are rendered once per (product, mode, part). A WeakMap lets
// catalogs be dropped with their caches.
const fragmentCache = new WeakMap<Product, Map<string, Fragment>>();

function cachedFragment(
  product: Product,
  key: string,
  mode: TextMode,
  build: (w: PageWriter) => void,
): Fragment {
  let m = fragmentCache.get(product);
  if (!m) {
    m = new Map();
    fragmentCache.set(product, m);
  }
  const k = `${mode}\u0000${key}`;
  let f = m.get(k);
  if (!f) {
    const w = new PageWriter(mode);
    build(w);
    f = w.fragment();
    m.set(k, f);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

/** The start page (search_page.html). */
export function renderSearchPage(mode: TextMode, instruction: string): string {
  const w = new PageWriter(mode);
  w.text("WebShop");
  w.text("Instruction: ");
  w.text(instruction);
  w.button("Search");
  return w.finish();
}

/**
 * A results page (results_page.html): `products` are the ones on this page, `total` the number
 * of results of the search, `visited` the ASINs opened this session.
 */
export function renderResultsPage(
  mode: TextMode,
  instruction: string,
  products: readonly Product[],
  page: number,
  total: number,
  visited: ReadonlySet<string>,
): string {
  const w = new PageWriter(mode);
  header(w, instruction);
  w.text(`Page ${page} (Total results: ${total})`);
  if (page > 1) w.button(PREV_PAGE);
  w.button(NEXT_PAGE);
  for (const p of products) {
    w.link(p.asin, visited.has(p.asin));
    w.raw(cachedFragment(p, "result", mode, (f) => {
      f.text(p.Title);
      f.text(p.Price);
    }));
  }
  return w.finish();
}

/**
 * An item page (item_page.html). `url` is the page URL the text env checks option labels
 * against (it holds the chosen options as JSON); `showAttrs` adds the Attributes button.
 */
export function renderItemPage(
  mode: TextMode,
  instruction: string,
  product: Product,
  url: string,
  showAttrs = false,
): string {
  const w = new PageWriter(mode);
  header(w, instruction);
  w.button(PREV_PAGE);
  for (const [name, values] of Object.entries(product.options ?? {})) {
    w.text(name);
    for (const v of values) w.label(v, w.rich && url.includes(`"${v}"`));
  }
  w.raw(cachedFragment(product, showAttrs ? "item+attrs" : "item", mode, (f) => {
    f.text(product.Title);
    f.text(`Price: ${product.Price}`);
    f.text(`Rating: ${pyStr(product.Rating)}`);
    f.button("Description");
    f.button("Features");
    f.button("Reviews");
    if (showAttrs) f.button("Attributes");
    f.button(END_BUTTON);
  }));
  return w.finish();
}

/** An item sub-page (description_page.html, features_page.html, review_page.html, ...). */
export function renderSubPage(
  mode: TextMode,
  instruction: string,
  product: Product,
  sub: SubPageName,
): string {
  const w = new PageWriter(mode);
  header(w, instruction);
  w.button(PREV_PAGE);
  w.raw(cachedFragment(product, sub, mode, (f) => {
    switch (sub) {
      case "Description":
        f.text(product.Description ?? "");
        break;
      case "Features":
        for (const b of product.BulletPoints) f.text(` ${pyStr(b)}`);
        break;
      case "Reviews":
        for (const r of product.Reviews ?? []) {
          f.text(`"${r.title ?? ""}"`);
          f.text(pyStr(r.score));
          f.text(r.body ?? "");
        }
        break;
      case "Attributes":
        for (const a of product.Attributes) f.text(` ${a}`);
        f.text(product.category);
        f.text(product.query);
        f.text(product.product_category);
        break;
    }
  }));
  return w.finish();
}

/** The done page (done_page.html) as the text env renders it (no goal, code or details). */
export function renderDonePage(
  mode: TextMode,
  asin: string,
  options: Readonly<ChosenOptions>,
  reward: number,
): string {
  const w = new PageWriter(mode);
  w.text("Thank you for shopping with us!");
  w.text("Your code: ");
  w.text("None", true);
  w.text(" (Paste it in your MTurk interface.)");
  w.text("Purchased");
  w.text("asin");
  w.text(asin, true);
  w.text("options");
  w.text(flaskToJson(options), true);
  for (const label of ["attrs", "category", "query", "product category"]) {
    w.text(label);
    w.text("None", true);
  }
  w.text("Target");
  // goal.* of a None goal render as empty strings: only the labels remain.
  for (
    const label of [
      "asin",
      "options",
      "attrs",
      "price upper",
      "instuction text",
      "category",
      "product category",
      "query",
    ]
  ) w.text(label);
  w.text("Goal ");
  w.text("None", true);
  w.text("Reward");
  w.text("Your score (min 0.0, max 1.0)");
  w.text(pyFloatStr(reward), true);
  w.text("Reward Details ");
  w.text("None", true);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Page state and what can be clicked on it
// ---------------------------------------------------------------------------------------------

/** The page a session is on. */
export type Page =
  | { kind: "search" }
  | {
    kind: "results";
    /** The search, split on single spaces as WebShop keeps it. */
    keywords: string[];
    /** 1-based page number (may run past the last result: WebShop always shows "Next >"). */
    page: number;
    /** All results of the search (up to 50 for keyword searches). */
    results: Product[];
  }
  | { kind: "item"; product: Product }
  | { kind: "sub"; product: Product; sub: SubPageName }
  | { kind: "done"; product: Product; reward: number };

/** One clickable element: a button, a product link or an option radio input. */
export type Clickable =
  | { kind: "button"; text: string }
  | { kind: "link"; product: Product }
  | { kind: "radio"; name: string; value: string };

/**
 * The text env's `text_to_clickable` for a page: lower-cased button and product-link texts
 * (buttons first, in page order), then option values as they are (a later radio with the same
 * value replaces the earlier entry in place, as a Python dict does). "search" is the search
 * page's button.
 */
export function clickablesOf(page: Page, showAttrs = false): Map<string, Clickable> {
  const m = new Map<string, Clickable>();
  const button = (text: string) => m.set(text.toLowerCase(), { kind: "button", text });
  switch (page.kind) {
    case "search":
      button("Search");
      break;
    case "results": {
      button(BACK_TO_SEARCH);
      if (page.page > 1) button(PREV_PAGE);
      button(NEXT_PAGE);
      for (const p of productsOnPage(page.results, page.page)) {
        m.set(p.asin.toLowerCase(), { kind: "link", product: p });
      }
      break;
    }
    case "item":
      button(BACK_TO_SEARCH);
      button(PREV_PAGE);
      button("Description");
      button("Features");
      button("Reviews");
      if (showAttrs) button("Attributes");
      button(END_BUTTON);
      for (const [name, values] of Object.entries(page.product.options ?? {})) {
        for (const value of values) m.set(value, { kind: "radio", name, value });
      }
      break;
    case "sub":
      button(BACK_TO_SEARCH);
      button(PREV_PAGE);
      break;
    case "done":
      break;
  }
  return m;
}
