/**
 * The online RL trainers end to end on an easy constructed task (seconds): a tiny synthetic
 * catalog, four training goals and a 3-step limit, so that only search → click a product → buy
 * earns a reward and a random-init policy rarely does it. A short run of each trainer raises the
 * mean episode score of the sampling policy over its start (same goals, envs and sampling seed);
 * a run interrupted and resumed repeats an uninterrupted one exactly; LOOP updates no value-head
 * parameter and creates no second model.
 */

import assert from "node:assert/strict";
import seedrandom from "seedrandom";
import { loadAgent } from "../agent/checkpoint.ts";
import { AgentEncoder } from "../agent/encoder.ts";
import { ModelPolicy, scoreDecisions } from "../agent/policy.ts";
import { makeEnvs, rollout } from "../agent/rollout.ts";
import { goalIndicesForSplit } from "../env/mod.ts";
import type { Gpu } from "../kernels/device.ts";
import { gpuTest } from "../testing/gpu.ts";
import { ChoiceModel } from "../model/choice_model.ts";
import type { TrainContext } from "../train/common.ts";
import { prepareData, type TrainData } from "../train/data.ts";
import { isValueHead, LOOP_DEFAULTS, type LoopConfig, trainLoop } from "../train/loop.ts";
import { ModelOptimizer } from "../train/optimizer.ts";
import { createAgentModel, splitExamples } from "../train/pipeline.ts";
import {
  collectorStateOf,
  ilDraw,
  PPO_DEFAULTS,
  type PpoConfig,
  trainPpo,
  validatePpoConfig,
} from "../train/ppo.ts";
import type { RlEnvSetup } from "../train/rl_envs.ts";
import { Interrupt, RunLog, TimeBudget } from "../train/run.ts";

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
    .filter((r) => r.phase === phase && typeof r.step === "number" && !("eval/score" in r));
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

const PPO: PpoConfig = { ...PPO_DEFAULTS, steps: 6, epochs: 2, lr: 1e-2, checkpointEvery: 1 };

/** A LOOP run from the seeded random init (or `resume`), stopped after `stopAfter` iterations. */
async function loopRun(
  gpu: Gpu,
  data: TrainData,
  setup: RlEnvSetup,
  dir: string,
  cfg: LoopConfig,
  opts: { resume?: string; stopAfter?: number; keep?: boolean } = {},
) {
  return await rlRun(gpu, data, setup, dir, "loop", cfg, opts);
}

