import { assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import { requires, SHARED_DIR, sharedFiles } from "../testing/requires.ts";
import { BERT_PRESETS, bertConfigFromHF, bertConfigToHF, validateBertConfig } from "./config.ts";

requires([sharedFiles(["bert-base-uncased/config.json"], "bert-base-uncased's config")], {
  name: "bertConfigFromHF() reads bert-base-uncased's config.json",
  fn: async () => {
    const url = new URL("bert-base-uncased/config.json", SHARED_DIR);
    const json = JSON.parse(await Deno.readTextFile(url));
    const c = bertConfigFromHF(json, url.pathname);
    assert.deepEqual(c, BERT_PRESETS.base);
  },
});

Deno.test("bertConfigToHF() and bertConfigFromHF() round-trip every preset", () => {
  for (const [name, c] of Object.entries(BERT_PRESETS)) {
    assert.deepEqual(bertConfigFromHF(bertConfigToHF(c), name), c, name);
  }
  const hf = bertConfigToHF(BERT_PRESETS.base);
  assert.equal(hf.hidden_size, 768);
  assert.equal(hf.model_type, "bert");
});

Deno.test("bertConfigFromHF() names the file and field of bad input", () => {
  const base = bertConfigToHF(BERT_PRESETS.tiny);
  const { hidden_size: _, ...noHidden } = base;
  assertThrows(
    () => bertConfigFromHF(noHidden, "a/config.json"),
    RangeError,
    "a/config.json: missing field 'hidden_size'",
  );
  assertThrows(
    () => bertConfigFromHF({ ...base, num_attention_heads: "2" }, "b.json"),
    TypeError,
    "b.json: field 'num_attention_heads' must be a number",
  );
  assertThrows(
    () => bertConfigFromHF({ ...base, num_attention_heads: 3 }, "c.json"),
    RangeError,
    "c.json: hiddenSize 128 is not a multiple of numAttentionHeads 3",
  );
  assertThrows(
    () => bertConfigFromHF({ ...base, hidden_act: "relu" }, "d.json"),
    RangeError,
    "hidden_act",
  );
  assertThrows(
    () => validateBertConfig({ ...BERT_PRESETS.tiny, hiddenDropoutProb: 1 }),
    RangeError,
    "hiddenDropoutProb",
  );
});

Deno.test("BERT_PRESETS have the published sizes", () => {
  const sizes = Object.values(BERT_PRESETS).map((c) =>
    [c.numHiddenLayers, c.hiddenSize, c.numAttentionHeads, c.intermediateSize].join("/")
  );
  assert.deepEqual(sizes, ["2/128/2/512", "4/256/4/1024", "4/512/8/2048", "12/768/12/3072"]);
  assert.equal(BERT_PRESETS.base.vocabSize, 30522);
});
