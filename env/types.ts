/**
 * Data types of the WebShop environment: the raw records exactly as WebShop's data files hold
 * them (`items_shuffle*.json`, `items_ins_v2*.json`, `items_human_ins.json`, `il_trajs*.jsonl`,
 * `human_goals.json`, `goal_query_map.json`), and the cleaned `Product` and `Goal` that WebShop's
 * engine builds from them (engine.py `load_products`, goal.py `get_human_goals` /
 * `get_synthetic_goals`). Field names follow WebShop's own, capitals included (`Title`,
 * `BulletPoints`, `Attributes`, `goal_options`, `price_upper`), so data and code carry over.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Raw records, as in the files
// ---------------------------------------------------------------------------------------------

/** One value of a customization option in `items_shuffle*.json` (`customization_options`). */
export interface RawOptionValue {
  /** Shown text, e.g. "Black/White" (cleaned to "black | white"). */
  value: string;
  /** Swatch image URL; absent or null for text options. */
  image?: string | null;
  /** ASIN of the variant on Amazon (unused by the engine). */
  asin?: string;
  is_selected?: boolean;
  is_available?: boolean;
}

/**
 * One product record of `items_shuffle*.json` (a JSON array of these). Only `asin` is strictly
 * required by WebShop's loader before its duplicate/`nan` checks; the loaders here also require
 * `name`, `product_category`, `query` and `category` (see `loaders.ts`). Other scraped keys
 * (`product_information`, `brand`, `list_price`, ...) are kept in the record type but dropped by
 * cleaning, as WebShop's `clean_product_keys` does.
 */
export interface RawProduct {
  asin: string;
  /** Product title; becomes `Title`. */
  name: string;
  /** Long description; becomes `Description`. */
  full_description?: string | null;
  /** Bullet points (a list, or one string); becomes `BulletPoints`. */
  small_description?: string | string[] | null;
  /** Price text such as "$78.42$94.90" (a range) or "$12.99"; empty/missing means $100. */
  pricing?: string | null;
  /** Option name -> values, e.g. {"Size": [{value: "5 Big Kid", ...}], "Color": null}. */
  customization_options?: Record<string, RawOptionValue[] | null> | null;
  /** Image URLs; the first becomes `MainImage`. */
  images?: string[] | null;
  /** Amazon breadcrumb joined with " › ", e.g. "Clothing, Shoes & Jewelry › Women › Shoes". */
  product_category: string;
  /** WebShop's coarse category: "beauty", "food", "fashion", "furniture", "electronics". */
  category: string;
  /** The search query the product was scraped under, e.g. "Women's Mules & Clogs". */
  query: string;
  average_rating?: number | string | null;
  total_reviews?: number | string | null;
  page?: number;
  [key: string]: unknown;
}

/** One entry of `items_ins_v2*.json` (an object ASIN -> entry). */
export interface RawAttributeEntry {
  /** Mined product attributes, e.g. ["tea tree", "essential oils"]. */
  attributes?: string[];
  /** Synthetic instruction, present for about 40% of products. */
  instruction?: string;
  /** The attributes the synthetic instruction asks for (a subset of `attributes`). */
  instruction_attributes?: string[];
}

/** `items_ins_v2*.json`: ASIN -> attribute entry. */
export type RawAttributeFile = Record<string, RawAttributeEntry>;

/** One human-written instruction of `items_human_ins.json` (an object ASIN -> list of these). */
export interface RawHumanInstruction {
  asin?: string;
  /** The instruction as the worker wrote it, e.g. "i need a blue wireless headset." */
  instruction: string;
  /** Attributes the worker ticked; goals with none are skipped by WebShop. */
  instruction_attributes: string[];
  /** Option values the worker ticked, e.g. ["blue", "large"]. */
  instruction_options: string[];
  assignment_id?: string;
  worker_id?: string;
  [key: string]: unknown;
}

/** `items_human_ins.json`: ASIN -> human instructions for that product. */
export type RawHumanInstructionFile = Record<string, RawHumanInstruction[]>;

/**
 * One line of `il_trajs*.jsonl` (human demonstrations, baseline_models/train_choice_il.py):
 * parallel lists over the steps of one episode.
 */
export interface RawIlTrajectory {
  /** Text observation at each step; the first starts with "WebShop\nInstruction: ...". */
  states: string[];
  /** The valid actions at each step, e.g. ["search", ...] or ["click[b0123]", ...]. */
  available_actions: string[][];
  /** Index of the chosen action in `available_actions[t]`; -1 for a typed search. */
  action_idxs: number[];
  /** The chosen actions as text, e.g. "search[blue headset]" (present in the released files). */
  actions?: string[];
  /** Per-step image features (512 floats) or 0 for none. */
  images?: (number | number[])[];
  [key: string]: unknown;
}

