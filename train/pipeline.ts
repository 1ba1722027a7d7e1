/**
 * The paper's method end to end (Feng 2024): an imitation-learned reference, DPO on the
 * demonstrations against it, the honest control (the reference trained further with imitation
 * for as many updates as DPO, on the same episodes, at DPO's learning rate), and an evaluation of
 * all three on the test goals, greedy and sampled over seeds (WebShop's test.py samples), with
 * 95% intervals (a percentile bootstrap over goals; the differences are paired, goal by goal).
 * `deno task train:dpo` runs this; each phase is also a function of its own, so `train:il` and
 * `generate` share it.
 *
 * @module
 */

import { writeAtomically } from "../base/atomic.ts";
import { createHash } from "node:crypto";
import {
  type AgentMeta,
  type AgentSpec,
  loadAgent,
  weightsFromHfBert,
} from "../agent/checkpoint.ts";
import { AgentEncoder, type EncoderConfig } from "../agent/encoder.ts";
import { actionCacheFor, ModelPolicy } from "../agent/policy.ts";
import { makeEnvs } from "../agent/rollout.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";
import { goalIndicesForSplit, splitGoals } from "../env/goals.ts";
import type { Gpu } from "../kernels/device.ts";
import { bootstrapMean, type Interval, pairedBootstrap } from "../eval/bootstrap.ts";
import { type EvalResult, evaluate } from "../eval/greedy.ts";
import { meanStd } from "../eval/spread.ts";
import { choiceConfig, ChoiceModel } from "../model/choice_model.ts";
import { BERT_PRESETS, type BertConfig } from "../model/config.ts";
import type { TrainContext } from "./common.ts";
import { type DataConfig, prepareData, type TrainData } from "./data.ts";
import {
  type DpoConfig,
  dpoEpisodeIndices,
  episodesOf,
  referenceLogps,
  trainDpo,
  validateDpoConfig,
} from "./dpo.ts";
import { ilExamples, type IlExampleSet } from "./il_data.ts";
import { type IlConfig, ilTotalSteps, trainIl, validateIlConfig } from "./il.ts";
import { ModelOptimizer } from "./optimizer.ts";
import { duration, Interrupt, RunLog } from "./run.ts";

/** The model's encoder shape; the vocabulary comes from the tokenizer. */
export type ModelShape = Pick<
  BertConfig,
  "hiddenSize" | "numHiddenLayers" | "numAttentionHeads" | "intermediateSize"
>;

/** Everything the main job needs. */
export interface PipelineConfig {
  /** Run folder name under `runsDir`. */
  name: string;
  runsDir: string;
  data: DataConfig;
  /** Encoder shape (ignored when `init` is a Hugging Face folder or a checkpoint). */
  model: ModelShape;
  encoder: EncoderConfig;
  /** "random", a Hugging Face BERT folder, or an agent checkpoint to start IL from. */
  init: string;
  /** An IL reference checkpoint for DPO; "" trains one (cached under runs/cache). */
  reference: string;
  il: IlConfig;
  dpo: DpoConfig;
  /** Also train and evaluate the IL control (true). */
  control: boolean;
  /** Imitation learning rate of the control (its schedule is constant). */
  controlLr: number;
  /** Test goals evaluated, the first ones of the split; 0 for all. */
  testGoals: number;
  /** Eval-split goals of the periodic greedy evaluation during training; 0 for none. */
  evalGoals: number;
  /** Envs played at once in evaluation (one model submit per step for all of them). */
  envs: number;
  /** Steps after which an evaluation episode ends with reward 0 (WebShop: 100). */
  stepLimit: number;
  /**
   * Seeds of the sampled test evaluation, 0 for none: each agent samples its actions (softmax,
   * temperature 1, as WebShop's test.py does by default) on every test goal once per seed.
   */
  sampleSeeds: number;
  /** Seed of the model init. */
  seed: number;
  /** Continue the DPO run of `runs/<name>` from its last.safetensors (same flags). */
  resume: boolean;
}