/** A run of either trainer (see {@linkcode loopRun}). */
async function rlRun(
  gpu: Gpu,
  data: TrainData,
  setup: RlEnvSetup,
  dir: string,
  which: "loop" | "ppo",
  cfg: LoopConfig | PpoConfig,
  opts: { resume?: string; stopAfter?: number; keep?: boolean } = {},
) {
  const made = await createAgentModel(gpu, "random", SHAPE, ENCODER, data.tokenizer.vocabSize, 0);
  const log = await RunLog.open(dir, { append: !!opts.resume, quiet: true });
  const ctx: TrainContext = {
    model: made.model,
    encoder: new AgentEncoder(data.tokenizer, ENCODER),
    tokenizer: data.tokenizer.identity,
    meta: { spec: made.spec, trainer: { name: which, config: cfg } },
    log,
    interrupt: new Interrupt(),
  };
  const opt = new ModelOptimizer(made.model, cfg, which === "loop" ? { frozen: isValueHead } : {});
  let start = 0, extra: Record<string, string> = {};
  if (opts.resume) {
    const ck = await loadAgent(opts.resume);
    made.model.loadWeights(ck.weights);
    opt.load(ck.optimizer!, opts.resume);
    start = ck.step;
    extra = ck.extra;
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
    const out = which === "loop"
      ? await trainLoop(ctx, cfg as LoopConfig, setup, opt, { start })
      : await trainPpo(ctx, cfg as PpoConfig, setup, opt, {
        start,
        resumed: collectorStateOf(extra),
      });
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

gpuTest(
  "train:ppo raises the sampled score on an easy task and trains the value head",
  async (gpu) => {
    const dir = await Deno.makeTempDir({ prefix: "webshop-rl-ppo-" });
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
      const run = await rlRun(gpu, data, setup, `${dir}/ppo`, "ppo", PPO, { keep: true });
      const after = await sampledScore(run.ctx.model, encoder, setup);
      assert.ok(after > before + 0.05, `sampled score ${before} -> ${after}`);
      const w1 = await run.ctx.model.readWeights();
      const v = "linear_3.2.weight";
      assert.ok(!w0.get(v)!.data.every((x, i) => x === w1.get(v)!.data[i]), "value head unchanged");
      run.ctx.model.destroy();
      const r = (await rows(`${dir}/ppo/metrics.jsonl`, "ppo"))[PPO.steps - 1];
      for (
        const k of [
          "objective/entropy",
          "objective/scores",
          "EpisodeScore",
          "policy/clipfrac_avg",
          "policy/approxkl_avg",
          "policy/entropy_avg",
          "loss/policy_avg",
          "loss/value_avg",
          "val/clipfrac_avg",
          "returns",
          "advantages",
          "grad_norm",
        ]
      ) assert.ok(Number.isFinite(r[k]), `${k}: ${r[k]}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest(
  "train:ppo --resume repeats an uninterrupted run exactly (envs replayed mid-episode)",
  async (gpu) => {
    const dir = await Deno.makeTempDir({ prefix: "webshop-rl-ppo-resume-" });
    try {
      const { data, setup } = await easyTask(dir);
      // A 5-step limit and 3-step rollouts: the checkpoint falls inside episodes.
      const s5 = { ...setup, envConfig: { ...setup.envConfig, stepLimit: 5 } };
      const cfg = { ...PPO, steps: 3, bptt: 3 };
      await rlRun(gpu, data, s5, `${dir}/full`, "ppo", cfg);
      const a = await rlRun(gpu, data, s5, `${dir}/cut`, "ppo", cfg, { stopAfter: 2 });
      assert.ok(a.out.interrupted);
      const saved = collectorStateOf((await loadAgent(`${dir}/cut/last.safetensors`)).extra)!;
      assert.ok(saved.slots.some((s) => s.actions.length > 0), "no env was mid-episode");
      await rlRun(gpu, data, s5, `${dir}/cut`, "ppo", cfg, {
        resume: `${dir}/cut/last.safetensors`,
      });
      const full = await rows(`${dir}/full/metrics.jsonl`, "ppo");
      const cut = await rows(`${dir}/cut/metrics.jsonl`, "ppo");
      assert.equal(cut.length, 3);
      for (let i = 0; i < 3; i++) {
        for (const k of ["loss", "returns", "policy/clipfrac_avg", "episodes"]) {
          assert.equal(cut[i][k], full[i][k], `rollout ${i + 1} ${k}`);
        }
      }
      // A time budget stops before the next iteration would overrun it (the first always runs);
      // the run still ends with its evaluation and final checkpoint.
      const b = await rlRun(gpu, data, s5, `${dir}/budget`, "ppo", { ...cfg, timeBudget: 1e-6 });
      assert.ok(b.out.budgetReached);
      assert.equal(b.out.steps, 1);
      assert.equal((await loadAgent(`${dir}/budget/final.safetensors`)).step, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest(
  "train:ppo's imitation term (w_il) alone raises the demonstrated actions' log-probs",
  async (gpu) => {
    const dir = await Deno.makeTempDir({ prefix: "webshop-rl-ppo-il-" });
    try {
      const { data, setup } = await easyTask(dir);
      const demos = splitExamples(data, "skip", 0).train.examples;
      assert.ok(demos.length >= 16, `${demos.length} demonstration decisions`);
      const withDemos = { ...setup, demos };
      const encoder = new AgentEncoder(data.tokenizer, ENCODER);
      const demoLogp = async (m: ChoiceModel) => {
        const { logps } = await scoreDecisions(m, encoder, demos);
        return logps.reduce((a, l, i) => a + l[demos[i].target], 0) / demos.length;
      };
      const made = await createAgentModel(
        gpu,
        "random",
        SHAPE,
        ENCODER,
        data.tokenizer.vocabSize,
        0,
      );
      const before = await demoLogp(made.model);
      const w0 = await made.model.readWeights();
      made.model.destroy();
      // Every RL term off: the imitation term is the whole gradient.
      const cfg = { ...PPO, steps: 3, wPg: 0, wTd: 0, wEn: 0, wIl: 1, ilBatch: 8 };
      const run = await rlRun(gpu, data, withDemos, `${dir}/il`, "ppo", cfg, { keep: true });
      const after = await demoLogp(run.ctx.model);
      run.ctx.model.destroy();
      assert.ok(after > before + 0.1, `demonstrated log-prob ${before} -> ${after}`);
      const r = await rows(`${dir}/il/metrics.jsonl`, "ppo");
      assert.ok(r.every((x) => Number.isFinite(x["loss/il"])), "loss/il logged");
      // With the imitation weight 0 as well, no term has a gradient: the weights stay put.
      const off = await rlRun(gpu, data, withDemos, `${dir}/off`, "ppo", { ...cfg, wIl: 0 }, {
        keep: true,
      });
      const w1 = await off.ctx.model.readWeights();
      off.ctx.model.destroy();
      const v = "linear_2.weight";
      assert.deepEqual(w1.get(v)!.data, w0.get(v)!.data);
      assert.ok(!(await rows(`${dir}/off/metrics.jsonl`, "ppo")).some((x) => "loss/il" in x));
      // The term needs demonstrations.
      await assert.rejects(
        rlRun(gpu, data, setup, `${dir}/none`, "ppo", cfg),
        /wIl 1 needs demonstrations/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("PPO's imitation draws are without replacement, seeded, and checked in the config", () => {
  const pool = Array.from({ length: 10 }, (_, i) => i);
  const a = ilDraw(pool, 6, seedrandom.alea("x"));
  assert.equal(new Set(a).size, 6);
  assert.deepEqual(ilDraw(pool, 6, seedrandom.alea("x")), a);
  assert.deepEqual([...ilDraw(pool, 20, seedrandom.alea("y"))].sort((x, y) => x - y), pool);
  assert.throws(() => validatePpoConfig({ ...PPO_DEFAULTS, wIl: -1 }), /wIl/);
  assert.throws(() => validatePpoConfig({ ...PPO_DEFAULTS, ilBatch: 0 }), /ilBatch/);
});

Deno.test("TimeBudget is exhausted once another lap as long as the longest would overrun it", () => {
  const b = new TimeBudget(1 / 60); // one second
  assert.equal(b.exhausted(), false);
  b.lap(0.5);
  assert.equal(b.exhausted(), false);
  b.lap(2);
  assert.equal(b.exhausted(), true);
  assert.equal(new TimeBudget(0).exhausted(), false);
  assert.throws(() => new TimeBudget(-1), /time budget/);
});
