// Every expected value below was printed by CPython 3.11 (python3 on this machine) for the same
// input: repr(s), repr(d), round(x), str(x), json.dumps(d), s.strip() and random.Random(n).
import assert from "node:assert/strict";
import {
  pyDictRepr,
  pyFloatStr,
  pyJsonDumps,
  PyRandom,
  pyRepr,
  pyRound,
  pyStrip,
  pyStrPair,
} from "./_python.ts";

Deno.test("PyRandom equals CPython's random (seed, random, getrandbits, shuffle)", () => {
  // Printed by Python 3.11: random.seed(233); l = list(range(20)); random.shuffle(l).
  const l = Array.from({ length: 20 }, (_, i) => i);
  new PyRandom(233).shuffle(l);
  assert.deepEqual(l, [17, 18, 9, 2, 8, 19, 11, 10, 12, 0, 3, 4, 14, 13, 1, 6, 15, 7, 16, 5]);
  const r = new PyRandom(233);
  assert.equal(r.random(), 0.6824769139473528);
  assert.equal(r.getrandbits(32), 2698614761);
  assert.equal(r.getrandbits(5), 5);
  assert.equal(new PyRandom(2 ** 40 + 5).random(), 0.5043802970418443);
  const l2 = [0, 1, 2, 3, 4, 5, 6];
  new PyRandom(0).shuffle(l2);
  assert.deepEqual(l2, [4, 2, 1, 0, 5, 3, 6]);
});

Deno.test("PyRandom: randrange, a long shuffle and a negative seed as CPython's", () => {
  // random.Random(12087).randrange(1000) five times.
  const r = new PyRandom(12087);
  assert.deepEqual(Array.from({ length: 5 }, () => r.randbelow(1000)), [556, 239, 553, 846, 876]);
  // random.Random(233).shuffle(list(range(100)))[:20]
  const l = Array.from({ length: 100 }, (_, i) => i);
  new PyRandom(233).shuffle(l);
  assert.deepEqual(
    l.slice(0, 20),
    [45, 16, 21, 55, 40, 56, 24, 59, 66, 58, 35, 76, 78, 43, 17, 18, 92, 79, 31, 86],
  );
  // CPython seeds with abs(n).
  assert.equal(new PyRandom(-7).random(), 0.32383276483316237);
});

Deno.test("pyRepr() and pyDictRepr() equal CPython's repr", () => {
  const cases: [string, string][] = [
    ["plain", "'plain'"],
    ["it's", `"it's"`],
    ['say "hi"', `'say "hi"'`],
    ["both '\"", `'both \\'"'`],
    ["tab\there", "'tab\\there'"],
    ["cr\rlf\n", "'cr\\rlf\\n'"],
    ["nul\x00 bell\x07 del\x7f", "'nul\\x00 bell\\x07 del\\x7f'"],
    ["nbsp\xa0 soft\xad", "'nbsp\\xa0 soft\\xad'"],
    ["é ü 日本", "'é ü 日本'"],
    ["line\u2028sep", "'line\\u2028sep'"],
    ["emoji \u{1f600}", "'emoji \u{1f600}'"],
    ["zw\u200bsp", "'zw\\u200bsp'"],
    ["back\\slash", "'back\\\\slash'"],
    ["\u{e0001} tag", "'\\U000e0001 tag'"],
  ];
  for (const [s, want] of cases) assert.equal(pyRepr(s), want, JSON.stringify(s));
  // repr({"color": "navy\tblue", "size": "it's 8\r", "x": "\x01"})
  assert.equal(
    pyDictRepr({ color: "navy\tblue", size: "it's 8\r", x: "\x01" }),
    `{'color': 'navy\\tblue', 'size': "it's 8\\r", 'x': '\\x01'}`,
  );
  assert.equal(pyDictRepr({}), "{}");
  assert.equal(pyStrPair(["size", "it's"]), `('size', "it's")`);
});

Deno.test("pyRound() rounds half to even as CPython's round()", () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, 0],
    [-1.5, -2],
    [3.4999999999999996, 3],
    [267.5, 268],
    [87.5, 88],
    [86.49999999999999, 86],
    [100 * (2 * 43 / 86), 100],
    [100 * (2.0 * 17 / 40), 85],
  ];
  for (const [x, want] of cases) assert.equal(pyRound(x) + 0, want, `round(${x})`);
});

Deno.test("pyFloatStr(), pyJsonDumps() and pyStrip() equal CPython's str, json.dumps, strip", () => {
  assert.deepEqual(
    [1e-4, 9.999e-5, 1e15, 123456789012345.6, 0.1 + 0.2, -0, 5e-324, 1.7976931348623157e308]
      .map(pyFloatStr),
    [
      "0.0001",
      "9.999e-05",
      "1000000000000000.0",
      "123456789012345.6",
      "0.30000000000000004",
      "-0.0",
      "5e-324",
      "1.7976931348623157e+308",
    ],
  );
  // json.dumps({"b": "\U0001F600\x00\x7f", "a": "\u00e9\\/"})
  assert.equal(
    pyJsonDumps({ b: "\u{1f600}\x00\x7f", a: "\u00e9\\/" }),
    '{"b": "\\ud83d\\ude00\\u0000\\u007f", "a": "\\u00e9\\\\/"}',
  );
  assert.equal(pyStrip(" \t x \x1c\x85"), "x");
});