/** A model shape by preset name (`tiny`, `mini`, `small`, `base`), or `micro` / `nano` (2 / 1 layers of 64 channels). */
export function modelShape(name: string): ModelShape {
  if (name === "micro") {
    return { hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 256 };
  }
  if (name === "nano") {
    return { hiddenSize: 64, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 256 };
  }
  const p = (BERT_PRESETS as Record<string, BertConfig>)[name];
  if (!p) {
    throw new RangeError(`unknown model preset "${name}" (nano, micro, tiny, mini, small, base)`);
  }
  return {
    hiddenSize: p.hiddenSize,
    numHiddenLayers: p.numHiddenLayers,
    numAttentionHeads: p.numAttentionHeads,
    intermediateSize: p.intermediateSize,
  };
}

/** A fresh, Hugging Face or checkpoint model and the spec it has. */
export async function createAgentModel(
  gpu: Gpu,
  init: string,
  shape: ModelShape,
  encoder: EncoderConfig,
  vocabSize: number,
  seed: number,
  tokenizerIdentity?: string,
): Promise<{ model: ChoiceModel; spec: AgentSpec; from: string }> {
  if (init === "random") {
    const bert: BertConfig = {
      ...BERT_PRESETS.tiny,
      ...shape,
      vocabSize,
      maxPositionEmbeddings: Math.max(512, encoder.stateLen, encoder.actionLen),
    };
    const config = choiceConfig(bert);
    return {
      model: ChoiceModel.create(gpu, config, undefined, { seed }),
      spec: { model: config, encoder },
      from: "random init",
    };
  }
  let isDir = false;
  try {
    isDir = (await Deno.stat(init)).isDirectory;
  } catch (e) {
    throw new Error(`--init ${init}: cannot read (${(e as Error).message})`);
  }
  if (isDir) {
    const { config, weights } = await weightsFromHfBert(init, vocabSize, { seed });
    return {
      model: ChoiceModel.create(gpu, config, weights),
      spec: { model: config, encoder },
      from: `Hugging Face BERT ${init}`,
    };
  }
  const ck = await loadAgent(init, { tokenizer: tokenizerIdentity });
  return {
    model: ChoiceModel.create(gpu, ck.spec.model, ck.weights),
    spec: ck.spec,
    from: `checkpoint ${init} (step ${ck.step})`,
  };
}

/** Train / eval / test imitation examples of the data. */
export function splitExamples(
  data: TrainData,
  searchSteps: "skip" | "choose",
  seed: number,
): { train: IlExampleSet; eval: IlExampleSet } {
  const n = data.catalog.goals.length;
  const goals = {
    goals: data.catalog.goals,
    humanGoals: data.catalog.humanGoals,
    goalQueryMap: data.catalog.goalQueryMap,
  };
  return {
    train: ilExamples(data.demos, goals, { searchSteps, seed, goalRange: splitGoals(n).train }),
    eval: ilExamples(data.demos, goals, { searchSteps, seed, goalRange: splitGoals(n).eval }),
  };
}

function hashOf(v: unknown): string {
  return createHash("sha256").update(JSON.stringify(v)).digest("hex").slice(0, 12);
}

/** One row of the final table. */
export interface AgentRow {
  agent: string;
  checkpoint: string;
  updates: number;
  score: Interval;
  success: Interval;
  /** Paired differences with the reference (absent for the reference). */
  dScore?: Interval;
  dSuccess?: Interval;
  trainSeconds: number;
  evalSeconds: number;
  /** The sampled evaluation (absent when `sampleSeeds` is 0). */
  sampled?: SampledRow;
}

/**
 * An agent's sampled evaluation: intervals over goals of each goal's outcome averaged over the
 * seeds (paired goal by goal with the reference), and each seed's own mean (the spread).
 */
export interface SampledRow {
  score: Interval;
  success: Interval;
  dScore?: Interval;
  dSuccess?: Interval;
  seedScores: number[];
  seedSuccess: number[];
  seconds: number;
}

/** What the main job measured. */
export interface PipelineResult {
  rows: AgentRow[];
  phases: Record<string, number>;
  testGoals: number;
  /** Seeds of the sampled evaluation (0: none). */
  sampleSeeds: number;
  runDir: string;
}

