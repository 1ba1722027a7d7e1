import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { randn } from "../testing/numeric.ts";
import assert from "node:assert/strict";
import { GpuError, requestGpu } from "../kernels/device.ts";
import { tensor } from "../kernels/tensor.ts";
import {
  type ChoiceBatch,
  choiceConfig,
  ChoiceModel,
  initChoiceWeights,
  packChoiceBatch,
} from "./choice_model.ts";
import { choiceBackwardRef, choiceForwardRef, toF64, zerosLikeRef } from "./reference.ts";
import { decisions, refInputs } from "./_choice_fixtures.ts";
import { TINY_BERT } from "../testing/tiny_bert.ts";

for (const image of [false, true]) {
  gpuTest(
    `ChoiceModel forward and gradients match the float64 reference (image=${image})`,
    async (gpu) => {
      const cfg = choiceConfig(TINY_BERT, { image, imageDim: 8 });
      const w = initChoiceWeights(cfg, 11);
      const model = ChoiceModel.create(gpu, cfg, w);
      const { states, actions } = decisions(1);
      const inp = packChoiceBatch(states, actions);
      if (image) inp.images = randn(3 * 8, 5);
      const S = 3, A = 8;
      const dLogp = randn(A, 7), dValues = randn(S, 8);
      const tdLogp = tensor(gpu, [A], "dLogp", dLogp),
        tdValues = tensor(gpu, [S], "dValues", dValues);
      model.setInputs(inp, { backward: true });
      const b = gpu.batch("choice test");
      model.zeroGrad(b);
      const { logp, values } = model.forward(b, { train: false, values: true });
      model.backward(b, tdLogp, tdValues);
      b.submit();
      const rcfg = { ...cfg };
      const w64 = toF64(w), g64 = zerosLikeRef(w64);
      const ref = choiceForwardRef(rcfg, w64, refInputs(inp));
      choiceBackwardRef(
        rcfg,
        w64,
        g64,
        ref.cache,
        Float64Array.from(dLogp),
        Float64Array.from(dValues),
      );
      assertClose(await logp.read(), ref.logp, { atol: 1e-4, rtol: 1e-4 }, "logp");
      assertClose(await values!.read(), ref.values, { atol: 1e-4, rtol: 1e-4 }, "values");
      const split = await model.readLogp();
      assert.deepEqual(split.map((x) => x.length), [3, 1, 4]);
      for (const p of model.parameters()) {
        const r = g64.get(p.name)!;
        const scale = r.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assertClose(await p.grad.read(), r, { atol: 1e-3 * scale + 1e-6, rtol: 2e-3 }, p.name);
      }
    },
  );
}

gpuTest(
  "ChoiceModel ignores padded state tokens and scores a batch as each decision alone",
  async (gpu) => {
    const cfg = choiceConfig(TINY_BERT, { image: true, imageDim: 4 });
    const model = ChoiceModel.create(gpu, cfg, undefined, { seed: 4 });
    const { states, actions } = decisions(3);
    const score = async (inp: ChoiceBatch) => {
      const b = gpu.batch("score");
      const { logp, values } = model.score(b, inp, { values: true });
      b.submit();
      return { logp: await logp.read(), values: await values!.read() };
    };
    const base = await score(packChoiceBatch(states, actions));
    // Longer state padding holding garbage ids changes nothing.
    const padded = packChoiceBatch(states, actions, { stateLen: 13 });
    const ids = Uint32Array.from(padded.stateIds);
    for (let i = 0; i < ids.length; i++) if (!padded.stateMask[i]) ids[i] = 1 + (i % 40);
    const again = await score({ ...padded, stateIds: ids });
    assertClose(again.logp, base.logp, { atol: 1e-5, rtol: 1e-5 }, "logp with more state padding");
    assertClose(
      again.values,
      base.values,
      { atol: 1e-5, rtol: 1e-5 },
      "values with more state padding",
    );
    // Each decision alone (same action padding) gives the same log-probs.
    let off = 0;
    for (let s = 0; s < states.length; s++) {
      const alone = await score(
        packChoiceBatch([states[s]], [actions[s]], { stateLen: 10, actionLen: 6 }),
      );
      const n = actions[s].length;
      assertClose(
        alone.logp,
        base.logp.slice(off, off + n),
        { atol: 1e-5, rtol: 1e-5 },
        `state ${s}`,
      );
      assertClose(
        alone.values,
        base.values.slice(s, s + 1),
        { atol: 1e-5, rtol: 1e-5 },
        `value ${s}`,
      );
      off += n;
    }
  },
);

