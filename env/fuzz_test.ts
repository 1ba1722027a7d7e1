import assert from "node:assert/strict";
import seedrandom from "seedrandom";
import { fuzzyMatch, tokenSetRatio, tokenSetRatioReference } from "./fuzz.ts";

// Scores from Python 3.11's difflib with thefuzz 0.19.0's token_set_ratio (WebShop's pin).
const PYTHON_SCORES: [string | [string, string], string | [string, string], number][] = [
  ["tan", ["size", "standard"], 38],
  ["black", ["color", "black white"], 100],
  ["tea tree", "Tea-Tree oil", 100],
  ["gluten free", "gluten-free snacks", 100],
  ["high quality", "quality", 100],
  ["long lasting", "long-lasting fragrance", 100],
  ["dark brown", "brown dark", 100],
  ["x-large", "x large", 100],
  ["6.5 wide", "6 wide", 100],
  ["natural ingredients", "natural", 100],
  ["machine washable", "machine wash", 86],
  ["café au lait", "cafe au lait", 96],
  ["easy install", "easy to install", 100],
  ["hair extension", "hair extensions", 97],
  ["stainless steel", "stainless steel frame with wood", 100],
  ["size_large", "size large", 50],
  ["10–20 ft", "10 20 ft", 100],
  ["wireless bluetooth", "bluetooth wireless headphone", 100],
  ["natural ingredients", "natural ingredient", 97],
  ["essential oils", "cruelty free", 15],
  ["tea tree", "cruelty free", 50],
  ["black", ["size", "standard"], 11],
];

Deno.test("tokenSetRatio() equals thefuzz 0.19 scores computed in Python", () => {
  for (const [a, b, want] of PYTHON_SCORES) {
    assert.equal(tokenSetRatio(a, b), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    assert.equal(tokenSetRatioReference(a, b), want, `reference ${JSON.stringify([a, b])}`);
  }
});

Deno.test("tokenSetRatio() fast path equals the fuzzball difflib reference on random strings", () => {
  const rng = seedrandom("fuzz");
  const words = ["red", "reed", "blue", "x", "large", "x-large", "tea", "tree", "oil", "free"];
  const randomText = () => {
    const n = 1 + Math.floor(rng() * 5);
    let s = "";
    for (let i = 0; i < n; i++) {
      s += (i ? " " : "") + words[Math.floor(rng() * words.length)];
      if (rng() < 0.3) s += String.fromCharCode(97 + Math.floor(rng() * 26));
    }
    return s;
  };
  let mismatches = 0;
  for (let i = 0; i < 3000; i++) {
    const a = randomText(), b = randomText();
    const fast = tokenSetRatio(a, b), ref = tokenSetRatioReference(a, b);
    // fuzzball rounds x.5 up (Math.round), Python half to even: 12.5 -> 12 in thefuzz, 13 in
    // fuzzball. That is the only difference allowed, and it cannot cross the "> 85" test.
    const halfEvenDown = fast === ref - 1 && fast % 2 === 0;
    if (fast !== ref && !halfEvenDown) {
      if (mismatches++ < 5) console.log(`mismatch: '${a}' vs '${b}': ${fast} != ${ref}`);
    }
    assert.equal(fuzzyMatch(a, b), ref > 85, `fuzzyMatch('${a}', '${b}')`);
  }
  assert.equal(mismatches, 0);
});
