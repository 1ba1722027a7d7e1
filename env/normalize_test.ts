import assert from "node:assert/strict";
import { COLOR_SET, normalizeColor, normalizeColorSize, SIZE_PATTERNS } from "./normalize.ts";

Deno.test("normalizeColor() returns the first base colour in WebShop's order", () => {
  assert.equal(COLOR_SET.length, 102);
  assert.equal(SIZE_PATTERNS.length, 15 + 25);
  assert.equal(normalizeColor("dark blue"), "blue"); // "blue" is listed before "dark"
  assert.equal(normalizeColor("standard"), "tan"); // a substring, not a word
  assert.equal(normalizeColor("rose gold"), "gold");
  assert.equal(normalizeColor("x-large"), "x-large");
  assert.equal(normalizeColor("Black"), "Black"); // case-sensitive, as the original
});

Deno.test("normalizeColorSize() equals normalize.py on mixed colours and sizes", () => {
  const keys: [string, string, string][] = [
    ["a", "Navy Blue", "X-Large"],
    ["b", "Standard", "7.5"],
    ["c", "multi", "32W x 30L"],
    ["d", "Dark Grey", "Queen"],
    ["e", "lemon", "12 Pack"],
    ["f", "zz", "onesize"],
    ["g", "Rose Gold", "10 inch"],
    ["h", "clear", "14.5 Neck 32 Sleeve"],
    ["i", "white", "100g"],
    ["j", "c1", "XS"],
  ];
  const { colorMapping, sizeMapping } = normalizeColorSize(keys);
  // Expected maps printed by WebShop's normalize_color_size (Python 3.11) on the same keys.
  assert.deepEqual(Object.fromEntries(colorMapping), {
    "N.A.": "not_matched",
    standard: "tan",
    zz: "not_matched",
    "rose gold": "gold",
    lemon: "lemon",
    "navy blue": "blue",
    white: "white",
    multi: "not_matched",
    clear: "not_matched",
    "dark grey": "dark",
    c1: "not_matched",
  });
  assert.deepEqual(Object.fromEntries(sizeMapping), {
    "N.A.": "not_matched",
    "x-large": "x-large",
    xs: "(.*)x(.*)",
    "32w x 30l": "(.*)w x(.*)l",
    queen: "queen",
    "7.5": "numeric_size",
    "14.5 neck 32 sleeve": "(.*)neck(.*)sleeve",
    "10 inch": "(.*)inch",
    onesize: "not_matched",
    "100g": "(\\d+)g$",
    "12 pack": "pack",
  });
});