/**
 * Evaluates a checkpoint on `goals`: greedily on `envs`, then, for each of `sampleSeeds` seeds,
 * sampling with that seed on envs seeded with it (the same for every agent, so outcomes pair).
 */
async function evalCheckpoint(
  gpu: Gpu,
  path: string,
  data: TrainData,
  envs: WebShopEnv[],
  goals: number[],
  name: string,
  sampled: { seeds: number; envConfig: Parameters<typeof makeEnvs>[1] },
): Promise<{ greedy: EvalResult; sampled: EvalResult[] }> {
  const ck = await loadAgent(path, { tokenizer: data.tokenizer.identity });
  const model = ChoiceModel.create(gpu, ck.spec.model, ck.weights);
  try {
    const enc = new AgentEncoder(data.tokenizer, ck.spec.encoder);
    return await evaluateModel(model, enc, envs, goals, name, sampled);
  } finally {
    model.destroy();
  }
}

/** {@linkcode evalCheckpoint} for a model on the device (left there). */
export async function evaluateModel(
  model: ChoiceModel,
  enc: AgentEncoder,
  envs: WebShopEnv[],
  goals: number[],
  name: string,
  sampled: { seeds: number; envConfig: Parameters<typeof makeEnvs>[1] },
): Promise<{ greedy: EvalResult; sampled: EvalResult[] }> {
  const actionCache = actionCacheFor(model, enc);
  try {
    const policy = new ModelPolicy(model, enc, { mode: "greedy", name, actionCache });
    const greedy = await evaluate(envs, policy, goals);
    const out: EvalResult[] = [];
    for (let seed = 0; seed < sampled.seeds; seed++) {
      const p = new ModelPolicy(model, enc, { mode: "sample", seed, name, actionCache });
      const seeded = makeEnvs(envs.length, { ...sampled.envConfig, seed });
      out.push(await evaluate(seeded, p, goals));
    }
    return { greedy, sampled: out };
  } finally {
    actionCache.destroy();
  }
}

/** One line of an agent's evaluation: greedy, and the sampled seeds' means where there are any. */
export function evalLine(name: string, r: { greedy: EvalResult; sampled: EvalResult[] }): string {
  const smp = r.sampled.length
    ? `; sampled (${r.sampled.length} seeds): score ${
      mean(r.sampled.map((x) => x.score)).toFixed(1)
    }, success ${(100 * mean(r.sampled.map((x) => x.successRate))).toFixed(1)}%`
    : "";
  return `eval: ${name} on ${r.greedy.episodes} test goals: greedy score ${
    r.greedy.score.toFixed(1)
  }, success ${(100 * r.greedy.successRate).toFixed(1)}%${smp}`;
}

/** Each goal's outcome `f` averaged over the seeds' results (all over the same goals, in order). */
function perGoalMean(rs: readonly EvalResult[], f: (reward: number) => number): number[] {
  const order = rs[0].goals.join();
  if (rs.some((r) => r.goals.join() !== order)) {
    throw new Error("sampled evaluation: the seeds played different goals");
  }
  return rs[0].rewards.map((_, g) => rs.reduce((a, r) => a + f(r.rewards[g]), 0) / rs.length);
}

/** Settings {@linkcode ilReference} reads: the run's data, model, IL and seed. */
export type ReferenceConfig = Pick<
  PipelineConfig,
  "data" | "model" | "encoder" | "init" | "il" | "seed" | "reference"
>;

/**
 * The IL reference checkpoint: `cfg.reference` when given; otherwise the one cached under
 * `runs/cache/il-reference-<hash of the settings>/`, trained there first when absent. Returns
 * its path and the IL updates trained here (0 when it was given or cached).
 */
