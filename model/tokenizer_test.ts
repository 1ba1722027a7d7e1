import { assertRejects, assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import { BERT_BASE_TOKENIZER, requires, SHARED_DIR } from "../testing/requires.ts";
import { BertTokenizer, WEBSHOP_SPECIAL_TOKENS, webshopProcess } from "./tokenizer.ts";

const SHARED_BERT = new URL("bert-base-uncased/", SHARED_DIR).pathname;
const TINY = new URL("../tests/fixtures/bert_tiny/", import.meta.url).pathname;

requires([BERT_BASE_TOKENIZER], {
  name: "BertTokenizer matches Hugging Face ids of bert-base-uncased (from vocab.txt)",
  fn: async () => {
    const tok = await BertTokenizer.load(SHARED_BERT);
    // Ids looked up by hand in vocab.txt (line number - 1); splits as HF's BertTokenizerFast makes.
    const cases: [string, number[]][] = [
      ["hello world", [101, 7592, 2088, 102]],
      ["[button] buy now [button_]", [101, 30522, 4965, 2085, 30523, 102]],
      [
        "[clicked button] size [clicked button_] [SEP] unaffable",
        [101, 30524, 2946, 30525, 102, 14477, 20961, 3468, 102],
      ],
      ["Héllo, naïve café! 12.5oz", [
        101,
        7592,
        1010,
        15743,
        7668,
        999,
        2260,
        1012,
        1019,
        18153,
        102,
      ]],
    ];
    for (const [text, ids] of cases) assert.deepEqual(tok.encode(text), ids, text);
    assert.equal(tok.vocabSize, 30526);
    WEBSHOP_SPECIAL_TOKENS.forEach((t, i) => assert.equal(tok.tokenToId(t), 30522 + i));
    assert.deepEqual([tok.clsId, tok.sepId, tok.padId, tok.unkId], [101, 102, 0, 100]);
    assert.match(tok.identity, /^sha256:[0-9a-f]{64}\+webshop$/);
    assert.equal(tok.decode([101, 30522, 4965, 2085, 30523, 102]), "buy now");
  },
});

requires([BERT_BASE_TOKENIZER], {
  name: "BertTokenizer.encodeState() cleans and truncates from the left as WebShop does",
  fn: async () => {
    const tok = await BertTokenizer.load(SHARED_BERT);
    const obs = 'Back to Search [SEP] "Red" shoe\'s [SEP] ' + "size ".repeat(600) +
      "[button] Buy Now [button_]";
    const ids = tok.encodeState(obs);
    assert.equal(ids.length, 512);
    assert.equal(ids[0], 101);
    // The end survives (left truncation): ... size [button] buy now [button_] [SEP]
    assert.deepEqual(ids.slice(-6), [2946, 30522, 4965, 2085, 30523, 102]);
    const short = tok.encodeState('Back to Search [SEP] "Red" shoe\'s');
    assert.deepEqual(short, tok.encode("back to search [SEP] red shoes"));
    assert.equal(tok.encodeAction("click[" + "very ".repeat(100) + "long item]").length, 64);
  },
});

Deno.test("webshopProcess() mirrors train_choice_il.py process", () => {
  assert.equal(webshopProcess('  Men\'s "Slim" [sep] Shirt '), "mens slim [SEP] shirt");
});

Deno.test("BertTokenizer on the tiny fixture agrees with the fixture's Python tokenizer", async () => {
  const tok = await BertTokenizer.load(TINY);
  const expected = JSON.parse(await Deno.readTextFile(`${TINY}expected.json`));
  const cli = expected.cases[1];
  assert.deepEqual(tok.encode(cli.text), cli.ids);
  assert.deepEqual(tok.tokenize(cli.text), cli.tokens);
  assert.equal(tok.vocabSize, 200);
  // Truncation keeps [CLS] ... [SEP] and cuts the chosen end.
  const all = tok.encode(cli.text, { addSpecialTokens: false });
  const n = all.length;
  assert.deepEqual(tok.encode(cli.text, { maxLength: 6 }), [2, ...all.slice(n - 4), 3]);
  assert.deepEqual(tok.encode(cli.text, { maxLength: 6, truncation: "right" }), [
    2,
    ...all.slice(0, 4),
    3,
  ]);
  assertThrows(() => tok.encode("x", { maxLength: 1 }), RangeError, "maxLength 1");
});

Deno.test("BertTokenizer.batch() pads ids, mask and type ids", async () => {
  const tok = await BertTokenizer.load(TINY);
  const b = tok.batch(["blue shoes", "buy"], { multipleOf: 4 });
  const s0 = tok.encode("blue shoes"), s1 = tok.encode("buy");
  assert.equal(b.B, 2);
  assert.equal(b.T, 4 * Math.ceil(s0.length / 4));
  assert.deepEqual(b.lengths, [s0.length, s1.length]);
  assert.deepEqual([...b.ids.subarray(b.T, b.T + s1.length)], s1);
  assert.ok(b.ids.subarray(b.T + s1.length, 2 * b.T).every((x) => x === tok.padId));
  assert.deepEqual([...b.mask.subarray(b.T, 2 * b.T)], [
    ...Array(s1.length).fill(1),
    ...Array(b.T - s1.length).fill(0),
  ]);
  assert.ok(b.typeIds.every((x) => x === 0));
  assert.equal(tok.pad([[1, 2]], { padTo: 5 }).T, 5);
  assertThrows(() => tok.pad([[1, 2, 3]], { padTo: 2 }), RangeError, "3 > padTo 2");
  await assertRejects(() => BertTokenizer.load("/nonexistent/tok"), Error, "/nonexistent/tok");
});
