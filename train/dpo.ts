/**
 * DPO on demonstrations (Feng 2024, §3.1): at every decision state of a demonstration the
 * demonstrated action is preferred ("chosen") over an action sampled from the reference policy
 * ("rejected"; when the reference samples the demonstrated action, the draw is repeated among
 * the other actions, in proportion to their reference probabilities). One optimizer update
 * after each episode (`episodesPerUpdate` for more).
 *
 * The reference is the starting (IL) policy. By default its log-probs are precomputed in one
 * pass over the episodes the run will visit, before the first update, so only one model is on
 * the device (`reference: "precompute"`); a resumed run recomputes them from the reference
 * checkpoint. The policy forward runs without dropout (TRL's `disable_dropout`), so the log-
 * probs of the loss are those the reference pass used at step 0 and the first loss is ln 2.
 *
 * Data order: a seeded permutation of the episodes per pass, update u taking the next
 * `episodesPerUpdate` of that stream; the rejected draws of update u come from a generator
 * seeded by (seed, u). A resumed run therefore repeats an uninterrupted one exactly.
 *
 * @module
 */

import seedrandom from "seedrandom";
import { type Tensor, tensor } from "../kernels/tensor.ts";
import { seedFor } from "../model/init.ts";
import {
  finishRun,
  logGreedyEval,
  permutation,
  saveTrainCheckpoint,
  type TrainContext,
} from "./common.ts";
import { dpoLoss, type DpoLossType, validateDpoLossOptions } from "./dpo_loss.ts";
import type { IlExample, SearchStepMode } from "./il_data.ts";
import { ConfigCheck } from "./config_check.ts";
import { checkOptimizerConfig, type ModelOptimizer, scheduledLr } from "./optimizer.ts";
import { NonFiniteError, TimeBudget } from "./run.ts";

/** DPO settings (TRL's names and defaults where TRL has them). */
export interface DpoConfig {
  /** β (TRL 0.1). */
  beta: number;
  /** sigmoid (default), ipo, hinge or robust. */
  lossType: DpoLossType;
  /** cDPO / robust ε (0). */
  labelSmoothing: number;
  /** Weight of the chosen actions' NLL added to the loss (TRL's rpo_alpha; 0: none). */
  rpoAlpha: number;
  /** Optimizer updates. */
  steps: number;
  /**
   * Wall-clock budget in minutes (0: none): updates stop before one would overrun it (the
   * trainers' one `TimeBudget`), and the run ends as one that reached `steps` (final evaluation,
   * final.safetensors). The main job counts it from the start of the DPO phase, so the
   * reference pass is inside it.
   */
  timeBudget: number;
  /** Demonstrations per update (1: one update after each episode, as the paper). */
  episodesPerUpdate: number;
  /** Peak learning rate. */
  lr: number;
  /** AdamW weight decay (0). */
  weightDecay: number;
  /** Max global gradient norm, 0 for none. */
  clip: number;
  /** linear (to 0) or constant. */
  schedule: "linear" | "constant";
  /** Warm-up updates (0). */
  warmupSteps: number;
  /** Dropout in the policy forward (false: TRL's disable_dropout). */
  dropout: boolean;
  /** Search steps of the demonstrations: skipped, or a choice among the candidates. */
  searchSteps: SearchStepMode;
  /** Seed of the order and the rejected draws (0). */
  seed: number;
  logEvery: number;
  checkpointEvery: number;
  /** Updates between greedy evaluations on the eval goals; 0 only at the end. */
  evalEvery: number;
}

/** Defaults. */
export const DPO_DEFAULTS: DpoConfig = {
  beta: 0.1,
  lossType: "sigmoid",
  labelSmoothing: 0,
  rpoAlpha: 0,
  steps: 3000,
  timeBudget: 0,
  episodesPerUpdate: 1,
  lr: 1e-5,
  weightDecay: 0,
  clip: 1,
  schedule: "constant",
  warmupSteps: 0,
  dropout: false,
  searchSteps: "skip",
  seed: 0,
  logEvery: 10,
  checkpointEvery: 500,
  evalEvery: 0,
};

/** Throws a RangeError naming the field unless `c` is usable. */
export function validateDpoConfig(c: DpoConfig): DpoConfig {
  validateDpoLossOptions(c, "dpo config");
  const check = new ConfigCheck("dpo config", c);
  checkOptimizerConfig(check);
  check.int(1, "steps", "episodesPerUpdate", "logEvery")
    .int(0, "seed", "checkpointEvery", "evalEvery")
    .atLeast(0, "timeBudget");
  return c;
}

