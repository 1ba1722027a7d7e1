/**
 * Pieces every trainer uses: the context it trains in (model, encoder, optimizer, run folder,
 * eval envs), checkpoints that resume exactly, action accuracy on held-out examples and the
 * periodic greedy evaluation on held-out goals.
 *
 * @module
 */

import { type AgentMeta, saveAgent } from "../agent/checkpoint.ts";
import type { AgentEncoder } from "../agent/encoder.ts";
import { actionCacheFor, argmax, ModelPolicy, scoreDecisions } from "../agent/policy.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";
import { evaluate } from "../eval/greedy.ts";
import type { ChoiceModel } from "../model/choice_model.ts";
import type { IlExample } from "./il_data.ts";
import type { ModelOptimizer } from "./optimizer.ts";
import type { Interrupt, RunLog } from "./run.ts";

/** Held-out goals for the periodic greedy evaluation. */
export interface EvalSet {
  envs: readonly WebShopEnv[];
  goals: readonly number[];
}

/** What a trainer trains in. */
export interface TrainContext {
  model: ChoiceModel;
  encoder: AgentEncoder;
  /** Tokenizer identity recorded in checkpoints. */
  tokenizer: string;
  meta: AgentMeta;
  log: RunLog;
  interrupt: Interrupt;
  /** Greedy evaluation goals (none: skipped). */
  evalSet?: EvalSet;
}

/** Writes `<dir>/<file>` with weights, optimizer state and step (atomically). */
export async function saveTrainCheckpoint(
  ctx: TrainContext,
  opt: ModelOptimizer,
  step: number,
  file: string,
  extra: Record<string, string> = {},
): Promise<string> {
  const path = `${ctx.log.dir}/${file}`;
  await saveAgent(path, {
    meta: ctx.meta,
    tokenizer: ctx.tokenizer,
    step,
    weights: await ctx.model.readWeights(),
    optimizer: await opt.state(),
    extra,
  });
  return path;
}

/** Share of examples whose demonstrated action the model ranks first (eval mode). */
export async function actionAccuracy(
  model: ChoiceModel,
  encoder: AgentEncoder,
  examples: readonly IlExample[],
  batchSize = 32,
): Promise<number> {
  if (examples.length === 0) return NaN;
  const { logps } = await scoreDecisions(model, encoder, examples, { maxBatch: batchSize });
  return examples.filter((e, i) => argmax(logps[i]) === e.target).length / examples.length;
}

/** Greedy score ×100 and success rate on the eval goals, as `eval/score`, `eval/success_rate`. */
export async function greedyEval(
  ctx: TrainContext,
): Promise<Record<string, number>> {
  if (!ctx.evalSet || ctx.evalSet.goals.length === 0) return {};
  // The weights stay fixed during the evaluation: a cache of action encodings for it alone.
  const actionCache = actionCacheFor(ctx.model, ctx.encoder);
  try {
    const policy = new ModelPolicy(ctx.model, ctx.encoder, {
      mode: "greedy",
      name: "eval",
      actionCache,
    });
    const r = await evaluate(ctx.evalSet.envs, policy, ctx.evalSet.goals);
    return { "eval/score": r.score, "eval/success_rate": r.successRate };
  } finally {
    actionCache.destroy();
  }
}

/**
 * The greedy evaluation at `step`, logged as a metrics row of phase `label` and kept in `evals`
 * (nothing without eval goals).
 */
export async function logGreedyEval(
  ctx: TrainContext,
  label: string,
  step: number,
  evals: Record<string, number>[],
): Promise<void> {
  const row = { step, ...(await greedyEval(ctx)) };
  if (Object.keys(row).length === 1) return;
  evals.push(row);
  await ctx.log.metrics({ phase: label, ...row });
  ctx.log.say(`${label} eval at step ${step}: ${JSON.stringify(row)}`);
}

/**
 * Ends a trainer's run at `step`: an interrupted one writes last.safetensors; a finished one
 * (all steps, or its time budget spent) gets its final evaluation and final.safetensors, and its
 * last.safetensors goes. `save(file)` writes a checkpoint; returns the path written.
 */
export async function finishRun(
  ctx: TrainContext,
  label: string,
  step: number,
  interrupted: boolean,
  evals: Record<string, number>[],
  save: (file: string) => Promise<string>,
): Promise<string> {
  if (!interrupted) await logGreedyEval(ctx, label, step, evals);
  const checkpoint = await save(interrupted ? "last.safetensors" : "final.safetensors");
  if (!interrupted) await Deno.remove(`${ctx.log.dir}/last.safetensors`).catch(() => {});
  return checkpoint;
}

/** Fisher–Yates shuffle of 0..n-1 from `rng`. */
export function permutation(n: number, rng: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}
