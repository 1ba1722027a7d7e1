import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { randn, rng } from "../testing/numeric.ts";
import assert from "node:assert/strict";
import { TINY_BERT } from "../testing/tiny_bert.ts";
import { GpuError } from "../kernels/device.ts";
import { tensor } from "../kernels/tensor.ts";
import { BertModel, bertParamSpecs, initBertWeights } from "./bert.ts";
import { BERT_PRESETS } from "./config.ts";
import { bertBackwardRef, bertForwardRef, toF64, zerosLikeRef } from "./reference.ts";

function inputs(B: number, T: number, lens: number[], V: number, seed: number) {
  const r = rng(seed);
  const ids = new Uint32Array(B * T),
    types = new Uint32Array(B * T),
    mask = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < lens[b]; t++) {
      ids[b * T + t] = 1 + Math.floor(r() * (V - 1));
      types[b * T + t] = t >= lens[b] / 2 ? 1 : 0;
      mask[b * T + t] = 1;
    }
  }
  return { ids, types, mask };
}

gpuTest("BertModel forward and backward match the float64 reference", async (gpu) => {
  const cfg = TINY_BERT, B = 3, T = 7, C = cfg.hiddenSize;
  const w = initBertWeights(cfg, 5);
  const bert = BertModel.create(gpu, cfg, w);
  const { ids, types, mask } = inputs(B, T, [7, 4, 1], cfg.vocabSize, 9);
  const dH = randn(B * T * C, 3);
  const tIds = tensor(gpu, [B * T], "ids", ids, "u32");
  const tTypes = tensor(gpu, [B * T], "types", types, "u32");
  const tMask = tensor(gpu, [B * T], "mask", mask);
  const tDH = tensor(gpu, [B, T, C], "dH", dH);
  const b = gpu.batch("bert test");
  for (const p of bert.parameters()) b.clear(p.grad);
  const h = bert.forward(b, tIds, tTypes, tMask, { B, T }, false);
  bert.backward(b, tDH);
  b.submit();
  const w64 = toF64(w), g64 = zerosLikeRef(w64);
  const ref = bertForwardRef(cfg, w64, ids, types, mask, B, T);
  bertBackwardRef(cfg, w64, g64, ref.cache, Float64Array.from(dH));
  assertClose(await h.read(), ref.hidden, { atol: 1e-4, rtol: 1e-4 }, "hidden");
  for (const p of bert.parameters()) {
    const r = g64.get(p.name)!;
    const scale = r.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(await p.grad.read(), r, { atol: 2e-4 * scale + 1e-6, rtol: 1e-3 }, p.name);
  }
  bert.destroy();
});

gpuTest(
  "BertModel dropout: eval is deterministic, train differs by seed and repeats",
  async (gpu) => {
    const cfg = { ...TINY_BERT, hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1 };
    const bert = BertModel.create(gpu, cfg, undefined, { seed: 1 });
    const B = 2, T = 5;
    const { ids, types, mask } = inputs(B, T, [5, 3], cfg.vocabSize, 4);
    const t = [
      tensor(gpu, [B * T], "ids", ids, "u32"),
      tensor(gpu, [B * T], "types", types, "u32"),
      tensor(gpu, [B * T], "mask", mask),
    ] as const;
    const run = async (train: boolean, seed: number) => {
      const b = gpu.batch("dropout");
      const h = bert.forward(b, t[0], t[1], t[2], { B, T }, train, seed);
      b.submit();
      return await h.read();
    };
    const eval1 = await run(false, 1), eval2 = await run(false, 2);
    assertClose(eval1, eval2, { atol: 0, rtol: 0 }, "eval ignores the seed");
    const a = await run(true, 7), again = await run(true, 7), other = await run(true, 8);
    assertClose(a, again, { atol: 0, rtol: 0 }, "same seed, same masks");
    assert.ok(a.some((v, i) => v !== other[i]), "another seed gives other masks");
    assert.ok(a.some((v, i) => v !== eval1[i]), "train differs from eval");
    bert.destroy();
  },
);

gpuTest("BertModel.loadWeights() names missing, misshapen and unknown tensors", (gpu) => {
  const cfg = TINY_BERT;
  const w = initBertWeights(cfg, 0);
  const bert = BertModel.create(gpu, cfg, w);
  const missing = new Map(w);
  missing.delete("bert.encoder.layer.1.output.dense.bias");
  assertThrows(() => bert.loadWeights(missing), GpuError, "bert.encoder.layer.1.output.dense.bias");
  const bad = new Map(w);
  bad.set("bert.pooler.dense.weight", { shape: [3, 3], data: new Float32Array(9) });
  assertThrows(() => bert.loadWeights(bad), GpuError, "has shape [3, 3], expected [32, 32]");
  const extra = new Map(w);
  extra.set("bert.encoder.layer.9.output.dense.bias", { shape: [1], data: new Float32Array(1) });
  assertThrows(() => bert.loadWeights(extra), GpuError, "unknown tensor(s) under 'bert.'");
  // The position_ids buffer of old checkpoints and other prefixes are ignored.
  const ok = new Map(w);
  ok.set("bert.embeddings.position_ids", { shape: [1, 16], data: new Float32Array(16) });
  ok.set("linear_1.weight", { shape: [1], data: new Float32Array(1) });
  bert.loadWeights(ok);
  bert.destroy();
});

gpuTest("BertModel.readWeights() returns what was loaded, with HF names", async (gpu) => {
  const cfg = TINY_BERT;
  const w = initBertWeights(cfg, 3);
  const bert = BertModel.create(gpu, cfg, w);
  const back = await bert.readWeights();
  assert.equal(back.size, bertParamSpecs(cfg).length);
  for (const [k, v] of w) assert.deepEqual(back.get(k)!.data, v.data, k);
  bert.destroy();
});

Deno.test("initBertWeights() follows Hugging Face: N(0, 0.02), zero [PAD] row and biases, LN 1/0", () => {
  const cfg = BERT_PRESETS.tiny;
  const w = initBertWeights({ ...cfg, vocabSize: 300 }, 1);
  const q = w.get("bert.encoder.layer.0.attention.self.query.weight")!.data;
  const mean = q.reduce((a, b) => a + b, 0) / q.length;
  const std = Math.sqrt(q.reduce((a, b) => a + (b - mean) ** 2, 0) / q.length);
  assert.ok(Math.abs(mean) < 1e-3 && Math.abs(std - 0.02) < 1e-3, `mean ${mean} std ${std}`);
  assert.ok(
    w.get("bert.embeddings.word_embeddings.weight")!.data.subarray(0, 128).every((v) => v === 0),
  );
  assert.ok(w.get("bert.encoder.layer.1.output.dense.bias")!.data.every((v) => v === 0));
  assert.ok(w.get("bert.embeddings.LayerNorm.weight")!.data.every((v) => v === 1));
  assert.deepEqual(w.get("bert.pooler.dense.weight")!.shape, [128, 128]);
});
