import { gpuTest } from "../testing/gpu.ts";
import assert from "node:assert/strict";
import { choiceConfig, ChoiceModel, packChoiceBatch } from "../model/choice_model.ts";
import { choiceForwardRef, choiceLossRef, toF64 } from "../model/reference.ts";
import { decisions, refInputs } from "../model/_choice_fixtures.ts";
import { TINY_BERT } from "../testing/tiny_bert.ts";
import {
  IL_DEFAULTS,
  ilBatchIndices,
  ilTotalSteps,
  imitationMicroStep,
  validateIlConfig,
} from "./il.ts";
import { ImitationLoss } from "./imitation_loss.ts";
import { ModelOptimizer, scheduledLr } from "./optimizer.ts";

gpuTest(
  "imitationMicroStep() lowers the loss and changes every parameter the loss reaches",
  async (gpu) => {
    const cfg = choiceConfig({ ...TINY_BERT, hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 });
    const model = ChoiceModel.create(gpu, cfg, undefined, { seed: 3 });
    const { states, actions } = decisions(2);
    const inp = packChoiceBatch(states, actions);
    const targets = [1, 0, 2];
    const before = await model.readWeights();
    // The loss of step 0 is the reference's loss of the initial weights.
    const ref = choiceForwardRef(cfg, toF64(before), refInputs(inp));
    const refLoss = choiceLossRef(ref.logp, inp.sizes, targets).loss;
    const loss = new ImitationLoss(gpu);
    const opt = new ModelOptimizer(model, {
      lr: 3e-3,
      weightDecay: 0,
      clip: 1,
      schedule: "constant",
      warmupSteps: 0,
    });
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const l = imitationMicroStep(model, loss, inp, targets, {
        dropout: false,
        seed: step,
        update: { opt, lr: 3e-3 },
      });
      losses.push((await l.read())[0]); // a sync point per step: fine for a test
      assert.ok(Number.isFinite((await opt.gradNorm.read())[0]));
      if (step === 0) {
        const after = await model.readWeights();
        // The imitation loss does not reach the value head (linear_3.*), as in WebShop.
        for (const p of model.parameters().filter((p) => !p.name.startsWith("linear_3."))) {
          const a = after.get(p.name)!.data, b = before.get(p.name)!.data;
          assert.ok(a.some((v, i) => v !== b[i]), `${p.name} did not change`);
        }
      }
    }
    assert.ok(Math.abs(losses[0] - refLoss) < 1e-4, `step-0 loss ${losses[0]} vs ${refLoss}`);
    assert.ok(losses[5] < losses[0] * 0.7, `losses ${losses.map((l) => l.toFixed(4)).join(" ")}`);
    opt.destroy();
    loss.destroy();
    model.destroy();
  },
);

gpuTest("gradient accumulation of two half batches equals one full batch", async (gpu) => {
  const cfg = choiceConfig({ ...TINY_BERT, hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 });
  const { states, actions } = decisions(5);
  const targets = [2, 0, 1];
  const grads = async (parts: number[][]) => {
    const model = ChoiceModel.create(gpu, cfg, undefined, { seed: 9 });
    const loss = new ImitationLoss(gpu);
    gpu.run("zero", (b) => model.zeroGrad(b));
    for (const p of parts) {
      const inp = packChoiceBatch(p.map((i) => states[i]), p.map((i) => actions[i]));
      imitationMicroStep(model, loss, inp, p.map((i) => targets[i]), {
        dropout: false,
        seed: 0,
        scale: 1 / parts.length,
      });
    }
    const out = new Map<string, Float32Array>();
    for (const p of model.parameters()) out.set(p.name, await p.grad.read() as Float32Array);
    model.destroy();
    loss.destroy();
    return out;
  };
  // Equal-sized halves: the mean of the two half-batch means is the full mean.
  const full = await grads([[0, 2]]), halves = await grads([[0], [2]]);
  for (const [name, g] of full) {
    const h = halves.get(name)!;
    const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
    g.forEach((v, i) => assert.ok(Math.abs(v - h[i]) <= 1e-4 * scale + 1e-7, `${name}[${i}]`));
  }
});

Deno.test("ilBatchIndices() walks seeded epoch permutations and covers each epoch once", () => {
  const c = validateIlConfig({ ...IL_DEFAULTS, microBatch: 2, gradAccum: 2 });
  const n = 10;
  const seen = [0, 1, 2, 3, 4].flatMap((u) => ilBatchIndices(c, n, u));
  // Updates 0-4 take 20 positions: exactly two epochs, each a permutation of 0..9.
  assert.deepEqual([...seen.slice(0, 10)].sort((a, b) => a - b), [...Array(10).keys()]);
  assert.deepEqual([...seen.slice(10, 20)].sort((a, b) => a - b), [...Array(10).keys()]);
  assert.notDeepEqual(seen.slice(0, 10), seen.slice(10, 20));
  assert.deepEqual(ilBatchIndices(c, n, 3), ilBatchIndices(c, n, 3));
  assert.equal(ilTotalSteps({ ...c, epochs: 3 }, n), Math.ceil(30 / 4));
  assert.equal(ilTotalSteps({ ...c, maxSteps: 7 }, n), 7);
});

Deno.test("scheduledLr() is Hugging Face's linear schedule with warm-up", () => {
  const c = { lr: 1, weightDecay: 0, clip: 0, schedule: "linear" as const, warmupSteps: 2 };
  // get_linear_schedule_with_warmup(num_warmup_steps=2, num_training_steps=6): step s uses
  // s/2 for s < 2, then (6 - s)/(6 - 2).
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((t) => scheduledLr(c, t, 6)), [
    0,
    0.5,
    1,
    0.75,
    0.5,
    0.25,
  ]);
  assert.equal(scheduledLr({ ...c, schedule: "constant", warmupSteps: 0 }, 5, 6), 1);
});

Deno.test("validateIlConfig() names the bad field", () => {
  assert.throws(() => validateIlConfig({ ...IL_DEFAULTS, gradAccum: 0 }), /gradAccum/);
  assert.throws(() => validateIlConfig({ ...IL_DEFAULTS, lr: -1 }), /lr/);
  assert.throws(
    () => validateIlConfig({ ...IL_DEFAULTS, searchSteps: "x" as "skip" }),
    /searchSteps/,
  );
});
