/**
 * Imitation learning of the choice model, WebShop's train_choice_il.py recipe: cross-entropy of
 * the demonstrated action among each state's valid actions, AdamW (lr 2e-5, no weight decay),
 * gradient accumulation 32 over micro-batches, a linear schedule to 0, no clipping, 10 epochs;
 * each field below is a flag of `deno task train:il`.
 *
 * Order: every epoch is a seeded permutation of the training examples; update u takes the next
 * `microBatch × gradAccum` examples of that stream (crossing into the next epoch's permutation
 * at the end of one), so update u's data depends only on (seed, u) and a resumed run sees
 * exactly the data an uninterrupted run would. Dropout masks are seeded by (seed, update,
 * micro-batch) for the same reason.
 *
 * @module
 */

import seedrandom from "seedrandom";
import type { Tensor } from "../kernels/tensor.ts";
import type { ChoiceBatch, ChoiceModel } from "../model/choice_model.ts";
import { seedFor } from "../model/init.ts";
import {
  actionAccuracy,
  greedyEval,
  permutation,
  saveTrainCheckpoint,
  type TrainContext,
} from "./common.ts";
import type { IlExample, SearchStepMode } from "./il_data.ts";
import { ImitationLoss } from "./imitation_loss.ts";
import { ConfigCheck } from "./config_check.ts";
import {
  checkOptimizerConfig,
  type ModelOptimizer,
  type OptimizerConfig,
  scheduledLr,
} from "./optimizer.ts";
import { NonFiniteError } from "./run.ts";

/** The imitation trainer's settings (defaults: WebShop's train_choice_il.py). */
export interface IlConfig {
  /** Peak learning rate (2e-5). */
  lr: number;
  /** AdamW weight decay (0). */
  weightDecay: number;
  /** Max global gradient norm, 0 for none (0). */
  clip: number;
  /** Learning-rate schedule: "linear" to 0 (Hugging Face default) or "constant". */
  schedule: "linear" | "constant";
  /** Linear warm-up updates (0). */
  warmupSteps: number;
  /** Examples per forward/backward submit (1, as per_device_train_batch_size). */
  microBatch: number;
  /** Micro-batches per optimizer update (32). */
  gradAccum: number;
  /** Passes over the training examples (10); ignored when `maxSteps` > 0. */
  epochs: number;
  /** Updates to run; 0 derives them from `epochs` (0). */
  maxSteps: number;
  /** Search steps: skipped as WebShop does, or a choice among the search candidates ("skip"). */
  searchSteps: SearchStepMode;
  /** Dropout during training (true; BERT's 0.1). */
  dropout: boolean;
  /** Seed of the data order, dropout and the action-list cut (0). */
  seed: number;
  /** Updates between progress lines and metrics rows with the loss (10). */
  logEvery: number;
  /** Updates between checkpoints (`last.safetensors`), 0 only at the end (500). */
  checkpointEvery: number;
  /** Updates between evaluations; 0 once per epoch (0). */
  evalEvery: number;
  /** Held-out examples for action accuracy, 0 for all (500). */
  evalExamples: number;
}

/** WebShop's recipe. */
export const IL_DEFAULTS: IlConfig = {
  lr: 2e-5,
  weightDecay: 0,
  clip: 0,
  schedule: "linear",
  warmupSteps: 0,
  microBatch: 1,
  gradAccum: 32,
  epochs: 10,
  maxSteps: 0,
  searchSteps: "skip",
  dropout: true,
  seed: 0,
  logEvery: 10,
  checkpointEvery: 500,
  evalEvery: 0,
  evalExamples: 500,
};

/** Throws a RangeError naming the field unless `c` is usable. */
export function validateIlConfig(c: IlConfig): IlConfig {
  const check = new ConfigCheck("il config", c);
  checkOptimizerConfig(check);
  check.oneOf("searchSteps", ["skip", "choose"])
    .int(1, "microBatch", "gradAccum", "epochs", "logEvery")
    .int(0, "maxSteps", "seed", "checkpointEvery", "evalEvery", "evalExamples");
  return c;
}

/** Updates of a run over `n` examples. */
export function ilTotalSteps(c: IlConfig, n: number): number {
  if (c.maxSteps > 0) return c.maxSteps;
  return Math.ceil(c.epochs * n / (c.microBatch * c.gradAccum));
}

/** Indices of the examples of update `u` (0-based): the `u`-th slice of the epoch stream. */
export function ilBatchIndices(c: IlConfig, n: number, u: number): number[] {
  const per = c.microBatch * c.gradAccum, out: number[] = [];
  let epoch = -1, perm: number[] = [];
  for (let p = u * per; p < (u + 1) * per; p++) {
    const e = Math.floor(p / n);
    if (e !== epoch) {
      epoch = e;
      perm = permutation(n, seedrandom.alea(`il-order:${c.seed}:${e}`));
    }
    out.push(perm[p % n]);
  }
  return out;
}

/**
 * One imitation micro-batch as ONE submit: upload, forward (dropout as asked), the loss and its
 * gradient scaled by `scale`, the backward (accumulating into the gradients) and, with `update`,
 * the optimizer step (norm, clip, AdamW, zeroed gradients). Nothing is read back: the loss is a
 * GPU tensor to read when logging.
 */
