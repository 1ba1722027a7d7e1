/**
 * What PPO and LOOP share: rollout decisions as training samples, and the update phase over
 * them: `epochs` passes in seeded random minibatches, each minibatch one submit that records
 * the forward, the clipped loss (train/ppo_loss_gpu.ts), the backward and the optimizer step,
 * with nothing read back inside (with PPO's imitation term, a second submit records its forward
 * and backward before the step); the per-decision statistics of the whole phase are read once
 * at its end, with the gradient norm (and imitation loss) of the last step.
 *
 * @module
 */

import seedrandom from "seedrandom";
import type { Tensor } from "../kernels/tensor.ts";
import type { Trajectory } from "../agent/rollout.ts";
import { seedFor } from "../model/init.ts";
import { permutation, type TrainContext } from "./common.ts";
import { imitationMicroStep } from "./il.ts";
import type { IlExample } from "./il_data.ts";
import type { ImitationLoss } from "./imitation_loss.ts";
import type { ModelOptimizer } from "./optimizer.ts";
import { POLICY_STATS_WIDTH, policyMetrics } from "./ppo_loss.ts";
import type { PolicyLossGpu } from "./ppo_loss_gpu.ts";
import { NonFiniteError } from "./run.ts";

/** One decision to learn from. */
export interface RlSample {
  state: string;
  actions: readonly string[];
  /** The chosen action's index. */
  index: number;
  /** Its log-prob under the policy that sampled it (temperature 1). */
  oldLogp: number;
  advantage: number;
  /** Return and rollout-time value (PPO; 0 for LOOP). */
  ret: number;
  oldValue: number;
}

/** How an update phase runs. */
export interface UpdateSettings {
  epochs: number;
  /** Decisions per minibatch (the last one of an epoch may be smaller). */
  minibatch: number;
  /** Dropout in the update's forward (false: the log-probs match the rollout's). */
  dropout: boolean;
  seed: number;
}

/**
 * An imitation term added to every optimizer step of the phase (PPO's w_il·L_il): the
 * cross-entropy of demonstrated actions on `batch(k)`, the demonstration decisions of the
 * phase's optimizer step k, scaled by `weight`. It is a second submit after the policy loss's
 * backward, accumulating into the same gradients before the one optimizer step.
 */
export interface ImitationTerm {
  loss: ImitationLoss;
  weight: number;
  batch(k: number): readonly IlExample[];
}

/** What an update phase did: mean metrics over its decisions, optimizer steps and decisions. */
export interface UpdateResult {
  metrics: Record<string, number>;
  steps: number;
  decisions: number;
  seconds: number;
}

/** The samples of one trajectory's steps that were a choice (two or more actions). */
export function choiceSteps(
  t: Trajectory,
  advantage: (step: number) => number,
  value: (step: number) => { ret: number; oldValue: number } = () => ({ ret: 0, oldValue: 0 }),
): RlSample[] {
  const out: RlSample[] = [];
  t.steps.forEach((s, i) => {
    if (s.actions.length < 2) return; // no choice: ratio 1 and no gradient, only cost
    if (s.index < 0 || s.logp === null) {
      throw new Error(`rl: step ${i} of goal ${t.goalIndex} was not chosen by the model`);
    }
    out.push({
      state: s.state,
      actions: s.actions,
      index: s.index,
      oldLogp: s.logp,
      advantage: advantage(i),
      ...value(i),
    });
  });
  return out;
}

/**
 * Runs the update phase `key` (e.g. the iteration) over `samples` at learning rate `lr`.
 * Throws {@linkcode NonFiniteError} on a non-finite statistic or gradient norm.
 */
export async function policyUpdate(
  ctx: Pick<TrainContext, "model" | "encoder">,
  loss: PolicyLossGpu,
  opt: ModelOptimizer,
  samples: readonly RlSample[],
  u: UpdateSettings,
  key: string,
  lr: number,
  step: number,
  lastGood: string | null,
  il?: ImitationTerm,
): Promise<UpdateResult> {
  const t0 = performance.now();
  const { model, encoder } = ctx;
  const withValues = loss.options.wVf > 0;
  const n = samples.length;
  if (n === 0) return { metrics: {}, steps: 0, decisions: 0, seconds: 0 };
  loss.reserveStats(n * u.epochs);
  let at = 0, steps = 0, actions = 0;
  const losses: number[] = [];
  let ilLoss: Tensor | null = null; // the imitation term's loss of the last step
  const spans: [number, number, number][] = []; // stats start, decisions, actions per minibatch
  for (let e = 0; e < u.epochs; e++) {
    const order = permutation(n, seedrandom.alea(`rl-order:${u.seed}:${key}:${e}`));
    for (let i = 0; i < n; i += u.minibatch) {
      const mb = order.slice(i, i + u.minibatch).map((k) => samples[k]);
      const b = model.gpu.batch(`rl update ${key}`);
      const dims = model.setInputs(encoder.batch(mb), { backward: true });
      const { logp, values } = model.forward(b, {
        train: u.dropout,
        seed: seedFor(u.seed, `rl:${key}:${e}:${i}`),
        values: withValues,
      });
      const g = loss.record(b, model, logp, values, {
        targets: mb.map((s) => s.index),
        oldLogp: mb.map((s) => s.oldLogp),
        advantages: mb.map((s) => s.advantage),
        returns: mb.map((s) => s.ret),
        oldValues: mb.map((s) => s.oldValue),
      }, at);
      model.backward(b, g.dLogp, g.dValues);
      if (il) {
        // The policy loss's inputs are uploaded for this submit; the demonstrations' next.
        b.submit();
        const ex = il.batch(steps);
        ilLoss = imitationMicroStep(model, il.loss, encoder.batch(ex), ex.map((x) => x.target), {
          dropout: u.dropout,
          seed: seedFor(u.seed, `rl-il:${key}:${e}:${i}`),
          scale: il.weight,
          update: { opt, lr },
        });
      } else {
        opt.step(b, lr);
        b.submit();
      }
      spans.push([at, dims.S, dims.A]);
      at += dims.S;
      actions += dims.A;
      steps++;
    }
  }
  // The phase's only read-backs: its statistics and the last step's gradient norm.
  const stats = await loss.readStats(at);
  const gradNorm = (await opt.gradNorm.read())[0];
  const ilLast = ilLoss ? (await ilLoss.read())[0] : null;
  const o = loss.options;
  for (const [start, S, A] of spans) {
    const m = policyMetrics(stats.subarray(start * POLICY_STATS_WIDTH), S, A);
    losses.push(
      o.wPg * m["loss/policy_avg"] + o.wVf * m["loss/value_avg"] + o.wEn * m["loss/entropy"],
    );
  }
  const metrics = policyMetrics(stats, at, actions);
  const lossMean = losses.reduce((a, b) => a + b, 0) / losses.length;
  if (!stats.every(Number.isFinite) || !Number.isFinite(lossMean)) {
    throw new NonFiniteError("the policy loss", step, lastGood);
  }
  if (!Number.isFinite(gradNorm)) throw new NonFiniteError("the gradient norm", step, lastGood);
  if (ilLast !== null && !Number.isFinite(ilLast)) {
    throw new NonFiniteError("the imitation loss", step, lastGood);
  }
  return {
    metrics: {
      loss: lossMean,
      ...metrics,
      ...(ilLast !== null ? { "loss/il": ilLast } : {}),
      grad_norm: gradNorm,
    },
    steps,
    decisions: at,
    seconds: (performance.now() - t0) / 1000,
  };
}
