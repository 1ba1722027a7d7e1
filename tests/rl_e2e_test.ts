/**
 * The online RL trainers end to end on an easy constructed task (seconds): a tiny synthetic
 * catalog, four training goals and a 3-step limit, so that only search → click a product → buy
 * earns a reward and a random-init policy rarely does it. A short run of each trainer raises the
 * mean episode score of the sampling policy over its start (same goals, envs and sampling seed);
 * a run interrupted and resumed repeats an uninterrupted one exactly; LOOP updates no value-head
 * parameter and creates no second model.
 */

import assert from "node:assert/strict";
import { loadAgent } from "../agent/checkpoint.ts";
import { AgentEncoder } from "../agent/encoder.ts";
import { ModelPolicy } from "../agent/policy.ts";
import { makeEnvs, rollout } from "../agent/rollout.ts";
import { goalIndicesForSplit } from "../env/mod.ts";
import type { Gpu } from "../kernels/device.ts";
import { gpuTest } from "../kernels/_testing.ts";
import { ChoiceModel } from "../model/choice_model.ts";
import type { TrainContext } from "../train/common.ts";
import { prepareData, type TrainData } from "../train/data.ts";
import { isValueHead, LOOP_DEFAULTS, type LoopConfig, trainLoop } from "../train/loop.ts";
import { ModelOptimizer } from "../train/optimizer.ts";
import { createAgentModel } from "../train/pipeline.ts";
import type { RlEnvSetup } from "../train/rl_envs.ts";
import { Interrupt, RunLog } from "../train/run.ts";

const SHAPE = { hiddenSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 64 };
const ENCODER = { stateLen: 96, actionLen: 16 };