export function imitationMicroStep(
  model: ChoiceModel,
  loss: ImitationLoss,
  inputs: ChoiceBatch,
  targets: readonly number[],
  opts: {
    dropout: boolean;
    seed: number;
    scale?: number;
    update?: { opt: ModelOptimizer; lr: number };
  },
): Tensor {
  const b = model.gpu.batch("imitation step");
  model.setInputs(inputs, { backward: true });
  const { logp } = model.forward(b, { train: opts.dropout, seed: opts.seed });
  const r = loss.record(b, model, logp, targets, opts.scale ?? 1);
  model.backward(b, r.dLogp);
  if (opts.update) opts.update.opt.step(b, opts.update.lr);
  b.submit();
  return r.loss;
}

/** The micro-batches of update `u` from the epoch stream of `train`. */
export function streamBatches(c: IlConfig, train: readonly IlExample[], u: number): IlExample[][] {
  const idx = ilBatchIndices(c, train.length, u), out: IlExample[][] = [];
  for (let k = 0; k < c.gradAccum; k++) {
    out.push(idx.slice(k * c.microBatch, (k + 1) * c.microBatch).map((i) => train[i]));
  }
  return out;
}

/** What {@linkcode trainIl} did. */
export interface IlOutcome {
  steps: number;
  interrupted: boolean;
  checkpoint: string;
  lastLoss: number;
  evals: Record<string, number>[];
}

/**
 * Runs imitation updates `start + 1 … total` on `train`, logging, evaluating on `evalExamples`
 * and the context's eval goals, and checkpointing. `opt` is the optimizer (its state restored
 * when resuming).
 */
export async function trainIl(
  ctx: TrainContext,
  cfg: IlConfig,
  data: { train: readonly IlExample[]; eval: readonly IlExample[] },
  opt: ModelOptimizer,
  opts: {
    start?: number;
    total?: number;
    label?: string;
    finalName?: string;
    /** Micro-batches of update u (default: the epoch stream of `train`, see the module doc). */
    batches?: (u: number) => IlExample[][];
  } = {},
): Promise<IlOutcome> {
  const { model, encoder, log } = ctx;
  const n = data.train.length;
  if (n === 0) throw new Error("train:il: no training examples");
  const total = opts.total ?? ilTotalSteps(cfg, n);
  const label = opts.label ?? "il";
  const loss = new ImitationLoss(model.gpu);
  loss.warm();
  opt.warm();
  const perEpoch = Math.max(1, Math.ceil(n / (cfg.microBatch * cfg.gradAccum)));
  const evalEvery = cfg.evalEvery > 0 ? cfg.evalEvery : perEpoch;
  const evalEx = cfg.evalExamples > 0 ? data.eval.slice(0, cfg.evalExamples) : data.eval;
  const optCfg: OptimizerConfig = opt.config;
  let step = opts.start ?? 0, lastLoss = NaN, lastGood: string | null = null;
  const evals: Record<string, number>[] = [];
  log.startClock(step);
  const runEval = async () => {
    const row: Record<string, number> = { step };
    if (evalEx.length) row["eval/action_accuracy"] = await actionAccuracy(model, encoder, evalEx);
    Object.assign(row, await greedyEval(ctx));
    if (Object.keys(row).length === 1) return; // nothing to evaluate on (as DPO's eval)
    evals.push(row);
    await log.metrics({ phase: label, ...row });
    log.say(
      `${label} eval at step ${step}: ` +
        Object.entries(row).filter(([k]) => k !== "step").map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(" · "),
    );
  };
  while (step < total && !ctx.interrupt.requested) {
    const micros = opts.batches ? opts.batches(step) : streamBatches(cfg, data.train, step);
    const lr = scheduledLr(optCfg, step + 1, total);
    let lossT: Tensor | null = null;
    for (let k = 0; k < micros.length; k++) {
      const micro = micros[k];
      lossT = imitationMicroStep(model, loss, encoder.batch(micro), micro.map((e) => e.target), {
        dropout: cfg.dropout,
        seed: seedFor(cfg.seed, `il:${step}:${k}`),
        scale: 1 / micros.length,
        update: k === micros.length - 1 ? { opt, lr } : undefined,
      });
    }
    step++;
    const logNow = step % cfg.logEvery === 0 || step === total;
    if (logNow) {
      // Sync points: one read each, only on log steps.
      lastLoss = (await lossT!.read())[0];
      const gradNorm = (await opt.gradNorm.read())[0];
      if (!Number.isFinite(lastLoss)) {
        throw new NonFiniteError("the imitation loss", step, lastGood);
      }
      if (!Number.isFinite(gradNorm)) throw new NonFiniteError("the gradient norm", step, lastGood);
      await log.metrics({ phase: label, step, loss: lastLoss, grad_norm: gradNorm, lr });
      log.progress(label, step, total, { loss: lastLoss, grad_norm: gradNorm, lr });
    }
    if (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0 && step < total) {
      lastGood = await saveTrainCheckpoint(ctx, opt, step, "last.safetensors");
    }
    if (step % evalEvery === 0 && step < total) await runEval();
  }
  const interrupted = step < total;
  if (!interrupted) await runEval();
  const checkpoint = await saveTrainCheckpoint(
    ctx,
    opt,
    step,
    interrupted ? "last.safetensors" : (opts.finalName ?? "final.safetensors"),
  );
  if (!interrupted && opts.finalName !== "last.safetensors") {
    await Deno.remove(`${log.dir}/last.safetensors`).catch(() => {});
  }
  loss.destroy();
  return { steps: step, interrupted, checkpoint, lastLoss, evals };
}
