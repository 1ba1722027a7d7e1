/**
 * thefuzz 0.19.0's `fuzz.token_set_ratio` (the version WebShop pins, without python-Levenshtein,
 * so difflib's SequenceMatcher), the fuzzy test of WebShop's reward: strings are cut to ASCII by
 * deleting U+0080..U+00FF, every character that is not a letter, digit or "_" becomes a space,
 * then lower-cased and trimmed; the ratio is difflib's, rounded half to even. A fast exact path
 * (difflib's matching blocks, early exits around the threshold) is tested against fuzzball's
 * difflib port.
 *
 * @module
 */

import * as fuzz from "fuzzball";
import { pyRound, pyStrPair } from "./_python.ts";

/**
 * What the fuzzy scores compare: a string, or a (name, value) pair compared through Python's
 * `str()` of the tuple, "('size', 'standard')" (the reward's synthetic goal options).
 */
export type FuzzText = string | readonly [name: string, value: string];

/** Fuzzy threshold: a pair matches when token_set_ratio > 85. */
export const FUZZ_THRESHOLD = 85;

/** A processed string and its sorted unique tokens. */
interface Processed {
  text: string;
  tokens: string[];
}

const processCache = new Map<string, Processed>();
const PROCESS_CACHE_MAX = 200_000;

function processed(s: string): Processed {
  let out = processCache.get(s);
  if (out !== undefined) return out;
  const text = s.replace(/[\u0080-\u00ff]/g, "").replace(/[^\p{L}\p{N}_]/gu, " ").toLowerCase()
    .trim();
  const tokens = text.length === 0 ? [] : [...new Set(text.split(/\s+/))].sort();
  out = { text, tokens };
  if (processCache.size >= PROCESS_CACHE_MAX) processCache.clear();
  processCache.set(s, out);
  return out;
}

/** thefuzz's `intr(100 * m.ratio())` from difflib's matched-character count. */
function ratioScore(matches: number, length: number): number {
  return pyRound(100 * (2.0 * matches / length));
}

/**
 * Characters difflib's SequenceMatcher(None, a, b) matches (the sum of its matching blocks):
 * longest block first, earliest in a then in b, then recursively left and right of it. Exact for
 * b shorter than 200 characters, where difflib's autojunk does not apply.
 */
function difflibMatches(a: string, b: string): number {
  const b2j = new Map<number, number[]>();
  for (let j = 0; j < b.length; j++) {
    const c = b.charCodeAt(j);
    const list = b2j.get(c);
    if (list) list.push(j);
    else b2j.set(c, [j]);
  }
  let j2len = new Int32Array(b.length + 1);
  let newj2len = new Int32Array(b.length + 1);
  let total = 0;
  const queue: number[] = [0, a.length, 0, b.length];
  while (queue.length > 0) {
    const bhi = queue.pop()!, blo = queue.pop()!, ahi = queue.pop()!, alo = queue.pop()!;
    let besti = alo, bestj = blo, bestsize = 0;
    j2len.fill(0);
    for (let i = alo; i < ahi; i++) {
      newj2len.fill(0);
      const js = b2j.get(a.charCodeAt(i));
      if (js) {
        for (const j of js) {
          if (j < blo) continue;
          if (j >= bhi) break;
          // j2len is indexed j + 1 so that j - 1 = -1 reads slot 0.
          const k = j2len[j] + 1;
          newj2len[j + 1] = k;
          if (k > bestsize) {
            besti = i - k + 1;
            bestj = j - k + 1;
            bestsize = k;
          }
        }
      }
      const t = j2len;
      j2len = newj2len;
      newj2len = t;
    }
    if (bestsize > 0) {
      total += bestsize;
      if (alo < besti && blo < bestj) queue.push(alo, besti, blo, bestj);
      if (besti + bestsize < ahi && bestj + bestsize < bhi) {
        queue.push(besti + bestsize, ahi, bestj + bestsize, bhi);
      }
    }
  }
  return total;
}

// fuzzball options for the reference path (isAClone skips its per-call defaults clone).
const FUZZ_OPTS = {
  isAClone: true,
  full_process: false,
  force_ascii: false,
  collapseWhitespace: true,
  ratio_alg: "difflib",
  autojunk: true,
};

/** thefuzz 0.19.0 `fuzz.ratio` on processed strings (difflib), via fuzzball. */
function refRatio(a: string, b: string): number {
  if (a === b) return 100;
  if (a.length === 0 || b.length === 0) return 0;
  // deno-lint-ignore no-explicit-any
  return fuzz.ratio(a, b, FUZZ_OPTS as any);
}