export async function ilReference(
  gpu: Gpu,
  cfg: ReferenceConfig,
  data: TrainData,
  ex: { train: IlExampleSet; eval: IlExampleSet },
  evalSet: { envs: WebShopEnv[]; goals: number[] },
  interrupt: Interrupt,
): Promise<{ path: string; updates: number }> {
  if (cfg.reference) return { path: cfg.reference, updates: 0 };
  const key = hashOf({
    data: { ...cfg.data, cacheDir: undefined },
    // The demonstrations themselves: a file edited in place, or recorded by another expert.
    demos: hashOf(data.demos),
    model: cfg.model,
    encoder: cfg.encoder,
    init: cfg.init,
    il: cfg.il,
    seed: cfg.seed,
    tok: data.tokenizer.identity,
  });
  const dir = `${cfg.data.cacheDir}/il-reference-${key}`;
  const refPath = `${dir}/final.safetensors`;
  let cached = false;
  try {
    cached = (await Deno.stat(refPath)).isFile;
  } catch { /* train it */ }
  if (cached) {
    console.log(`il: using the cached reference ${refPath}`);
    return { path: refPath, updates: 0 };
  }
  const made = await createAgentModel(
    gpu,
    cfg.init,
    cfg.model,
    cfg.encoder,
    data.tokenizer.vocabSize,
    cfg.seed,
    data.tokenizer.identity,
  );
  const enc = new AgentEncoder(data.tokenizer, made.spec.encoder);
  const log = await RunLog.open(dir);
  const meta: AgentMeta = { spec: made.spec, trainer: { name: "il", config: cfg.il } };
  await log.writeConfig({ ...meta, data: cfg.data, init: cfg.init });
  const total = ilTotalSteps(cfg.il, ex.train.examples.length);
  console.log(
    `il: training the reference from ${made.from}: ${total} updates of ${
      cfg.il.microBatch * cfg.il.gradAccum
    } decisions`,
  );
  await made.model.warmup(enc.batch(ex.train.examples.slice(0, cfg.il.microBatch)));
  const ctx: TrainContext = {
    model: made.model,
    encoder: enc,
    tokenizer: data.tokenizer.identity,
    meta,
    log,
    interrupt,
    evalSet,
  };
  const opt = new ModelOptimizer(made.model, cfg.il);
  const out = await trainIl(
    ctx,
    cfg.il,
    { train: ex.train.examples, eval: ex.eval.examples },
    opt,
  );
  log.close();
  opt.destroy();
  made.model.destroy();
  if (out.interrupted) {
    throw new Error(
      `interrupted during IL; checkpoint ${out.checkpoint} (rerun to continue from scratch)`,
    );
  }
  return { path: refPath, updates: out.steps };
}

/**
 * The main job: data → IL reference (cached) → DPO → IL control → test evaluation (greedy and
 * sampled).
 * Prints progress and the table; writes everything under `runs/<name>/`.
 */
