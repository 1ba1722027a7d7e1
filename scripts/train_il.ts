/**
 * Imitation learning of the choice agent (`deno task train:il`), WebShop's train_choice_il.py
 * recipe by default (see train/il.ts), on the synthetic catalog's scripted demonstrations or on
 * WebShop's own data:
 *
 *   deno task train:il --name il                                   # embedded default data
 *   deno task train:il --catalog data/webshop --demos il_trajs_finalized_images.jsonl \
 *     --tokenizer bert-base-uncased --init bert-base-uncased       # WebShop's setup
 *   deno task train:il --resume runs/il                            # continue an interrupted run
 *
 * Writes runs/<name>/config.json, metrics.jsonl, last.safetensors (every --checkpoint-every
 * updates and on Ctrl-C) and final.safetensors.
 *
 * @module
 */

import { loadAgent } from "../agent/checkpoint.ts";
import { AgentEncoder } from "../agent/encoder.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import { requestGpu } from "../kernels/device.ts";
import { ChoiceModel } from "../model/choice_model.ts";
import type { TrainContext } from "../train/common.ts";
import { prepareData } from "../train/data.ts";
import { MAIN_DATA, MAIN_ENCODER } from "../train/defaults.ts";
import {
  IL_DEFAULTS,
  type IlConfig,
  ilTotalSteps,
  trainIl,
  validateIlConfig,
} from "../train/il.ts";
import { ModelOptimizer } from "../train/optimizer.ts";
import { createAgentModel, modelShape, splitExamples } from "../train/pipeline.ts";
import { Interrupt, resumeCheckpoint, RunLog } from "../train/run.ts";
import { intFlag, parseFlags, runMain, usageError } from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";

const USAGE = `usage: deno task train:il [options]
  --name <n>               run folder runs/<n> (default il)
  --resume <dir>           continue the run in <dir> from its last.safetensors (same flags)
  --init <i>               random, a Hugging Face BERT folder, or a checkpoint (default random)
  --model <p>              encoder size when random: micro, tiny, mini, small, base (default micro)
  --state-len <n>          tokens per state (default ${MAIN_ENCODER.stateLen}; WebShop 512)
  --action-len <n>         tokens per action (default ${MAIN_ENCODER.actionLen}; WebShop 128)
  --eval-goals <n>         eval goals of the greedy evaluation (default 100; 0 for none)
  --envs <n>               episodes played at once in evaluation (default 32)
  --step-limit <n>         steps of an evaluation episode (default 20; WebShop 100)
  --debug                  stack traces for errors
data:
${configUsage(MAIN_DATA)}
training (defaults: WebShop's train_choice_il.py):
${configUsage(IL_DEFAULTS)}
  --help                   this text`;

async function main(): Promise<void> {
  const v = parseFlags("train:il", USAGE, {
    name: { type: "string" },
    resume: { type: "string" },
    init: { type: "string" },
    model: { type: "string" },
    "state-len": { type: "string" },
    "action-len": { type: "string" },
    "eval-goals": { type: "string" },
    envs: { type: "string" },
    "step-limit": { type: "string" },
    ...configFlagSpecs(MAIN_DATA),
    ...configFlagSpecs(IL_DEFAULTS),
  });
  if (!v) return;
  const flags = v as Record<string, unknown>;
  const int = (name: string, dflt: number, min: number) =>
    intFlag("train:il", USAGE, name, flags[name] as string | undefined, dflt, min);
  let il: IlConfig;
  let data;
  try {
    il = validateIlConfig(applyConfigFlags(IL_DEFAULTS, flags));
    data = applyConfigFlags(MAIN_DATA, flags);
  } catch (e) {
    usageError("train:il", USAGE, (e as Error).message);
  }
  const dir = (v.resume as string | undefined)?.replace(/\/$/, "") ??
    `runs/${(v.name as string | undefined) ?? "il"}`;
  const encoder = {
    stateLen: int("state-len", MAIN_ENCODER.stateLen, 3),
    actionLen: int("action-len", MAIN_ENCODER.actionLen, 3),
  };
  // Checked before any data is made or any GPU is asked for.
  if (v.resume) await resumeCheckpoint(dir);
  const gpu = await requestGpu();
  console.log(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const d = await prepareData(data);
  const ex = splitExamples(d, il.searchSteps, il.seed);
  console.log(
    `data: ${ex.train.examples.length} training decisions from ${ex.train.demos} demonstrations ` +
      `(${ex.train.searchSkipped} search steps skipped, ${ex.train.unmatched} unmatched), ` +
      `${ex.eval.examples.length} eval decisions; reward mode ${data.rewardMode}`,
  );
  let model: ChoiceModel, spec, start = 0, optState;
  if (v.resume) {
    const ck = await loadAgent(`${dir}/last.safetensors`, { tokenizer: d.tokenizer.identity });
    model = ChoiceModel.create(gpu, ck.spec.model, ck.weights);
    spec = ck.spec;
    start = ck.step;
    optState = ck.optimizer;
    console.log(`resume: ${dir}/last.safetensors at update ${start}`);
  } else {
    const made = await createAgentModel(
      gpu,
      (v.init as string | undefined) ?? "random",
      modelShape((v.model as string | undefined) ?? "micro"),
      encoder,
      d.tokenizer.vocabSize,
      il.seed,
      d.tokenizer.identity,
    );
    model = made.model;
    spec = made.spec;
    console.log(`model: ${made.from}`);
  }
  const enc = new AgentEncoder(d.tokenizer, spec.encoder);
  const log = await RunLog.open(dir, { append: !!v.resume });
  const meta = { spec, trainer: { name: "il", config: il } };
  if (!v.resume) await log.writeConfig({ ...meta, data });
  const envs = makeEnvs(int("envs", 32, 1), {
    catalog: d.engine,
    goals: d.catalog.goals,
    rewardMode: data.rewardMode,
    goalQueryMap: d.catalog.goalQueryMap,
    stepLimit: int("step-limit", 20, 1),
  });
  const evalGoals = goalIndicesForSplit(d.catalog.goals.length, "eval")
    .slice(0, int("eval-goals", 100, 0));
  const interrupt = new Interrupt().listen();
  const ctx: TrainContext = {
    model,
    encoder: enc,
    tokenizer: d.tokenizer.identity,
    meta,
    log,
    interrupt,
    evalSet: { envs, goals: evalGoals },
  };
  const opt = new ModelOptimizer(model, il);
  if (optState) opt.load(optState, `${dir}/last.safetensors`);
  const total = ilTotalSteps(il, ex.train.examples.length);
  console.log(`il: ${total} updates of ${il.microBatch * il.gradAccum} decisions`);
  await model.warmup(enc.batch(ex.train.examples.slice(0, il.microBatch)));
  const out = await trainIl(ctx, il, { train: ex.train.examples, eval: ex.eval.examples }, opt, {
    start,
  });
  log.close();
  interrupt.close();
  console.log(
    out.interrupted
      ? `interrupted at update ${out.steps}: ${out.checkpoint} (--resume ${dir} continues)`
      : `done: ${out.checkpoint}`,
  );
}

if (import.meta.main) await runMain("train:il", main);
