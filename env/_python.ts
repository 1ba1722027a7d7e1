/**
 * Python behaviours WebShop's output depends on, each as CPython does it (private to env/):
 * the `random` module's Mersenne Twister and shuffle, `str` and `repr` of floats, strings, pairs
 * and flat dicts, `str.strip()`, `json.dumps` of flat dicts and `round()`.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// random
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
// str, repr and json.dumps
// ---------------------------------------------------------------------------------------------

/** Python's `str(float)`: "100.0", "78.42", "1e+16", "1.5e-05". */
export function pyFloatStr(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const ax = Math.abs(x);
  if (ax !== 0 && (ax >= 1e16 || ax < 1e-4)) {
    const [mant, exp] = x.toExponential().split("e");
    const e = Number(exp);
    return `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  if (Object.is(x, -0)) return "-0.0";
  const s = String(x);
  return Number.isInteger(x) ? `${s}.0` : s;
}

// Python's str.isspace() set, which str.strip() removes (differs from JS trim: \x1c-\x1f and
// \x85 are whitespace in Python, \ufeff is not).
const PY_WS =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_STRIP_RE = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, "g");

/** Python's `str.strip()` with no argument. */
export function pyStrip(s: string): string {
  return s.replace(PY_STRIP_RE, "");
}

/** Python's `str()` of a value a template prints (numbers as Python would, None as "None"). */
export function pyStr(x: unknown): string {
  if (x === null || x === undefined) return "None";
  if (typeof x === "number") return Number.isInteger(x) ? String(x) : pyFloatStr(x);
  if (typeof x === "boolean") return x ? "True" : "False";
  return String(x);
}

/** Python's `json.dumps` string literal (ensure_ascii). */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20 || c > 0x7e) {
      // UTF-16 code units, as Python writes astral characters as surrogate pairs.
      out += "\\u" + c.toString(16).padStart(4, "0");
    } else out += s[i];
  }
  return out + '"';
}

/** Python's `json.dumps` of a flat str -> str dict (default separators, optional sorted keys). */
export function pyJsonDumps(obj: Readonly<Record<string, string>>, sortKeys = false): string {
  const keys = Object.keys(obj);
  if (sortKeys) keys.sort(pyStrCompare);
  return "{" + keys.map((k) => `${pyJsonString(k)}: ${pyJsonString(obj[k])}`).join(", ") + "}";
}

// Python orders str by code point; JS `<` compares UTF-16 units (differs only off the BMP).
function pyStrCompare(a: string, b: string): number {
  const ca = [...a].map((c) => c.codePointAt(0)!);
  const cb = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    if (ca[i] !== cb[i]) return ca[i] - cb[i];
  }
  return ca.length - cb.length;
}

/** Python's `repr` of a str (quotes chosen and escapes made as CPython does). */
export function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (cp < 0x20 || cp === 0x7f) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp < 0x7f || ch === " ") out += ch;
    else if (/[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u.test(ch)) {
      // Not printable for Python: escaped, and the escape's letters survive processing.
      if (cp < 0x100) out += "\\x" + cp.toString(16).padStart(2, "0");
      else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
      else out += "\\U" + cp.toString(16).padStart(8, "0");
    } else out += ch;
  }
  return out + quote;
}

/** Python's `str()` of a 2-tuple of strings: "('size', 'standard')". */
export function pyStrPair(pair: readonly [string, string]): string {
  return `(${pyRepr(pair[0])}, ${pyRepr(pair[1])})`;
}

/** Python's `repr` of a flat str -> str dict, as WebShop writes options into some URLs. */
export function pyDictRepr(obj: Readonly<Record<string, string>>): string {
  return "{" + Object.entries(obj).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(", ") + "}";
}

// ---------------------------------------------------------------------------------------------
// round
// ---------------------------------------------------------------------------------------------

/** Python's round() to an integer (half to even), as thefuzz's `intr`. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