export async function runPipeline(
  gpu: Gpu,
  config: PipelineConfig,
): Promise<PipelineResult> {
  let cfg = config;
  validateIlConfig(cfg.il);
  validateDpoConfig(cfg.dpo);
  const interrupt = new Interrupt().listen();
  const phases: Record<string, number> = {};
  const runDir = `${cfg.runsDir}/${cfg.name}`;
  const t0 = performance.now();
  const data = await prepareData(cfg.data);
  phases.data = (performance.now() - t0) / 1000;
  const nGoals = data.catalog.goals.length;
  const bounds = splitGoals(nGoals);
  const splits = { train: bounds.train, eval: bounds.eval, test: bounds.test };
  console.log(
    `data: ${data.catalog.products.length} products, ${nGoals} goals (test ${
      splits.test[1] - splits.test[0]
    }, ` +
      `eval ${splits.eval[1] - splits.eval[0]}, train ${splits.train[1] - splits.train[0]}), ` +
      `${data.demos.length} demonstrations, tokenizer ${data.tokenizer.vocabSize} ids; ` +
      `reward mode ${cfg.data.rewardMode} (${phases.data.toFixed(1)} s)`,
  );
  const ex = splitExamples(data, cfg.il.searchSteps, cfg.il.seed);
  console.log(
    `data: ${ex.train.examples.length} training decisions from ${ex.train.demos} demonstrations ` +
      `(${ex.train.searchSkipped} search steps skipped, ${ex.train.reduced} lists cut to 16-17, ` +
      `${ex.train.unmatched} demonstrations matched no goal); ${ex.eval.examples.length} eval decisions`,
  );
  const envConfig = {
    catalog: data.engine,
    goals: data.catalog.goals,
    rewardMode: cfg.data.rewardMode,
    goalQueryMap: data.catalog.goalQueryMap,
    stepLimit: cfg.stepLimit,
  };
  const envs = makeEnvs(cfg.envs, envConfig);
  const evalGoals = goalIndicesForSplit(nGoals, "eval").slice(0, cfg.evalGoals);
  const testAll = goalIndicesForSplit(nGoals, "test");
  const testGoals = cfg.testGoals > 0 ? testAll.slice(0, cfg.testGoals) : testAll;

  // A resumed run continues its own DPO phase against the reference it recorded.
  let resumeFrom: Awaited<ReturnType<typeof loadAgent>> | null = null;
  if (cfg.resume) {
    resumeFrom = await loadAgent(`${runDir}/last.safetensors`, {
      tokenizer: data.tokenizer.identity,
    });
    const saved = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
    if (JSON.stringify(saved.trainer?.config) !== JSON.stringify(cfg.dpo)) {
      throw new Error(
        `--resume ${runDir}: the DPO flags differ from the run's config.json ` +
          `(saved ${JSON.stringify(saved.trainer?.config)})`,
      );
    }
    cfg = { ...cfg, reference: saved.reference };
    console.log(`resume: ${runDir}/last.safetensors at DPO update ${resumeFrom.step}`);
  }

  // 1. The IL reference.
  const tRef = performance.now();
  const made = await ilReference(gpu, cfg, data, ex, { envs, goals: evalGoals }, interrupt);
  const refPath = made.path;
  let refUpdates = made.updates;
  const refCk = await loadAgent(refPath, { tokenizer: data.tokenizer.identity });
  refUpdates = refUpdates || refCk.step;
  phases.il = (performance.now() - tRef) / 1000;

  // 2. DPO from the reference.
  const dpoEx = cfg.dpo.searchSteps === cfg.il.searchSteps
    ? ex
    : splitExamples(data, cfg.dpo.searchSteps, cfg.il.seed);
  const episodes = episodesOf(dpoEx.train.examples);
  const tDpo = performance.now();
  const enc = new AgentEncoder(data.tokenizer, refCk.spec.encoder);
  const model = ChoiceModel.create(gpu, refCk.spec.model, refCk.weights);
  const visit = new Set<number>();
  for (let u = 0; u < cfg.dpo.steps; u++) {
    for (const e of dpoEpisodeIndices(cfg.dpo, episodes.length, u)) {
      visit.add(e);
    }
  }
  const dpoLog = await RunLog.open(runDir, { append: !!resumeFrom });
  const dpoMeta: AgentMeta = { spec: refCk.spec, trainer: { name: "dpo", config: cfg.dpo } };
  if (!resumeFrom) await dpoLog.writeConfig({ ...dpoMeta, reference: refPath, data: cfg.data });
  const ctx: TrainContext = {
    model,
    encoder: enc,
    tokenizer: data.tokenizer.identity,
    meta: dpoMeta,
    log: dpoLog,
    interrupt,
    evalSet: { envs, goals: evalGoals },
  };
  const ref = await referenceLogps(ctx, episodes, visit);
  console.log(
    `dpo: reference log-probs of ${ref.size} decisions (${visit.size} episodes) precomputed in ` +
      `${
        ((performance.now() - tDpo) / 1000).toFixed(1)
      } s; ${cfg.dpo.steps} updates, β ${cfg.dpo.beta}, ${cfg.dpo.lossType}`,
  );
  const dpoOpt = new ModelOptimizer(model, cfg.dpo);
  if (resumeFrom) {
    // The reference pass above ran on the reference weights; now the policy's.
    model.loadWeights(resumeFrom.weights);
    if (!resumeFrom.optimizer) throw new Error(`${resumeFrom.path}: no optimizer state to resume`);
    dpoOpt.load(resumeFrom.optimizer, resumeFrom.path);
  }
  const dpoOut = await trainDpo(ctx, cfg.dpo, episodes, ref, dpoOpt, {
    start: resumeFrom?.step ?? 0,
    budgetStart: tDpo,
  });
  dpoLog.close();
  dpoOpt.destroy();
  model.destroy();
  phases.dpo = (performance.now() - tDpo) / 1000;
  if (dpoOut.interrupted) {
    throw new Error(`interrupted during DPO; checkpoint ${dpoOut.checkpoint}`);
  }

  // 3. The control: IL from the reference, as many updates (those the time budget allowed), on
  // the same episodes.
  const updates = dpoOut.steps;
  let controlPath = "";
  if (cfg.control && updates > 0) {
    const tC = performance.now();
    const cModel = ChoiceModel.create(gpu, refCk.spec.model, refCk.weights);
    const cLog = await RunLog.open(`${runDir}/control`);
    const cCfg: IlConfig = {
      ...cfg.il,
      lr: cfg.controlLr,
      clip: cfg.dpo.clip, // clipped as the DPO run it is compared with
      schedule: "constant",
      warmupSteps: 0,
      maxSteps: updates,
      evalEvery: updates,
    };
    const cMeta: AgentMeta = { spec: refCk.spec, trainer: { name: "il-control", config: cCfg } };
    await cLog.writeConfig({ ...cMeta, reference: refPath });
    const cCtx: TrainContext = {
      model: cModel,
      encoder: enc,
      tokenizer: data.tokenizer.identity,
      meta: cMeta,
      log: cLog,
      interrupt,
      evalSet: { envs, goals: evalGoals },
    };
    const cOpt = new ModelOptimizer(cModel, cCfg);
    console.log(
      `control: imitation from the reference, ${updates} updates on the DPO run's episodes, lr ${cCfg.lr}`,
    );
    const cOut = await trainIl(
      cCtx,
      { ...cCfg, evalExamples: 0 },
      { train: dpoEx.train.examples, eval: [] },
      cOpt,
      {
        total: updates,
        label: "control",
        batches: (
          u,
        ) => [dpoEpisodeIndices(cfg.dpo, episodes.length, u).flatMap((i) => episodes[i].examples)],
      },
    );
    cLog.close();
    cOpt.destroy();
    cModel.destroy();
    phases.control = (performance.now() - tC) / 1000;
    if (cOut.interrupted) {
      throw new Error(`interrupted during the control; checkpoint ${cOut.checkpoint}`);
    }
    controlPath = cOut.checkpoint;
  }

  // 4. Greedy (and sampled) evaluation on the test goals.
  const tE = performance.now();
  const agents: [string, string, number, number][] = [
    ["IL reference", refPath, refUpdates, phases.il],
    ["DPO", dpoOut.checkpoint, dpoOut.steps, phases.dpo],
  ];
  if (controlPath) agents.push(["IL control", controlPath, updates, phases.control]);
  const results: EvalResult[] = [], sampled: EvalResult[][] = [];
  for (const [name, path] of agents) {
    const tA = performance.now();
    const r = await evalCheckpoint(gpu, path, data, envs, testGoals, name, {
      seeds: cfg.sampleSeeds,
      envConfig,
    });
    results.push(r.greedy);
    sampled.push(r.sampled);
    console.log(`${evalLine(name, r)} (${((performance.now() - tA) / 1000).toFixed(0)} s)`);
  }
  phases.eval = (performance.now() - tE) / 1000;
  const succ = (r: EvalResult) => r.rewards.map((x) => (x === 1 ? 1 : 0));
  const pct = (r: EvalResult) => r.rewards.map((x) => 100 * x);
  const rows: AgentRow[] = results.map((r, i) => ({
    agent: agents[i][0],
    checkpoint: agents[i][1],
    updates: agents[i][2],
    score: bootstrapMean(pct(r), { seed: 1 }),
    success: bootstrapMean(succ(r), { seed: 2 }),
    dScore: i === 0 ? undefined : pairedBootstrap(pct(r), pct(results[0]), { seed: 3 }),
    dSuccess: i === 0 ? undefined : pairedBootstrap(succ(r), succ(results[0]), { seed: 4 }),
    trainSeconds: agents[i][3],
    evalSeconds: r.seconds,
    sampled: cfg.sampleSeeds > 0 ? sampledRow(sampled[i], i === 0 ? null : sampled[0]) : undefined,
  }));
  phases.total = (performance.now() - t0) / 1000;
  const result: PipelineResult = {
    rows,
    phases,
    testGoals: testGoals.length,
    sampleSeeds: cfg.sampleSeeds,
    runDir,
  };
  await writeAtomically(`${runDir}/summary.json`, [JSON.stringify(result, null, 2) + "\n"]);
  console.log("\n" + formatTable(result));
  interrupt.close();
  return result;
}

