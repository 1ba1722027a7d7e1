import assert from "node:assert/strict";
import { loadCatalogFromDir } from "../env/loaders.ts";
import { makeGoals } from "../env/goals.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import { BertTokenizer } from "../model/tokenizer.ts";
import { AgentEncoder } from "./encoder.ts";
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
