import { assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import { BertTokenizer } from "./tokenizer.ts";
import { bertWords, buildWordPiece, learnWordPieceVocab, writeWordPiece } from "./wordpiece.ts";

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

Deno.test("learnWordPieceVocab() merges the most frequent pair first (hand-computed)", () => {
  // Words: ab x3, ac x1. Alphabet: a, ##b, ##c (sorted: "##b" < "##c" < "a").
  // Pairs: (a,##b)=3, (a,##c)=1 -> merge "ab", then "ac".
  assert.deepEqual(learnWordPieceVocab(["ab ab ab ac"], { vocabSize: 9, minFrequency: 1 }), [
    ...SPECIALS,
    "##b",
    "##c",
    "a",
    "ab",
  ]);
  assert.deepEqual(learnWordPieceVocab(["ab ab ab ac"], { vocabSize: 20, minFrequency: 1 }), [
    ...SPECIALS,
    "##b",
    "##c",
    "a",
    "ab",
    "ac",
  ]);
  // minFrequency 2 stops before the pair seen once.
  assert.deepEqual(learnWordPieceVocab(["ab ab ab ac"], { vocabSize: 20 }).slice(-1), ["ab"]);
  // Word-internal merges keep the ## prefix: "abc" x2 -> ##b ##c merge to ##bc, then a ##bc.
  const v = learnWordPieceVocab(["abc abc"], { vocabSize: 20, minFrequency: 1 });
  assert.deepEqual(v.slice(8), ["##bc", "abc"]); // tie at 2: lower left id (##b = 5) first
  assertThrows(
    () => learnWordPieceVocab(["abcdef"], { vocabSize: 8 }),
    RangeError,
    "alphabet needs 11 entries",
  );
});

Deno.test("buildWordPiece() writes a tokenizer.json the library loads and round-trips", async () => {
  const corpus = [
    "Women's Running Shoes, Lightweight and Breathable, Size 8",
    "Men's running shoes with rubber sole [SEP] [button] Buy Now [button_]",
    "organic green tea, 100 count; caffeine free herbal tea",
    "i need blue running shoes for women under 50 dollars",
  ];
  const json = buildWordPiece(corpus, { vocabSize: 120, minFrequency: 1 });
  const tok = BertTokenizer.fromJson(json as Record<string, unknown>);
  assert.equal(tok.vocabSize, 124);
  assert.deepEqual([tok.padId, tok.unkId, tok.clsId, tok.sepId], [0, 1, 2, 3]);
  assert.equal(tok.tokenToId("[button]"), 120);
  assert.equal(tok.tokenToId("[clicked button_]"), 123);
  for (const text of corpus) {
    const ids = tok.encode(text);
    assert.ok(!ids.includes(tok.unkId), `no [UNK] in ${text}`);
    // Decoding joins pieces; BERT's clean-up glues punctuation, so compare the word sequence.
    assert.deepEqual(bertWords(tok.decode(ids)), bertWords(text.replace(/\[[a-z_ ]+\]/gi, " ")));
  }
  assert.deepEqual(tok.tokenize("running"), ["running"]);
  // Special tokens are matched before normalisation and never learned as pieces.
  assert.deepEqual(tok.tokenize("[SEP] [button]"), ["[SEP]", "[button]"]);
  // Unseen characters are unknown.
  assert.deepEqual(tok.tokenize("ζ"), ["[UNK]"]);
  const dir = await Deno.makeTempDir();
  try {
    await writeWordPiece(`${dir}/tokenizer.json`, corpus, { vocabSize: 120, minFrequency: 1 });
    const again = await BertTokenizer.load(dir);
    assert.deepEqual(again.encode(corpus[0]), tok.encode(corpus[0]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildWordPiece() is deterministic and reproduces the committed tiny tokenizer", async () => {
  const { TINY_CORPUS } = await import("../tests/fixtures/make_tiny_tokenizer.ts");
  const made = buildWordPiece(TINY_CORPUS, { vocabSize: 196, minFrequency: 1 });
  const committed = JSON.parse(
    await Deno.readTextFile(new URL("../tests/fixtures/bert_tiny/tokenizer.json", import.meta.url)),
  );
  assert.deepEqual(made, committed);
});