const mean = (xs: readonly number[]) => meanStd(xs).mean!;

/** An agent's sampled row from its seeds' results, paired with the reference's (`base`). */
export function sampledRow(
  rs: readonly EvalResult[],
  base: readonly EvalResult[] | null,
): SampledRow {
  const succ = (x: number) => (x === 1 ? 1 : 0), pct = (x: number) => 100 * x;
  const score = perGoalMean(rs, pct), success = perGoalMean(rs, succ);
  const b = base ? { score: perGoalMean(base, pct), success: perGoalMean(base, succ) } : null;
  return {
    score: bootstrapMean(score, { seed: 5 }),
    success: bootstrapMean(success, { seed: 6 }),
    dScore: b ? pairedBootstrap(score, b.score, { seed: 7 }) : undefined,
    dSuccess: b ? pairedBootstrap(success, b.success, { seed: 8 }) : undefined,
    seedScores: rs.map((r) => r.score),
    seedSuccess: rs.map((r) => r.successRate),
    seconds: rs.reduce((a, r) => a + r.seconds, 0),
  };
}

function iv(x: Interval, scale = 1, digits = 1): string {
  return `${(scale * x.value).toFixed(digits)} [${(scale * x.lo).toFixed(digits)}, ${
    (scale * x.hi).toFixed(digits)
  }]`;
}

