/**
 * Colour and size normalisation, as WebShop's engine/normalize.py: `normalizeColor` maps an
 * option value to the first base colour it contains (the reward compares options through it), and
 * `normalizeColorSize` maps every colour and size value of a catalog to its base colour / size
 * pattern (WebShop uses it for analysis of option choices).
 *
 * The lists keep WebShop's order on purpose: `normalizeColor` returns the FIRST base colour found
 * as a substring, so "dark blue" gives "blue" (listed before "dark") and "standard" gives "tan".
 *
 * @module
 */

// deno-fmt-ignore
/** WebShop's base colours, in its order (the order decides which colour wins). */
export const COLOR_SET: readonly string[] = [
  "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige",
  "black", "blue", "blush", "bordeaux", "bronze", "brown", "burgundy", "camel",
  "camo", "caramel", "champagne", "charcoal", "cheetah", "chestnut", "chocolate", "christmas",
  "coffee", "cognac", "copper", "coral", "cranberry", "cream", "crystal", "dark",
  "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape",
  "graphite", "grass", "gray", "green", "grey", "heather", "indigo", "ivory",
  "ivy", "khaki", "lavender", "lemon", "leopard", "light", "lilac", "lime",
  "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha", "multicolor",
  "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach",
  "pewter", "pink", "plum", "purple", "rainbow", "red", "rose", "royal",
  "rust", "sand", "sapphire", "seashell", "silver", "skull", "slate", "steel",
  "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise",
  "violet", "walnut", "wheat", "white", "wine", "yellow",
];

// deno-fmt-ignore
/** WebShop's base sizes; each is also tried as a pattern before `SIZE_PATTERNS`. */
export const SIZE_SET: readonly string[] = [
  "xx-large", "3x-large", "4x-large", "5x-large", "x-large", "x-small", "medium", "large",
  "small", "queen", "twin", "full", "king", "one size", "pack",
];

/**
 * WebShop's size patterns (Python `re.search` semantics: match anywhere), preceded by the
 * `SIZE_SET` words as patterns, exactly as normalize.py builds its list. `source` is the pattern
 * text WebShop reports as the size's mapping.
 */
export const SIZE_PATTERNS: readonly RegExp[] = [
  ...SIZE_SET.map((s) => new RegExp(s)),
  /(.*)neck(.*)sleeve/,
  /(.*) women \| (.*) men/,
  /(.*)w x(.*)l/,
  /(.*)w by (.*)l/,
  /(.*)w x(.*)h/,
  /(.*)wide/,
  /(.*)x-wide/,
  /(.*)narrow/,
  /(.*)petite/,
  /(.*)inch/,
  /(.*)plus/,
  /(.*)mm/,
  /women(.*)/,
  /(.*)x(.*)/,
  /(.*)ft/,
  /(.*)feet/,
  /(.*)meter/,
  /(.*)yards/,
  /(.*)\*(.*)/,
  /(.*)\-(.*)/,
  /(\d+)"$/,
  /(\d+)f$/,
  /(\d+)m$/,
  /(\d+)cm$/,
  /(\d+)g$/,
];

/**
 * The first base colour of `COLOR_SET` that occurs in `value` as a substring, else `value`
 * unchanged (normalize.py `normalize_color`). Case-sensitive, as the original: option values are
 * already lower-cased by the loader.
 *
 * @example
 * ```ts
 * normalizeColor("dark blue"); // "blue"
 * normalizeColor("x-large"); // "x-large"
 * ```
 */
export function normalizeColor(value: string): string {
  for (const base of COLOR_SET) {
    if (value.includes(base)) return base;
  }
  return value;
}

/** Python's `str.replace('.', '', 1).isdigit()`: a plain non-negative number such as "7.5". */
function isNumericSize(s: string): boolean {
  return /^\p{Nd}+$/u.test(s.replace(".", ""));
}

/**
 * Maps each colour and size of a catalog to its normalised class (normalize.py
 * `normalize_color_size`): colours to a base colour or "not_matched", sizes to the source of the
 * first size pattern that matches, "numeric_size", or "not_matched". Takes the (asin, colour,
 * size) keys WebShop's analysis uses; both maps also hold "N.A." -> "not_matched".
 */
export function normalizeColorSize(
  keys: Iterable<readonly [asin: string, color: string, size: string]>,
): { colorMapping: Map<string, string>; sizeMapping: Map<string, string> } {
  const colors = new Set<string>();
  const sizes = new Set<string>();
  for (const [, color, size] of keys) {
    colors.add(color.toLowerCase());
    sizes.add(size.toLowerCase());
  }
  const colorMapping = new Map<string, string>([["N.A.", "not_matched"]]);
  for (const c of colors) {
    const base = COLOR_SET.find((b) => c.includes(b));
    colorMapping.set(c, base ?? "not_matched");
  }
  const sizeMapping = new Map<string, string>([["N.A.", "not_matched"]]);
  for (const s of sizes) {
    const pattern = SIZE_PATTERNS.find((p) => p.test(s));
    if (pattern) sizeMapping.set(s, pattern.source);
    else sizeMapping.set(s, isNumericSize(s) ? "numeric_size" : "not_matched");
  }
  return { colorMapping, sizeMapping };
}