/** Upper bound on difflib's matches: the shared character multiset. */
function sharedChars(a: string, b: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let shared = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    const n = counts.get(c);
    if (n) {
      shared++;
      counts.set(c, n - 1);
    }
  }
  return shared;
}

/**
 * token_set_ratio on processed inputs. With `threshold` it may stop early and return any score
 * on the right side of it (used by the reward, which only asks "> 85"); without, the exact score.
 */
function tokenSetScore(p1: Processed, p2: Processed, threshold?: number): number {
  if (p1.text.length === 0 || p2.text.length === 0) return 0;
  if (p1.text === p2.text) return 100;
  const t1 = p1.tokens, t2 = p2.tokens;
  const sect: string[] = [], d12: string[] = [], d21: string[] = [];
  let i = 0, j = 0;
  while (i < t1.length && j < t2.length) {
    if (t1[i] === t2[j]) {
      sect.push(t1[i++]);
      j++;
    } else if (t1[i] < t2[j]) d12.push(t1[i++]);
    else d21.push(t2[j++]);
  }
  while (i < t1.length) d12.push(t1[i++]);
  while (j < t2.length) d21.push(t2[j++]);
  // Python sorts by code point, JS by UTF-16 unit: they differ only beyond the BMP.
  const s = sect.join(" ");
  const c12 = (s + " " + d12.join(" ")).trim();
  const c21 = (s + " " + d21.join(" ")).trim();
  // sect is a prefix of both combinations: difflib matches exactly its characters.
  const r1 = s.length === 0 ? 0 : s === c12 ? 100 : ratioScore(s.length, s.length + c12.length);
  const r2 = s.length === 0 ? 0 : s === c21 ? 100 : ratioScore(s.length, s.length + c21.length);
  let best = Math.max(r1, r2);
  if (threshold !== undefined && best > threshold) return best;
  if (c12 === c21) return 100;
  const length = c12.length + c21.length;
  if (threshold !== undefined && ratioScore(sharedChars(c12, c21), length) <= threshold) {
    return best;
  }
  const r3 = c21.length < 200 ? ratioScore(difflibMatches(c12, c21), length) : refRatio(c12, c21);
  best = Math.max(best, r3);
  return best;
}

function processedOption(o: FuzzText): Processed {
  return processed(typeof o === "string" ? o : pyStrPair(o));
}

/**
 * thefuzz 0.19.0 `fuzz.token_set_ratio(a, b)` (difflib ratio, integer 0..100). A pair argument is
 * compared through Python's `str()` of the tuple, as the original does with `dict.items()`.
 *
 * @example
 * ```ts
 * tokenSetRatio("tea tree", "Tea-Tree oil"); // 100
 * ```
 */
export function tokenSetRatio(a: FuzzText, b: FuzzText): number {
  return tokenSetScore(processedOption(a), processedOption(b));
}

/**
 * The same score computed the slow, plain way with fuzzball's difflib port (the reference the
 * fast `tokenSetRatio` is tested against).
 */
export function tokenSetRatioReference(a: FuzzText, b: FuzzText): number {
  const p1 = processedOption(a).text, p2 = processedOption(b).text;
  if (p1.length === 0 || p2.length === 0) return 0;
  // deno-lint-ignore no-explicit-any
  return fuzz.token_set_ratio(p1, p2, FUZZ_OPTS as any);
}

// Match results per (a, b) pair: the same attribute pairs recur across episodes and goals.
const matchCache = new Map<string, boolean>();
const MATCH_CACHE_MAX = 500_000;

/** Whether thefuzz's token_set_ratio(a, b) > 85, the reward's match test (cached per pair). */
export function fuzzyMatch(a: FuzzText, b: FuzzText): boolean {
  const ka = typeof a === "string" ? a : pyStrPair(a);
  const kb = typeof b === "string" ? b : pyStrPair(b);
  const key = ka + "\u0000" + kb;
  let hit = matchCache.get(key);
  if (hit === undefined) {
    hit = tokenSetScore(processed(ka), processed(kb), FUZZ_THRESHOLD) > FUZZ_THRESHOLD;
    if (matchCache.size >= MATCH_CACHE_MAX) matchCache.clear();
    matchCache.set(key, hit);
  }
  return hit;
}