gpuTest("ChoiceModel.chosenLogp() gathers the targets' log-probs", async (gpu) => {
  const model = ChoiceModel.create(gpu, choiceConfig(TINY_BERT), undefined, { seed: 6 });
  const { states, actions } = decisions(5);
  const b = gpu.batch("chosen");
  const { logp } = model.score(b, packChoiceBatch(states, actions));
  model.setTargets([2, 0, 3]);
  const chosen = model.chosenLogp(b);
  b.submit();
  const all = await logp.read();
  assert.deepEqual(Array.from(await chosen.read()), [all[2], all[3], all[7]]);
});

gpuTest("ChoiceModel rejects bad inputs and weights by name", (gpu) => {
  const cfg = choiceConfig(TINY_BERT);
  const model = ChoiceModel.create(gpu, cfg, undefined, { seed: 1 });
  const { states, actions } = decisions(1);
  const inp = packChoiceBatch(states, actions);
  const gap = Float32Array.from(inp.actionMask);
  gap[0] = 0;
  assertThrows(
    () => model.setInputs({ ...inp, actionMask: gap }),
    GpuError,
    "action 0 has a real token after padding",
  );
  const big = Uint32Array.from(inp.stateIds);
  big[3] = 999;
  assertThrows(
    () => model.setInputs({ ...inp, stateIds: big }),
    GpuError,
    "state 0 token 3 has id 999",
  );
  assertThrows(
    () => model.setInputs({ ...inp, sizes: [3, 0, 5] }),
    GpuError,
    "state 1 has 0 valid actions",
  );
  model.setInputs(inp);
  assertThrows(() => model.setTargets([3, 0, 0]), GpuError, "target 3 of state 0 is not in [0, 3)");
  const w = initChoiceWeights(choiceConfig(TINY_BERT, { image: true }), 0);
  assertThrows(() => model.loadWeights(w), GpuError, "image_linear.weight");
  const missing = initChoiceWeights(cfg, 0);
  missing.delete("attn.dot_scale");
  assertThrows(() => model.loadWeights(missing), GpuError, "attn.dot_scale");
});

gpuTest(
  "ChoiceModel.warmup() compiles every pipeline of a step and leaves the weights as they were",
  async () => {
    const gpu = await requestGpu(); // its own pipeline cache: earlier tests compiled on theirs
    const cfg = choiceConfig(TINY_BERT);
    const w = initChoiceWeights(cfg, 21);
    const model = ChoiceModel.create(gpu, cfg, w);
    const { states, actions } = decisions(3);
    const inp = packChoiceBatch(states, actions);
    await model.warmup(inp);
    const after = await model.readWeights();
    for (const [name, t] of w) {
      assertClose(after.get(name)!.data, t.data, { atol: 0, rtol: 0 }, name);
    }
    const compiled = gpu.pipelineCount;
    const dLogp = tensor(gpu, [8], "dLogp", randn(8, 3));
    model.setInputs(inp, { backward: true });
    gpu.run("step", (b) => {
      model.forward(b, { train: true, seed: 1 });
      model.backward(b, dLogp);
    });
    gpu.run("score", (b) => model.score(b, inp, { values: true }));
    await model.readLogp();
    assert.equal(gpu.pipelineCount, compiled, "a step after warmup() compiled a new pipeline");
    model.destroy();
    gpu.destroy();
  },
);
