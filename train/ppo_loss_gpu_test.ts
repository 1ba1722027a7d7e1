import assert from "node:assert/strict";
import { assertClose } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { TINY_BERT as TINY } from "../testing/tiny_bert.ts";
import { decisions } from "../model/_choice_fixtures.ts";
import { choiceConfig, ChoiceModel, packChoiceBatch } from "../model/choice_model.ts";
import { type PolicyLossOptions, ppoLoss } from "./ppo_loss.ts";
import { PolicyLossGpu } from "./ppo_loss_gpu.ts";

gpuTest(
  "PolicyLossGpu equals ppoLoss (values, gradients, statistics) on a model's forward",
  async (gpu) => {
    const model = ChoiceModel.create(gpu, choiceConfig(TINY), undefined, { seed: 3 });
    const d = decisions(5);
    const batch = packChoiceBatch(d.states, d.actions);
    const targets = [2, 0, 1];
    const mb = {
      targets,
      oldLogp: [-1.4, -0.3, -1.9],
      advantages: [0.8, -0.5, -1.3],
      returns: [1, 0.2, -0.4],
      oldValues: [0.1, 0.4, -0.2],
    };
    const cases: PolicyLossOptions[] = [
      { clipLow: 0.8, clipHigh: 1.2, wPg: 1, wVf: 1, wEn: 1, clipValue: 0 }, // WebShop's PPO
      { clipLow: 0.8, clipHigh: 1.2, wPg: 1, wVf: 0.5, wEn: 0.1, clipValue: 0.05 }, // TRL clip
      { clipLow: 1 / 1.1, clipHigh: 1.1, wPg: 1, wVf: 0, wEn: 0, clipValue: 0 }, // LOOP
    ];
    for (const o of cases) {
      const loss = new PolicyLossGpu(gpu, o);
      model.setInputs(batch, { backward: true });
      const b = gpu.batch("policy loss test");
      const { logp, values } = model.forward(b, { values: true });
      // Statistics at decision 4 of the buffer: minibatches of one phase share it.
      const g = loss.record(b, model, logp, o.wVf > 0 ? values : null, mb, 4);
      b.submit();
      const lp = await logp.read() as Float32Array;
      const v = await values!.read() as Float32Array;
      const ref = ppoLoss({ sizes: batch.sizes, logp: lp, ...mb, values: v }, o);
      const tol = { atol: 1e-6, rtol: 1e-4 };
      assertClose(await g.dLogp.read() as Float32Array, ref.dLogp, tol, "dLogp");
      if (o.wVf > 0) {
        assertClose(
          await g.dValues!.read() as Float32Array,
          ref.dValues!,
          tol,
          "dValues",
        );
      } else assert.equal(g.dValues, null);
      const stats = await loss.readStats(7);
      assertClose(stats.slice(32, 56), ref.stats, tol, "stats");
      loss.destroy();
    }
    model.destroy();
  },
);
