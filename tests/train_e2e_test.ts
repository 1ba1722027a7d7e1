/**
 * The trainers end to end on a tiny synthetic catalog (seconds): data made and cached, imitation
 * learning, self-generated demonstrations in il_trajs form, DPO from the IL reference (step-0
 * loss ln 2, the chosen action's log-ratio rises), exact resume and a NaN that stops the run.
 */

import { gpuTest } from "../testing/gpu.ts";
import assert from "node:assert/strict";
import { loadAgent } from "../agent/checkpoint.ts";
import { AgentEncoder } from "../agent/encoder.ts";
import { OracleAgent, scoreDecisions } from "../agent/policy.ts";
import { makeEnvs, rollout } from "../agent/rollout.ts";
import { loadDemonstrations, replayDemonstration, writeDemonstrations } from "../env/demos.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import type { Gpu } from "../kernels/device.ts";
import { ChoiceModel } from "../model/choice_model.ts";
import type { TrainContext } from "../train/common.ts";
import { prepareData, type TrainData } from "../train/data.ts";
import {
  DPO_DEFAULTS,
  type DpoConfig,
  episodesOf,
  referenceLogps,
  trainDpo,
} from "../train/dpo.ts";
import { trajectoryToDemo } from "../train/generate.ts";
import { IL_DEFAULTS, trainIl } from "../train/il.ts";
import { ilExamples } from "../train/il_data.ts";
import { ModelOptimizer } from "../train/optimizer.ts";
import { createAgentModel, splitExamples } from "../train/pipeline.ts";
import { Interrupt, NonFiniteError, RunLog } from "../train/run.ts";

const SHAPE = { hiddenSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 64 };
const ENCODER = { stateLen: 384, actionLen: 32 };

async function tinyData(dir: string): Promise<TrainData> {
  return await prepareData({
    catalog: "synthetic",
    products: 120,
    catalogSeed: 0,
    demos: "expert",
    numDemos: 16,
    evalDemos: 4,
    tokenizer: "wordpiece",
    vocabSize: 400,
    rewardMode: "webshop",
    cacheDir: dir,
  }, () => {});
}

function context(model: ChoiceModel, data: TrainData, log: RunLog, spec: unknown): TrainContext {
  return {
    model,
    encoder: new AgentEncoder(data.tokenizer, ENCODER),
    tokenizer: data.tokenizer.identity,
    meta: spec as TrainContext["meta"],
    log,
    interrupt: new Interrupt(),
  };
}

async function metricRows(path: string, phase: string): Promise<Record<string, number>[]> {
  return (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l))
    .filter((r) => r.phase === phase && typeof r.loss === "number");
}

/** DPO from `refPath` for `steps` updates (from `start`, resuming `resume` when given). */
async function dpoRun(
  gpu: Gpu,
  data: TrainData,
  refPath: string,
  dir: string,
  cfg: DpoConfig,
  resume?: string,
) {
  const ref = await loadAgent(refPath);
  const model = ChoiceModel.create(gpu, ref.spec.model, ref.weights);
  const log = await RunLog.open(dir, { append: !!resume, quiet: true });
  const ctx = context(model, data, log, { spec: ref.spec, trainer: { name: "dpo", config: cfg } });
  const episodes = episodesOf(splitExamples(data, "skip", 0).train.examples);
  const refLogps = await referenceLogps(ctx, episodes, episodes.keys());
  const opt = new ModelOptimizer(ctx.model, cfg);
  let start = 0;
  if (resume) {
    const ck = await loadAgent(resume);
    model.loadWeights(ck.weights);
    opt.load(ck.optimizer!, resume);
    start = ck.step;
  }
  try {
    return {
      out: await trainDpo(ctx, cfg, episodes, refLogps, opt, { start }),
      ctx,
      episodes,
      refLogps,
    };
  } finally {
    log.close();
    opt.destroy();
  }
}

