/**
 * Online RL from the IL reference, end to end, shared by `train:loop` and `train:ppo`: the data
 * and the reference of the main job (`train/pipeline.ts`: the same cached reference, trained
 * first when absent), one model initialised from it (or from the run's last.safetensors with
 * `resume`), the trainer, and a greedy and a sampled evaluation of the result on the test goals
 * with 95% intervals (and, on request, of the reference on the same goals, paired).
 *
 * @module
 */

import { type AgentCheckpoint, type AgentMeta, loadAgent } from "../agent/checkpoint.ts";
import { AgentEncoder } from "../agent/encoder.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { bootstrapMean, type Interval, pairedBootstrap } from "../eval/bootstrap.ts";
import type { EvalResult } from "../eval/greedy.ts";
import { goalIndicesForSplit } from "../env/mod.ts";
import type { Gpu } from "../kernels/device.ts";
import { ChoiceModel } from "../model/choice_model.ts";
import type { TrainContext } from "./common.ts";
import { prepareData } from "./data.ts";
import { ModelOptimizer, type OptimizerConfig } from "./optimizer.ts";
import {
  evalLine,
  evaluateModel,
  ilReference,
  type PipelineConfig,
  type SampledRow,
  sampledRow,
  splitExamples,
} from "./pipeline.ts";
import type { RlEnvSetup } from "./rl_envs.ts";
import { duration, Interrupt, RunLog } from "./run.ts";

/** The run's settings besides the trainer's own. */
export type RlRunConfig =
  & Pick<
    PipelineConfig,
    | "name"
    | "runsDir"
    | "data"
    | "model"
    | "encoder"
    | "init"
    | "reference"
    | "il"
    | "testGoals"
    | "evalGoals"
    | "envs"
    | "stepLimit"
    | "sampleSeeds"
    | "seed"
    | "resume"
  >
  & {
    /** Also evaluate the reference on the test goals (a paired comparison). */
    evalReference: boolean;
  };

/** What a trainer reports back. */
export interface RlTrainOutcome {
  steps: number;
  interrupted: boolean;
  budgetReached: boolean;
  checkpoint: string;
  seconds: number;
}

/** One trainer: its name, config (with the optimizer fields), frozen parameters, and loop. */
export interface RlTrainer {
  name: string;
  config: OptimizerConfig & { steps: number; timeBudget: number };
  frozen?: (name: string) => boolean;
  train(
    ctx: TrainContext,
    setup: RlEnvSetup,
    opt: ModelOptimizer,
    /** The checkpoint resumed from (its step and extra metadata), or null. */
    resumed: AgentCheckpoint | null,
  ): Promise<RlTrainOutcome>;
}

/** A test-set row. */
export interface RlRow {
  agent: string;
  checkpoint: string;
  updates: number;
  score: Interval;
  success: Interval;
  dScore?: Interval;
  dSuccess?: Interval;
  trainSeconds: number;
  evalSeconds: number;
  /** The sampled evaluation (absent when `sampleSeeds` is 0). */
  sampled?: SampledRow;
}

/** What the run measured. */
export interface RlResult {
  rows: RlRow[];
  testGoals: number;
  runDir: string;
  budgetReached: boolean;
}