async function easyTask(dir: string): Promise<{ data: TrainData; setup: RlEnvSetup }> {
  const data = await prepareData({
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
  const trainGoals = goalIndicesForSplit(data.catalog.goals.length, "train").slice(0, 4);
  return {
    data,
    setup: {
      envConfig: { catalog: data.engine, goals: data.catalog.goals, stepLimit: 3 },
      trainGoals,
    },
  };
}

/** Mean reward of the sampling policy over 16 episodes of each training goal (fixed seeds). */
async function sampledScore(model: ChoiceModel, encoder: AgentEncoder, setup: RlEnvSetup) {
  const envs = makeEnvs(16, { ...setup.envConfig, seed: 99 });
  const policy = new ModelPolicy(model, encoder, { mode: "sample", seed: 5 });
  const t = await rollout(envs, policy, setup.trainGoals.flatMap((g) => Array(16).fill(g)));
  return t.reduce((a, x) => a + x.reward, 0) / t.length;
}

async function rows(path: string, phase: string): Promise<Record<string, number>[]> {
  return (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l))
    .filter((r) => r.phase === phase && typeof r.reward === "number");
}

const LOOP: LoopConfig = {
  ...LOOP_DEFAULTS,
  steps: 8,
  goalsPerIteration: 4,
  rolloutsPerGoal: 4,
  lr: 1e-2,
  minibatch: 16,
  envs: 16,
  checkpointEvery: 1,
};

/** A LOOP run from the seeded random init (or `resume`), stopped after `stopAfter` iterations. */
async function loopRun(
  gpu: Gpu,
  data: TrainData,
  setup: RlEnvSetup,
  dir: string,
  cfg: LoopConfig,
  opts: { resume?: string; stopAfter?: number; keep?: boolean } = {},
) {
  const made = await createAgentModel(gpu, "random", SHAPE, ENCODER, data.tokenizer.vocabSize, 0);
  const log = await RunLog.open(dir, { append: !!opts.resume, quiet: true });
  const ctx: TrainContext = {
    model: made.model,
    encoder: new AgentEncoder(data.tokenizer, ENCODER),
    tokenizer: data.tokenizer.identity,
    meta: { spec: made.spec, trainer: { name: "loop", config: cfg } },
    log,
    interrupt: new Interrupt(),
  };
  const opt = new ModelOptimizer(made.model, cfg, { frozen: isValueHead });
  let start = 0;
  if (opts.resume) {
    const ck = await loadAgent(opts.resume);
    made.model.loadWeights(ck.weights);
    opt.load(ck.optimizer!, opts.resume);
    start = ck.step;
  }
  if (opts.stopAfter) {
    let n = 0;
    const orig = log.metrics.bind(log);
    log.metrics = async (row) => {
      await orig(row);
      if (++n === opts.stopAfter) ctx.interrupt.requested = true; // Ctrl-C after that iteration
    };
  }
  try {
    const out = await trainLoop(ctx, cfg, setup, opt, { start });
    return { out, ctx };
  } finally {
    log.close();
    opt.destroy();
    if (!opts.keep) made.model.destroy();
  }
}

gpuTest(
  "train:loop raises the sampled score on an easy task, touches no value head, one model",
  async (gpu) => {
    const dir = await Deno.makeTempDir({ prefix: "webshop-rl-loop-" });
    try {
      const { data, setup } = await easyTask(dir);
      const made = await createAgentModel(
        gpu,
        "random",
        SHAPE,
        ENCODER,
        data.tokenizer.vocabSize,
        0,
      );
      const encoder = new AgentEncoder(data.tokenizer, ENCODER);
      const before = await sampledScore(made.model, encoder, setup);
      const w0 = await made.model.readWeights();
      made.model.destroy();

      let created = 0;
      const create = ChoiceModel.create;
      ChoiceModel.create = (...args: Parameters<typeof create>) => (created++, create(...args));
      let run;
      try {
        run = await loopRun(gpu, data, setup, `${dir}/loop`, LOOP, { keep: true });
      } finally {
        ChoiceModel.create = create;
      }
      assert.equal(created, 1, "the run's own model only: no reference or value copy");
      const after = await sampledScore(run.ctx.model, encoder, setup);
      assert.ok(after > before + 0.1, `sampled score ${before} -> ${after}`);
      const w1 = await run.ctx.model.readWeights();
      for (const [name, t] of w0) {
        const same = t.data.every((x, i) => x === w1.get(name)!.data[i]);
        if (isValueHead(name)) assert.ok(same, `${name} changed`);
      }
      assert.ok(
        !w0.get("linear_2.weight")!.data.every((x, i) => x === w1.get("linear_2.weight")!.data[i]),
      );
      run.ctx.model.destroy();
      // The metrics rows carry LOOP's and TRL's names.
      const r = (await rows(`${dir}/loop/metrics.jsonl`, "loop"))[1];
      for (
        const k of [
          "reward",
          "reward_std",
          "frac_reward_zero_std",
          "policy/clipfrac_avg",
          "policy/approxkl_avg",
          "objective/entropy",
          "rollouts/dropped_frac",
        ]
      ) assert.ok(Number.isFinite(r[k]), `${k}: ${r[k]}`);
      assert.equal((await loadAgent(`${dir}/loop/final.safetensors`)).step, LOOP.steps);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest("train:loop --resume repeats an uninterrupted run exactly", async (gpu) => {
  const dir = await Deno.makeTempDir({ prefix: "webshop-rl-loop-resume-" });
  try {
    const { data, setup } = await easyTask(dir);
    const cfg = { ...LOOP, steps: 3 };
    await loopRun(gpu, data, setup, `${dir}/full`, cfg);
    const a = await loopRun(gpu, data, setup, `${dir}/cut`, cfg, { stopAfter: 2 });
    assert.ok(a.out.interrupted);
    assert.equal(a.out.steps, 2);
    await loopRun(gpu, data, setup, `${dir}/cut`, cfg, { resume: `${dir}/cut/last.safetensors` });
    const full = await rows(`${dir}/full/metrics.jsonl`, "loop");
    const cut = await rows(`${dir}/cut/metrics.jsonl`, "loop");
    assert.equal(cut.length, 3);
    for (let i = 0; i < 3; i++) {
      for (const k of ["reward", "loss", "policy/clipfrac_avg", "rollouts/decisions"]) {
        assert.equal(cut[i][k], full[i][k], `iteration ${i + 1} ${k}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