gpuTest("IL -> generate -> DPO end to end, with exact resume and a NaN stop", async (gpu) => {
  const dir = await Deno.makeTempDir({ prefix: "webshop-rl-e2e-" });
  try {
    const data = await tinyData(dir);
    // Made once, then found in the cache.
    assert.ok((await Deno.stat(data.demosPath)).isFile);
    assert.equal((await tinyData(dir)).demosPath, data.demosPath);

    // 1. Imitation learning: a few updates, a final checkpoint with the optimizer state.
    const made = await createAgentModel(gpu, "random", SHAPE, ENCODER, data.tokenizer.vocabSize, 0);
    const il = { ...IL_DEFAULTS, lr: 3e-3, microBatch: 4, gradAccum: 2, maxSteps: 3, logEvery: 1 };
    const ilLog = await RunLog.open(`${dir}/il`, { quiet: true });
    const ilCtx = context(made.model, data, ilLog, {
      spec: made.spec,
      trainer: { name: "il", config: il },
    });
    const ex = splitExamples(data, "skip", 0);
    const ilOpt = new ModelOptimizer(made.model, { ...il, schedule: "linear" });
    const ilOut = await trainIl(ilCtx, { ...il, evalExamples: 8 }, {
      train: ex.train.examples,
      eval: ex.eval.examples,
    }, ilOpt);
    ilLog.close();
    ilOpt.destroy();
    made.model.destroy();
    assert.equal(ilOut.steps, 3);
    assert.ok(Number.isFinite(ilOut.lastLoss));
    const refPath = `${dir}/il/final.safetensors`;
    const ck = await loadAgent(refPath, { tokenizer: data.tokenizer.identity });
    assert.equal(ck.step, 3);
    assert.equal(ck.optimizer?.step, 3);

    // 2. Generated demonstrations: reward-1 episodes written as il_trajs replay to reward 1.
    const envs = makeEnvs(3, { catalog: data.engine, goals: data.catalog.goals, stepLimit: 30 });
    const goals = goalIndicesForSplit(data.catalog.goals.length, "train").slice(20, 26);
    const trajs = (await rollout(envs, new OracleAgent(), goals)).filter((t) => t.reward === 1);
    assert.ok(trajs.length >= 3, `${trajs.length} oracle successes`);
    const gen = `${dir}/generated.jsonl`;
    await writeDemonstrations(gen, trajs.map((t) => trajectoryToDemo(t)));
    const { trajectories, issues } = await loadDemonstrations(gen);
    assert.equal(issues.length, 0);
    for (const d of trajectories) assert.equal(replayDemonstration(envs[0], d).reward, 1);
    const genEx = ilExamples(trajectories, {
      goals: data.catalog.goals,
      humanGoals: data.catalog.humanGoals,
    }, {
      searchSteps: "skip",
      seed: 0,
    });
    assert.equal(genEx.unmatched, 0);
    assert.ok(genEx.examples.length > 0);

    // 3. DPO from the reference: ln 2 at step 0, then the chosen log-ratio rises.
    const cfg: DpoConfig = { ...DPO_DEFAULTS, steps: 4, lr: 3e-3, logEvery: 1, checkpointEvery: 2 };
    const a = await dpoRun(gpu, data, refPath, `${dir}/dpo-a`, cfg);
    assert.ok(Math.abs(a.out.first!.loss - Math.LN2) < 1e-5, `${a.out.first!.loss}`);
    assert.ok(Math.abs(a.out.first!["rewards/margins"]) < 1e-5);
    const e0 = a.episodes.flatMap((e) => e.examples);
    const after = await scoreDecisions(a.ctx.model, a.ctx.encoder, e0);
    const ratio = e0.map((e, i) => after.logps[i][e.target] - a.refLogps.get(e)![e.target]);
    assert.ok(ratio.reduce((x, y) => x + y, 0) > 0, `chosen log-ratios ${ratio}`);
    a.ctx.model.destroy();

    // 4. Resume: 2 updates, stop, continue from last.safetensors: the same losses as 4 at once.
    const b1 = await dpoRun(gpu, data, refPath, `${dir}/dpo-b`, { ...cfg, steps: 4 }, undefined);
    b1.ctx.model.destroy();
    // A run interrupted after update 2 leaves last.safetensors; make one by stopping early.
    const c1 = await (async () => {
      const ref = await loadAgent(refPath);
      const model = ChoiceModel.create(gpu, ref.spec.model, ref.weights);
      const log = await RunLog.open(`${dir}/dpo-c`, { quiet: true });
      const ctx = context(model, data, log, {
        spec: ref.spec,
        trainer: { name: "dpo", config: cfg },
      });
      const episodes = episodesOf(ex.train.examples);
      const refLogps = await referenceLogps(ctx, episodes, episodes.keys());
      const opt = new ModelOptimizer(ctx.model, cfg);
      let calls = 0;
      const orig = log.metrics.bind(log);
      log.metrics = async (row) => {
        await orig(row);
        if (++calls === 2) ctx.interrupt.requested = true; // Ctrl-C after update 2
      };
      const out = await trainDpo(ctx, cfg, episodes, refLogps, opt);
      log.close();
      opt.destroy();
      model.destroy();
      return out;
    })();
    assert.ok(c1.interrupted);
    assert.equal(c1.steps, 2);
    const c2 = await dpoRun(
      gpu,
      data,
      refPath,
      `${dir}/dpo-c`,
      cfg,
      `${dir}/dpo-c/last.safetensors`,
    );
    c2.ctx.model.destroy();
    const full = (await metricRows(`${dir}/dpo-b/metrics.jsonl`, "dpo")).map((r) => r.loss);
    const resumed = (await metricRows(`${dir}/dpo-c/metrics.jsonl`, "dpo")).map((r) => r.loss);
    assert.equal(resumed.length, 4);
    resumed.forEach((l, i) =>
      assert.ok(Math.abs(l - full[i]) < 1e-6, `update ${i + 1}: ${l} vs ${full[i]}`)
    );

    // 5. A spent time budget ends the run as finished (final checkpoint), not as interrupted.
    const t = await dpoRun(gpu, data, refPath, `${dir}/dpo-budget`, { ...cfg, timeBudget: 1e-9 });
    t.ctx.model.destroy();
    assert.deepEqual([t.out.steps, t.out.budgetReached, t.out.interrupted], [0, true, false]);
    assert.equal((await loadAgent(`${dir}/dpo-budget/final.safetensors`)).step, 0);

    // 6. A NaN weight stops the run naming the step; the checkpoint written before is intact.
    const ref = await loadAgent(refPath);
    const bad = new Map(ref.weights);
    const name = "linear_2.weight";
    bad.set(name, {
      shape: ref.weights.get(name)!.shape,
      data: new Float32Array(ref.weights.get(name)!.data).fill(NaN),
    });
    const model = ChoiceModel.create(gpu, ref.spec.model, bad);
    const log = await RunLog.open(`${dir}/dpo-nan`, { quiet: true });
    const ctx = context(model, data, log, {
      spec: ref.spec,
      trainer: { name: "dpo", config: cfg },
    });
    const opt = new ModelOptimizer(ctx.model, cfg);
    await assert.rejects(
      () => trainDpo(ctx, cfg, a.episodes, a.refLogps, opt),
      (e: Error) => e instanceof NonFiniteError && /not finite at step 1/.test(e.message),
    );
    log.close();
    opt.destroy();
    model.destroy();
    await assert.rejects(() => Deno.stat(`${dir}/dpo-nan/last.safetensors`));
    assert.equal((await loadAgent(`${dir}/dpo-c/final.safetensors`)).step, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