/** Data → reference → trainer → greedy test evaluation; writes everything under runs/<name>/. */
export async function runRl(gpu: Gpu, cfg: RlRunConfig, trainer: RlTrainer): Promise<RlResult> {
  const interrupt = new Interrupt().listen();
  const runDir = `${cfg.runsDir}/${cfg.name}`;
  const data = await prepareData(cfg.data);
  const nGoals = data.catalog.goals.length;
  const envConfig = {
    catalog: data.engine,
    goals: data.catalog.goals,
    rewardMode: cfg.data.rewardMode,
    goalQueryMap: data.catalog.goalQueryMap,
    stepLimit: cfg.stepLimit,
  };
  const trainGoals = goalIndicesForSplit(nGoals, "train");
  const envs = makeEnvs(cfg.envs, envConfig);
  const evalGoals = goalIndicesForSplit(nGoals, "eval").slice(0, cfg.evalGoals);
  const testAll = goalIndicesForSplit(nGoals, "test");
  const testGoals = cfg.testGoals > 0 ? testAll.slice(0, cfg.testGoals) : testAll;
  console.log(
    `data: ${data.catalog.products.length} products, ${nGoals} goals (${trainGoals.length} ` +
      `training goals); reward mode ${cfg.data.rewardMode}; episodes end after ${cfg.stepLimit} steps`,
  );

  let resumeFrom: AgentCheckpoint | null = null;
  let refPath = cfg.reference;
  if (cfg.resume) {
    resumeFrom = await loadAgent(`${runDir}/last.safetensors`, {
      tokenizer: data.tokenizer.identity,
    });
    const saved = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
    if (JSON.stringify(saved.trainer?.config) !== JSON.stringify(trainer.config)) {
      throw new Error(
        `--resume ${runDir}: the ${trainer.name} flags differ from the run's config.json ` +
          `(saved ${JSON.stringify(saved.trainer?.config)})`,
      );
    }
    refPath = saved.reference;
    console.log(
      `resume: ${runDir}/last.safetensors at ${trainer.name} iteration ${resumeFrom.step}`,
    );
  }
  const ex = splitExamples(data, cfg.il.searchSteps, cfg.il.seed);
  const setup: RlEnvSetup = {
    envConfig,
    trainGoals,
    demos: ex.train.examples,
  };
  const tRef = performance.now();
  const ref = await ilReference(
    gpu,
    { ...cfg, reference: refPath },
    data,
    ex,
    { envs, goals: evalGoals },
    interrupt,
  );
  const refSeconds = (performance.now() - tRef) / 1000;
  const refCk = await loadAgent(ref.path, { tokenizer: data.tokenizer.identity });

  const enc = new AgentEncoder(data.tokenizer, refCk.spec.encoder);
  const model = ChoiceModel.create(gpu, refCk.spec.model, resumeFrom?.weights ?? refCk.weights);
  const log = await RunLog.open(runDir, { append: !!resumeFrom });
  const meta: AgentMeta = {
    spec: refCk.spec,
    trainer: { name: trainer.name, config: trainer.config },
  };
  if (!resumeFrom) await log.writeConfig({ ...meta, reference: ref.path, data: cfg.data });
  const ctx: TrainContext = {
    model,
    encoder: enc,
    tokenizer: data.tokenizer.identity,
    meta,
    log,
    interrupt,
    evalSet: { envs, goals: evalGoals },
  };
  const opt = new ModelOptimizer(model, trainer.config, { frozen: trainer.frozen });
  if (resumeFrom) {
    if (!resumeFrom.optimizer) throw new Error(`${resumeFrom.path}: no optimizer state to resume`);
    opt.load(resumeFrom.optimizer, resumeFrom.path);
  }
  const budget = trainer.config.timeBudget > 0
    ? `, time budget ${trainer.config.timeBudget} min`
    : "";
  console.log(
    `${trainer.name}: from ${ref.path}, up to ${trainer.config.steps} iterations${budget}`,
  );
  // Kernels compile before the clock starts (seconds on a CPU rasteriser, once per process).
  await model.warmup(enc.batch(ex.train.examples.slice(0, 4)));
  const out = await trainer.train(ctx, setup, opt, resumeFrom);
  log.close();
  opt.destroy();
  console.log(
    `${trainer.name}: ${out.steps} iterations in ${duration(out.seconds)}` +
      (out.budgetReached ? " (stopped by the time budget)" : ""),
  );
  if (out.interrupted) {
    model.destroy();
    interrupt.close();
    throw new Error(`interrupted during ${trainer.name}; checkpoint ${out.checkpoint}`);
  }

  const results: [string, string, number, number, EvalResult][] = [];
  const sampled: EvalResult[][] = [];
  const evalModel = async (m: ChoiceModel, name: string) => {
    const t0 = performance.now();
    const r = await evaluateModel(m, enc, envs, testGoals, name, {
      seeds: cfg.sampleSeeds,
      envConfig,
    });
    console.log(`${evalLine(name, r)} (${duration((performance.now() - t0) / 1000)})`);
    sampled.push(r.sampled);
    return r.greedy;
  };
  if (cfg.evalReference) {
    const m = ChoiceModel.create(gpu, refCk.spec.model, refCk.weights);
    results.push([
      "IL reference",
      ref.path,
      refCk.step,
      refSeconds,
      await evalModel(m, "IL reference"),
    ]);
    m.destroy();
  }
  const label = trainer.name.toUpperCase();
  results.push([label, out.checkpoint, out.steps, out.seconds, await evalModel(model, label)]);
  model.destroy();
  const succ = (r: EvalResult) => r.rewards.map((x) => (x === 1 ? 1 : 0));
  const pct = (r: EvalResult) => r.rewards.map((x) => 100 * x);
  const base = cfg.evalReference ? results[0][4] : null;
  const rows: RlRow[] = results.map(([agent, checkpoint, updates, trainSeconds, r], i) => ({
    agent,
    checkpoint,
    updates,
    score: bootstrapMean(pct(r), { seed: 1 }),
    success: bootstrapMean(succ(r), { seed: 2 }),
    dScore: base && i > 0 ? pairedBootstrap(pct(r), pct(base), { seed: 3 }) : undefined,
    dSuccess: base && i > 0 ? pairedBootstrap(succ(r), succ(base), { seed: 4 }) : undefined,
    trainSeconds,
    evalSeconds: r.seconds,
    sampled: cfg.sampleSeeds > 0
      ? sampledRow(sampled[i], cfg.evalReference && i > 0 ? sampled[0] : null)
      : undefined,
  }));
  const result: RlResult = {
    rows,
    testGoals: testGoals.length,
    runDir,
    budgetReached: out.budgetReached,
  };
  await Deno.writeTextFile(`${runDir}/summary.json`, JSON.stringify(result, null, 2) + "\n");
  for (const r of rows) {
    const iv = (x: Interval, s = 1) =>
      `${(s * x.value).toFixed(1)} [${(s * x.lo).toFixed(1)}, ${(s * x.hi).toFixed(1)}]`;
    console.log(
      `${r.agent}: score ${iv(r.score)}, success % ${iv(r.success, 100)}` +
        (r.dScore ? `, Δ score vs IL ${iv(r.dScore)}, Δ success ${iv(r.dSuccess!, 100)}` : ""),
    );
    const s = r.sampled;
    if (s) {
      console.log(
        `${r.agent}, sampled (${cfg.sampleSeeds} seeds): score ${iv(s.score)}, success % ${
          iv(s.success, 100)
        }` +
          (s.dScore ? `, Δ score vs IL ${iv(s.dScore)}, Δ success ${iv(s.dSuccess!, 100)}` : ""),
      );
    }
  }
  interrupt.close();
  return result;
}
