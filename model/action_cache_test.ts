import assert from "node:assert/strict";
import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { type Gpu, GpuError } from "../kernels/device.ts";
import { tensor } from "../kernels/tensor.ts";
import { ActionCache } from "./action_cache.ts";
import { choiceConfig, ChoiceModel, initChoiceWeights, packChoiceBatch } from "./choice_model.ts";
import { TINY_BERT } from "../testing/tiny_bert.ts";

const cfg = choiceConfig(TINY_BERT);
const LEN = 8; // the cache's action length (the encoder's actionLen)
const S1 = [2, 7, 8, 9, 3], S2 = [2, 10, 11, 3];
const BUY = [2, 20, 21, 3],
  BACK = [2, 22, 3],
  T1 = [2, 30, 31, 32, 33, 34, 35, 3],
  OPT = [2, 40, 3];

async function scored(
  gpu: Gpu,
  model: ChoiceModel,
  states: number[][],
  actions: number[][][],
  cache?: ActionCache,
): Promise<Float32Array[]> {
  const b = gpu.batch("cache test");
  model.score(b, packChoiceBatch(states, actions), { values: true, actionCache: cache });
  b.submit();
  return await model.readLogp();
}

gpuTest("scores with cached action encodings equal scores without them", async (gpu) => {
  const model = ChoiceModel.create(gpu, cfg, initChoiceWeights(cfg, 3));
  const cache = new ActionCache(gpu, { length: LEN, hiddenSize: 32, padId: 0 });
  try {
    // Batch 1 pads actions to 8 tokens, the cache's length; BUY appears twice (encoded once).
    const a1 = [[BUY, BACK, T1], [BUY, OPT]];
    const want1 = await scored(gpu, model, [S1, S2], a1);
    const got1 = await scored(gpu, model, [S1, S2], a1, cache);
    for (let s = 0; s < 2; s++) {
      assertClose(got1[s], want1[s], { atol: 2e-6, rtol: 1e-5 }, `b1 ${s}`);
    }
    assert.deepEqual([cache.size, cache.misses, cache.hits], [4, 4, 1]);
    // Batch 2 pads to 4 tokens only and reuses BUY and OPT: the first 4 of their 8 cached
    // positions are what this batch computes; one new action is encoded.
    const a2 = [[OPT, [2, 41, 42, 3], BUY]];
    const want2 = await scored(gpu, model, [S2], a2);
    const got2 = await scored(gpu, model, [S2], a2, cache);
    assertClose(got2[0], want2[0], { atol: 2e-6, rtol: 1e-5 }, "b2");
    assert.deepEqual([cache.size, cache.misses, cache.hits], [5, 5, 3]);
    // A backward must not follow a cached forward; a training forward cannot use the cache.
    const b = gpu.batch("bad");
    assertThrows(
      () => model.backward(b, tensor(gpu, [3], "dLogp")),
      GpuError,
      "read cached action encodings",
    );
    assertThrows(
      () => model.forward(b, { train: true, actionCache: cache }),
      GpuError,
      "for inference",
    );
    b.submit();
  } finally {
    cache.destroy();
    model.destroy();
  }
});

gpuTest(
  "a full action cache starts over, and a batch larger than it runs without it",
  async (gpu) => {
    const model = ChoiceModel.create(gpu, cfg, initChoiceWeights(cfg, 4));
    // Room for 3 encodings of 8 tokens × 32 channels.
    const cache = new ActionCache(gpu, {
      length: LEN,
      hiddenSize: 32,
      padId: 0,
      bytes: 3 * LEN * 32 * 4,
    });
    try {
      assert.equal(cache.capacity, 3);
      await scored(gpu, model, [S1], [[BUY, BACK]], cache);
      assert.equal(cache.size, 2);
      // Two new actions do not fit beside two held: the cache clears and holds this batch's three.
      const a = [[T1, OPT, BUY]];
      assertClose(
        (await scored(gpu, model, [S1], a, cache))[0],
        (await scored(gpu, model, [S1], a))[0],
        { atol: 2e-6, rtol: 1e-5 },
        "after a clear",
      );
      assert.equal(cache.size, 3);
      // Four distinct actions: more than it holds, scored without the cache (which stays as it was).
      const big = [[T1, OPT, BUY, BACK]];
      assertClose(
        (await scored(gpu, model, [S2], big, cache))[0],
        (await scored(gpu, model, [S2], big))[0],
        { atol: 2e-6, rtol: 1e-5 },
        "too many",
      );
      assert.equal(cache.size, 3);
      // Actions longer than the cache's length are scored without it too.
      const long = [[[2, 5, 6, 7, 8, 9, 10, 11, 12, 3]]];
      assert.equal(cache.lookup(packChoiceBatch([S1], long).actionIds, [1], 1, 10), null);
    } finally {
      cache.destroy();
      model.destroy();
    }
  },
);
