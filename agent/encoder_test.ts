import assert from "node:assert/strict";
import { loadCatalogFromDir } from "../env/loaders.ts";
import { makeGoals } from "../env/goals.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import { BertTokenizer } from "../model/tokenizer.ts";
import { buildWordPiece } from "../model/wordpiece.ts";
import { AgentEncoder, BATCH_COST, cheapestCuts } from "./encoder.ts";
import { BERT_BASE_TOKENIZER, requires, SHARED_DIR, WEBSHOP_SAMPLE } from "../testing/requires.ts";

const SHARED = SHARED_DIR.pathname;

requires([BERT_BASE_TOKENIZER, WEBSHOP_SAMPLE], {
  name: "AgentEncoder encodes a real WebShop page as the baseline does",
  async fn() {
    const tok = await BertTokenizer.load(`${SHARED}bert-base-uncased`);
    const dir = await Deno.makeTempDir();
    try {
      for (const f of ["items_sample_160.json", "items_ins_v2_1000.json"]) {
        await Deno.copyFile(`${SHARED}webshop/${f}`, `${dir}/${f}`);
      }
      const cat = await loadCatalogFromDir(dir);
      const { goals } = makeGoals(cat.products, "synthetic", {});
      assert.ok(goals.length > 0, "the sample gives synthetic goals");
      const env = new WebShopEnv({ catalog: cat.products, goals });
      env.reset(0);
      env.step(`search[${goals[0].query}]`);
      const page = env.observation, actions = env.validActions();
      const enc = new AgentEncoder(tok, { stateLen: 512, actionLen: 128 });
      const b = enc.batch([{ state: page, actions }]);
      // The state: process() (lower case, no quotes, [SEP] restored), [CLS] … [SEP], pad id 0.
      const ids = Array.from(b.stateIds).slice(
        0,
        Array.from(b.stateMask).filter((m) => m === 1).length,
      );
      const want = tok.encode(
        page.toLowerCase().replaceAll('"', "").replaceAll("'", "").trim(),
        { maxLength: 512 },
      );
      assert.deepEqual(ids, want);
      assert.equal(ids[0], tok.clsId);
      assert.equal(ids.at(-1), tok.sepId);
      // WebShop's button markers are single tokens 30522-30525 of the resized vocabulary.
      assert.ok(ids.includes(30522) && ids.includes(30523), "[button] / [button_] tokens");
      assert.equal(tok.vocabSize, 30526);
      // "click[buy now]"-style actions: the known bert-base-uncased ids of a short action.
      assert.deepEqual(enc.action("click[Back to Search]"), [
        101,
        ...tok.encode("click[back to search]", { addSpecialTokens: false }),
        102,
      ]);
      assert.deepEqual(enc.action("click[< Prev]"), [
        101,
        11562,
        1031,
        1026,
        3653,
        2615,
        1033,
        102,
      ]);
      // Left truncation keeps the end of a long state (the page's last buttons), as WebShop does.
      const short = new AgentEncoder(tok, { stateLen: 16, actionLen: 8 }).state(page);
      assert.equal(short.length, 16);
      assert.deepEqual(short.slice(1, -1), want.slice(-15, -1));
      assert.equal(b.sizes[0], actions.length);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("AgentEncoder rejects token lengths too short for [CLS] x [SEP]", () => {
  const fake = {} as BertTokenizer;
  assert.throws(() => new AgentEncoder(fake, { stateLen: 2, actionLen: 8 }), /stateLen/);
});

Deno.test("AgentEncoder.batches splits by state length and places every decision once", () => {
  const words = "red blue shoes tea size buy now search back next".split(" ");
  const tok = BertTokenizer.fromJson(
    buildWordPiece([words.join(" ")], { vocabSize: 80, minFrequency: 1 }) as Record<
      string,
      unknown
    >,
  );
  const enc = new AgentEncoder(tok, { stateLen: 64, actionLen: 8 });
  // States of 1, 9, 2, 8, ... words: sorted by length they pair short with short.
  const lengths = [1, 9, 2, 8, 3, 7, 4, 6, 5];
  const decisions = lengths.map((n, i) => ({
    state: Array.from({ length: n }, (_, k) => words[(i + k) % words.length]).join(" "),
    actions: i % 2 ? ["click[buy now]"] : ["click[next >]", "click[back to search]"],
  }));
  const batches = enc.batches(decisions, 4);
  // 9 decisions of 3..11 tokens, at most 4 per batch: 3 batches (each more costs a submit); of
  // those, sizes 3, 3, 3 pad least (3·5 + 3·8 + 3·11 = 72 tokens; 2, 3, 4 gives 73).
  assert.deepEqual(batches.map((b) => b.indices.length), [3, 3, 3]);
  assert.deepEqual(batches.flatMap((b) => b.indices).sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(batches[0].indices, [0, 2, 4], "the three shortest states first");
  // [CLS] + n words + [SEP]: each batch pads to its own longest state only.
  assert.deepEqual(batches.map((b) => b.batch.stateLen), [5, 8, 11]);
  for (const { batch, indices } of batches) {
    assert.deepEqual(batch, enc.batch(indices.map((i) => decisions[i])));
  }
  assert.throws(() => enc.batches(decisions, 0), /maxBatch must be an integer >= 1, got 0/);
  assert.throws(() => enc.batches([], 4), /no decisions/);
});

Deno.test("cheapestCuts splits where padding costs more than a submit (hand-computed)", () => {
  assert.deepEqual(BATCH_COST, { submit: 600, decision: 200 });
  // Equal lengths: one batch (a second submit costs 600 and saves nothing).
  assert.deepEqual(cheapestCuts([10, 10, 10, 10], 8), [0, 4]);
  // Four short and four long states: together 600 + 8·(200 + 380) = 5240; apart
  // 600 + 4·210 + 600 + 4·580 = 4360.
  assert.deepEqual(cheapestCuts([10, 10, 10, 10, 380, 380, 380, 380], 8), [0, 4, 8]);
  // Close lengths stay together: 600 + 2·310 = 1220 against 600 + 300 + 600 + 310 = 1810.
  assert.deepEqual(cheapestCuts([100, 110], 8), [0, 2]);
  // maxBatch bounds every batch.
  assert.deepEqual(cheapestCuts([100, 110], 1), [0, 1, 2]);
  assert.deepEqual(cheapestCuts([], 4), [0]);
});