/** A demonstration's decisions that can form a pair (at least two valid actions). */
export interface Episode {
  demo: number;
  examples: IlExample[];
}

/** Groups examples by demonstration, keeping decisions with at least two actions. */
export function episodesOf(examples: readonly IlExample[]): Episode[] {
  const by = new Map<number, IlExample[]>();
  for (const e of examples) {
    if (e.actions.length < 2) continue;
    const list = by.get(e.demo);
    if (list) list.push(e);
    else by.set(e.demo, [e]);
  }
  return [...by].map(([demo, ex]) => ({ demo, examples: ex }));
}

/** Episode indices of update `u` (0-based). */
export function dpoEpisodeIndices(c: DpoConfig, numEpisodes: number, u: number): number[] {
  const out: number[] = [];
  let pass = -1, perm: number[] = [];
  for (let p = u * c.episodesPerUpdate; p < (u + 1) * c.episodesPerUpdate; p++) {
    const e = Math.floor(p / numEpisodes);
    if (e !== pass) {
      pass = e;
      perm = permutation(numEpisodes, seedrandom.alea(`dpo-order:${c.seed}:${e}`));
    }
    out.push(perm[p % numEpisodes]);
  }
  return out;
}

/**
 * A rejected action for a decision: a draw from the reference distribution `refLogp`; when it
 * is the chosen one, a second draw among the others in proportion to their probabilities.
 */
export function sampleRejected(
  refLogp: ArrayLike<number>,
  chosen: number,
  rng: () => number,
): number {
  const n = refLogp.length;
  if (n < 2) throw new RangeError("sampleRejected: needs at least two actions");
  const draw = (skip: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) if (i !== skip) sum += Math.exp(refLogp[i]);
    let r = rng() * sum, last = -1;
    for (let i = 0; i < n; i++) {
      if (i === skip) continue;
      last = i;
      r -= Math.exp(refLogp[i]);
      if (r < 0) return i;
    }
    return last;
  };
  const first = draw(-1);
  return first === chosen ? draw(chosen) : first;
}

/**
 * Reference log-probs of every example of the given episodes, in one pass before the updates.
 * Each episode is scored as one batch, as an update of one episode (the default) trains on it: a
 * batch pads its actions to its longest, which BiAttention sees (model/choice_model.ts), so only
 * the same batch gives the policy's first log-probs exactly (the first loss is ln 2). With
 * `episodesPerUpdate` > 1 an update pads over several episodes, a difference of ~1e-5.
 */
export async function referenceLogps(
  ctx: TrainContext,
  episodes: readonly Episode[],
  which: Iterable<number>,
): Promise<Map<IlExample, Float32Array>> {
  const out = new Map<IlExample, Float32Array>();
  for (const i of new Set(which)) {
    const ex = episodes[i].examples;
    if (ex.length === 0) continue;
    const b = ctx.model.gpu.batch("dpo reference");
    ctx.model.score(b, ctx.encoder.batch(ex));
    b.submit();
    const lp = await ctx.model.readLogp();
    ex.forEach((e, j) => out.set(e, lp[j]));
  }
  return out;
}

/** What {@linkcode trainDpo} did. */
export interface DpoOutcome {
  steps: number;
  interrupted: boolean;
  /** Stopped by the time budget before `steps`. */
  budgetReached: boolean;
  checkpoint: string;
  evals: Record<string, number>[];
  /** Loss and metrics of the first update run (ln 2 and zero margins from the reference). */
  first: Record<string, number> | null;
}

/**
 * Runs DPO updates `start + 1 … cfg.steps`. `reference` holds the reference log-probs of every
 * example the updates visit (see {@linkcode referenceLogps}); the model holds the policy.
 */