/** The final table as Markdown. */
export function formatTable(r: PipelineResult): string {
  const head =
    `| agent | updates | score ×100 [95% CI] | success % [95% CI] | Δ success vs IL, points [paired 95% CI] | Δ score vs IL [paired 95% CI] | train | eval |`;
  const sep = "|---|---:|---:|---:|---:|---:|---:|---:|";
  const lines = r.rows.map((x) =>
    `| ${x.agent} | ${x.updates} | ${iv(x.score)} | ${iv(x.success, 100)} | ${
      x.dSuccess ? iv(x.dSuccess, 100) : "—"
    } | ${x.dScore ? iv(x.dScore) : "—"} | ${duration(x.trainSeconds)} | ${
      duration(x.evalSeconds)
    } |`
  );
  const ph = Object.entries(r.phases).map(([k, v]) => `${k} ${duration(v)}`).join(", ");
  const sampled: string[] = [];
  if (r.rows.every((x) => x.sampled)) {
    const sd = (xs: number[], scale = 1) => (scale * meanStd(xs).std!).toFixed(1);
    sampled.push(
      "",
      `Sampled evaluation (softmax at temperature 1, WebShop test.py's default), ${r.sampleSeeds} ` +
        `seeds × ${r.testGoals} test goals: intervals over goals of each goal's mean over the ` +
        `seeds; ± is the standard deviation of the seeds' means:`,
      "",
      `| agent | score ×100 [95% CI] | ± seeds | success % [95% CI] | ± seeds | Δ success vs IL, points [paired 95% CI] | Δ score vs IL [paired 95% CI] | eval |`,
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...r.rows.map((x) => {
        const s = x.sampled!;
        return `| ${x.agent} | ${iv(s.score)} | ${sd(s.seedScores)} | ${iv(s.success, 100)} | ${
          sd(s.seedSuccess, 100)
        } | ${s.dSuccess ? iv(s.dSuccess, 100) : "—"} | ${s.dScore ? iv(s.dScore) : "—"} | ${
          duration(s.seconds)
        } |`;
      }),
    );
  }
  return [
    `Greedy evaluation on ${r.testGoals} test goals (score = mean reward ×100; success = reward 1):`,
    "",
    head,
    sep,
    ...lines,
    ...sampled,
    "",
    `Wall-clock: ${ph}. Run folder: ${r.runDir}`,
  ].join("\n");
}