/** `human_goals.json`: the human instruction strings in split order (0-499 test, ...). */
export type RawHumanGoalsFile = string[];

/** `goal_query_map.json`: human instruction -> search queries people typed for it. */
export type RawGoalQueryMap = Record<string, string[]>;

// ---------------------------------------------------------------------------------------------
// Cleaned records (what the engine works with)
// ---------------------------------------------------------------------------------------------

/** One review as WebShop's loader shapes it (the released data has none). */
export interface Review {
  score: number;
  body: string;
  title?: string;
}

/**
 * A cleaned product, as engine.py `load_products` leaves it (minus the scraped keys it drops).
 * `name` and `Title` are the same string, as are `full_description` and `Description`.
 */
export interface Product {
  asin: string;
  /** Raw title (WebShop keeps both; `get_type_reward` reads `name`). */
  name: string;
  Title: string;
  /** `full_description`, "" when missing. */
  Description: string;
  /** `small_description` as a list. */
  BulletPoints: string[];
  /** Attributes from the attribute file, or ["DUMMY_ATTR"] when it has none for this ASIN. */
  Attributes: string[];
  category: string;
  /** Lower-cased and trimmed, as WebShop does last. */
  query: string;
  product_category: string;
  /** [price] or [low, high] parsed from "$a$b" ([100] when missing). */
  pricing: number[];
  /** Price tag shown on pages: "$12.5" or "$12.5 to $20.0" (Python float formatting). */
  Price: string;
  /** The one price of this product, drawn uniformly in `pricing` (WebShop's `product_prices`). */
  price: number;
  /** Option name (lower-cased) -> values (lower-cased, trimmed, "/" -> " | "). */
  options: Record<string, string[]>;
  /** Option value -> swatch image URL (null for text options). */
  option_to_image: Record<string, string | null>;
  Reviews: Review[];
  /** Average rating, or "N.A." as WebShop shows when reviews are not loaded. */
  Rating: number | string;
  /** First image URL, or null when the record has none. */
  MainImage: string | null;
  /** Synthetic instruction from the attribute file (null when the product has none). */
  instruction_text?: string | null;
  /** Attributes the synthetic instruction asks for. */
  instruction_attributes?: string[] | null;
  /** Human instructions for this product from `items_human_ins.json`. */
  instructions?: RawHumanInstruction[];
}

/**
 * A goal (one episode's task), with WebShop's fields. Human goals carry `goal_options` as the
 * list of option values the worker ticked; synthetic goals as an object option name -> value.
 */
export interface Goal {
  /** ASIN of the target product. */
  asin: string;
  category: string;
  query: string;
  /** Target product's title (`get_type_reward` compares its nouns). */
  name: string;
  product_category: string;
  /** The instruction shown, with ", and price lower than X.00 dollars" when priced. */
  instruction_text: string;
  /** Attributes the goal asks for (non-empty). */
  attributes: string[];
  /** Price bound; 1000000 when the product is too expensive for the price grid. */
  price_upper: number;
  goal_options: string[] | Record<string, string>;
  /** Sampling weight: 1 for human goals; mean inverse attribute frequency for synthetic ones. */
  weight: number;
}

/** The options chosen on an item page: option name -> value (WebShop's `session["options"]`). */
export type ChosenOptions = Record<string, string>;

/** One skipped or invalid record, for load statistics. */
export interface LoadIssue {
  /** File (or source label) of the record. */
  file: string;
  /** Index of the record in its file (array index, or line number - 1 for JSONL). */
  index: number;
  /** The record's ASIN when it has one. */
  asin?: string;
  reason: string;
}

/** What a catalog load did, in counts. */
export interface LoadStats {
  /** Records read from the product file (before `numProducts` truncation). */
  records: number;
  /** Products kept. */
  products: number;
  /** Skipped because the ASIN was seen before (WebShop keeps the first). */
  duplicates: number;
  /** Skipped because the ASIN is "nan" or longer than 10 characters (as WebShop). */
  badAsin: number;
  /** Skipped because a required field was missing or mistyped (see `issues`). */
  invalid: number;
  /** Products without an entry in the attribute file (they get ["DUMMY_ATTR"]). */
  noAttributes: number;
  /** The first issues in detail (at most 100). */
  issues: LoadIssue[];
  /** Wall time of the load in milliseconds. */
  ms: number;
}