export async function trainDpo(
  ctx: TrainContext,
  cfg: DpoConfig,
  episodes: readonly Episode[],
  reference: Map<IlExample, Float32Array>,
  opt: ModelOptimizer,
  opts: {
    start?: number;
    label?: string;
    /** When the time budget started, in performance.now() ms (default: now). */
    budgetStart?: number;
  } = {},
): Promise<DpoOutcome> {
  const { model, encoder, log } = ctx;
  if (episodes.length === 0) {
    throw new Error("train:dpo: no demonstration has a decision with two actions");
  }
  const label = opts.label ?? "dpo";
  opt.warm();
  let step = opts.start ?? 0, lastGood: string | null = null;
  let dLogpT: Tensor | null = null;
  const evals: Record<string, number>[] = [];
  let first: Record<string, number> | null = null;
  log.startClock(step);
  const budget = new TimeBudget(cfg.timeBudget, opts.budgetStart);
  while (step < cfg.steps && !ctx.interrupt.requested && !budget.exhausted()) {
    const tStep = performance.now();
    const rng = seedrandom.alea(`dpo-rejected:${cfg.seed}:${step}`);
    const ex = dpoEpisodeIndices(cfg, episodes.length, step).flatMap((i) => episodes[i].examples);
    const rejected = ex.map((e) => {
      const ref = reference.get(e);
      if (!ref) throw new Error(`train:dpo: no reference log-probs for demo ${e.demo}`);
      return sampleRejected(ref, e.target, rng);
    });
    const lr = scheduledLr(opt.config, step + 1, cfg.steps);
    // Forward, read the log-probs (a sync point), the loss on the CPU, then the backward.
    const fwd = model.gpu.batch(`${label} forward`);
    model.setInputs(encoder.batch(ex), { backward: true });
    model.forward(fwd, { train: cfg.dropout, seed: seedFor(cfg.seed, `dpo:${step}`) });
    fwd.submit();
    const logps = await model.readLogp();
    const pick = (lp: Float32Array[] | Float32Array[], idx: number[]) =>
      idx.map((k, s) => lp[s][k]);
    const targets = ex.map((e) => e.target);
    const refs = ex.map((e) => reference.get(e)!);
    let r;
    try {
      r = dpoLoss({
        policyChosen: pick(logps, targets),
        policyRejected: pick(logps, rejected),
        refChosen: pick(refs, targets),
        refRejected: pick(refs, rejected),
      }, cfg);
    } catch (e) {
      if (e instanceof RangeError && /not finite|is NaN|Infinity/.test(e.message)) {
        throw new NonFiniteError("a policy log-prob", step + 1, lastGood);
      }
      throw e;
    }
    if (!Number.isFinite(r.loss)) throw new NonFiniteError("the DPO loss", step + 1, lastGood);
    const A = model.dims.A;
    const dLogp = new Float32Array(A);
    let off = 0;
    ex.forEach((e, s) => {
      dLogp[off + e.target] += r.dChosen[s];
      dLogp[off + rejected[s]] += r.dRejected[s];
      off += e.actions.length;
    });
    if (!dLogpT || dLogpT.size < A) {
      dLogpT?.destroy();
      dLogpT = tensor(model.gpu, [Math.max(A, 64)], "dpo dLogp");
    }
    const dView = dLogpT.view([A]);
    dView.write(dLogp);
    const bwd = model.gpu.batch(`${label} backward`);
    model.backward(bwd, dView);
    opt.step(bwd, lr);
    bwd.submit();
    step++;
    const row: Record<string, number> = { loss: r.loss, ...r.metrics, lr, pairs: ex.length };
    if (first === null) first = { ...row };
    if (step % cfg.logEvery === 0 || step === cfg.steps) {
      const gradNorm = (await opt.gradNorm.read())[0]; // sync point, log steps only
      if (!Number.isFinite(gradNorm)) throw new NonFiniteError("the gradient norm", step, lastGood);
      row.grad_norm = gradNorm;
      log.progress(label, step, cfg.steps, {
        loss: r.loss,
        "rewards/margins": r.metrics["rewards/margins"],
        "rewards/accuracies": r.metrics["rewards/accuracies"],
      });
    }
    await log.metrics({ phase: label, step, ...row });
    budget.lap((performance.now() - tStep) / 1000);
    if (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0 && step < cfg.steps) {
      lastGood = await saveTrainCheckpoint(ctx, opt, step, "last.safetensors");
    }
    if (cfg.evalEvery > 0 && step % cfg.evalEvery === 0 && step < cfg.steps) {
      await logGreedyEval(ctx, label, step, evals);
    }
  }
  const interrupted = ctx.interrupt.requested && step < cfg.steps;
  const budgetReached = !interrupted && step < cfg.steps;
  if (budgetReached) {
    log.say(`${label}: time budget of ${cfg.timeBudget} min reached after ${step} updates`);
  }
  const checkpoint = await finishRun(
    ctx,
    label,
    step,
    interrupted,
    evals,
    (file) => saveTrainCheckpoint(ctx, opt, step, file),
  );
  dLogpT?.destroy();
  return { steps: step, interrupted, budgetReached, checkpoint, evals, first };
}
