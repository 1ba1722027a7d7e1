/**
 * Parity of our choice model with the PyTorch one that bench:model times beside it
 * (scripts/bench_model_torch.py): tests/fixtures/choice_tiny, made by make_choice_parity.py,
 * holds a tiny random model and a padded batch of two decisions with torch's float64 log-probs,
 * values, imitation loss and the gradient of every parameter. Torch is not needed to run this.
 */

import assert from "node:assert/strict";
import { assertClose } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { fixtureFiles } from "../testing/requires.ts";
import { tensor } from "../kernels/tensor.ts";
import { type ChoiceBatch, choiceConfig, ChoiceModel } from "../model/choice_model.ts";
import type { BertConfig } from "../model/config.ts";
import { readSafetensors } from "../model/safetensors.ts";
import { ImitationLoss } from "../train/imitation_loss.ts";

const FIXTURE = new URL("./fixtures/choice_tiny/", import.meta.url).pathname;

interface Expected {
  config: Record<string, number>;
  stateLen: number;
  actionLen: number;
  sizes: number[];
  targets: number[];
  stateIds: number[];
  stateMask: number[];
  actionIds: number[];
  actionMask: number[];
  valueCoef: number[];
  logp: number[];
  values: number[];
  loss: number;
  grads: Record<string, number[]>;
}

function maxAbs(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < e.length; i++) m = Math.max(m, Math.abs(a[i] - e[i]));
  return m;
}

gpuTest(
  "ChoiceModel matches the PyTorch peer's log-probs, values, loss and gradients",
  async (gpu) => {
    const e: Expected = JSON.parse(await Deno.readTextFile(`${FIXTURE}expected.json`));
    const c = e.config;
    const bert: BertConfig = {
      vocabSize: c.vocab,
      hiddenSize: c.hidden,
      numHiddenLayers: c.layers,
      numAttentionHeads: c.heads,
      intermediateSize: c.intermediate,
      maxPositionEmbeddings: c.max_positions,
      typeVocabSize: 2,
      layerNormEps: c.eps,
      hiddenDropoutProb: c.dropout,
      attentionProbsDropoutProb: c.attention_dropout,
      initializerRange: 0.02,
    };
    const cfg = choiceConfig(bert, { valueHidden: c.value_hidden });
    const { tensors } = await readSafetensors(`${FIXTURE}model.safetensors`);
    const model = ChoiceModel.create(gpu, cfg, tensors);
    const inp: ChoiceBatch = {
      stateLen: e.stateLen,
      stateIds: Uint32Array.from(e.stateIds),
      stateMask: Float32Array.from(e.stateMask),
      actionLen: e.actionLen,
      actionIds: Uint32Array.from(e.actionIds),
      actionMask: Float32Array.from(e.actionMask),
      sizes: e.sizes,
    };
    const { S } = model.setInputs(inp, { backward: true });
    const loss = new ImitationLoss(gpu);
    const dValues = tensor(gpu, [S], "parity dValues", e.valueCoef);
    const b = gpu.batch("choice parity");
    model.zeroGrad(b);
    const { logp, values } = model.forward(b, { train: false, values: true });
    const r = loss.record(b, model, logp, e.targets);
    model.backward(b, r.dLogp, dValues);
    b.submit();
    const gotLogp = await logp.read(), gotValues = await values!.read();
    const gotLoss = (await r.loss.read())[0];
    assertClose(gotLogp, e.logp, { atol: 1e-5, rtol: 1e-4 }, "logp");
    assertClose(gotValues, e.values, { atol: 1e-5, rtol: 1e-4 }, "values");
    assertClose([gotLoss], [e.loss], { atol: 1e-5, rtol: 1e-5 }, "loss");
    const params = model.parameters();
    assert.deepEqual(params.map((p) => p.name).sort(), Object.keys(e.grads).sort());
    let gradErr = 0;
    for (const p of params) {
      const want = e.grads[p.name], got = await p.grad.read();
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(got, want, { atol: 1e-4 * scale + 1e-6, rtol: 1e-3 }, `grad ${p.name}`);
      gradErr = Math.max(gradErr, maxAbs(got, want));
    }
    console.log(
      `GPU vs torch: logp max abs ${maxAbs(gotLogp, e.logp).toExponential(2)}, values ` +
        `${maxAbs(gotValues, e.values).toExponential(2)}, gradients ${gradErr.toExponential(2)}`,
    );
    dValues.destroy();
    loss.destroy();
    model.destroy();
  },
  [fixtureFiles(
    ["choice_tiny/expected.json", "choice_tiny/model.safetensors"],
    "the PyTorch peer's fixture",
  )],
);
