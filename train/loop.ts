/**
 * LOOP (Chen et al. 2025, "Reinforcement Learning for Long-Horizon Interactive LLM Agents",
 * arXiv 2502.01600; apple/ml-loop): PPO without a value network and without a reference model,
 * with exactly one model copy. Each iteration samples T goals × K rollouts at temperature 1 from
 * the current policy, gives every rollout its leave-one-out advantage A_k = R_k − mean_{i≠k} R_i
 * (not divided by a standard deviation unless `normalizeAdvantages`), drops rollouts with
 * |A| < `minAbsAdvantage`, and runs `epochs` passes of PPO's clipped objective over their
 * decisions in minibatches, one optimizer step each. Each decision of the choice model is one
 * "turn" (it emits no tokens), so the importance ratio is per action, clipped asymmetrically to
 * [1/(1+ε), 1+ε]; the old log-probs are those recorded at rollout time. Decisions with a single
 * valid action are skipped (ratio 1, no gradient). The value head is frozen: no gradient, no
 * weight decay.
 *
 * Seeds: the goals, the envs' own draws, the sampling and the minibatch order of iteration i
 * depend only on (seed, i), so a resumed run repeats an uninterrupted one exactly.
 *
 * @module
 */

import { ModelPolicy } from "../agent/policy.ts";
import { makeEnvs, rollout } from "../agent/rollout.ts";
import { finishRun, logGreedyEval, saveTrainCheckpoint, type TrainContext } from "./common.ts";
import { keptRollouts, leaveOneOutAdvantages, loopClipBounds } from "./loop_loss.ts";
import { ConfigCheck } from "./config_check.ts";
import { checkOptimizerConfig, type ModelOptimizer, scheduledLr } from "./optimizer.ts";
import { PolicyLossGpu } from "./ppo_loss_gpu.ts";
import { choiceSteps, policyUpdate, type RlSample } from "./rl_update.ts";
import { goalStream, type RlEnvSetup, type RlOutcome } from "./rl_envs.ts";
import { TimeBudget } from "./run.ts";

/** LOOP's settings (the paper's defaults unless noted). */
export interface LoopConfig {
  /** Iterations (each: rollouts, then the update phase). */
  steps: number;
  /** Wall-clock minutes for the training iterations; 0 for none (then `steps` ends the run). */
  timeBudget: number;
  /** Goals per iteration, T (paper 40). */
  goalsPerIteration: number;
  /** Rollouts per goal, K (paper 6). */
  rolloutsPerGoal: number;
  /** Sampling temperature of the rollouts (1). */
  temperature: number;
  /** ε of the ratio clip [1/(1+ε), 1+ε] (0.1). */
  epsilon: number;
  /** Rollouts with |A| below this are dropped (0.01). */
  minAbsAdvantage: number;
  /** Divide each group's advantages by its standard deviation (false; for comparison). */
  normalizeAdvantages: boolean;
  /** Passes over an iteration's decisions (2). */
  epochs: number;
  /** Decisions per minibatch and optimizer step (32). */
  minibatch: number;
  /** AdamW (5e-5, weight decay 0.01, gradient-norm clip 1, constant). */
  lr: number;
  weightDecay: number;
  clip: number;
  schedule: "linear" | "constant";
  warmupSteps: number;
  /** Dropout in the update's forward (false: the ratio is 1 at the first minibatch). */
  dropout: boolean;
  /** Envs played at once during rollouts (one model submit per step for all of them). */
  envs: number;
  seed: number;
  logEvery: number;
  /** Iterations between last.safetensors checkpoints (0: only at the end or on Ctrl-C). */
  checkpointEvery: number;
  /** Iterations between greedy evaluations on the eval goals; 0 only at the end. */
  evalEvery: number;
}

/** The paper's defaults. */
export const LOOP_DEFAULTS: LoopConfig = {
  steps: 100,
  timeBudget: 0,
  goalsPerIteration: 40,
  rolloutsPerGoal: 6,
  temperature: 1,
  epsilon: 0.1,
  minAbsAdvantage: 0.01,
  normalizeAdvantages: false,
  epochs: 2,
  minibatch: 32,
  lr: 5e-5,
  weightDecay: 0.01,
  clip: 1,
  schedule: "constant",
  warmupSteps: 0,
  dropout: false,
  envs: 32,
  seed: 0,
  logEvery: 1,
  checkpointEvery: 5,
  evalEvery: 0,
};

/** Throws a RangeError naming the field unless `c` is usable. */
export function validateLoopConfig(c: LoopConfig): LoopConfig {
  const check = new ConfigCheck("loop config", c);
  checkOptimizerConfig(check);
  check.int(1, "steps", "goalsPerIteration", "epochs", "minibatch", "envs", "logEvery")
    .int(2, "rolloutsPerGoal")
    .int(0, "seed", "checkpointEvery", "evalEvery")
    .positive("temperature", "epsilon")
    .atLeast(0, "timeBudget", "minAbsAdvantage");
  return c;
}

/** The value head's parameters, which LOOP neither uses nor updates. */
export const isValueHead = (name: string): boolean => name.startsWith("linear_3.");

/** Goals of iteration `i`: the next T of a seeded pass over the training goals. */
export function loopGoals(c: LoopConfig, trainGoals: readonly number[], i: number): number[] {
  const T = c.goalsPerIteration;
  return goalStream(trainGoals, `loop-goals:${c.seed}`, i * T, T);
}

/**
 * Runs LOOP iterations `start + 1 … cfg.steps` (or until the time budget) on the training goals
 * of `setup`; the model holds the policy (the only model copy), `opt` must leave the value head
 * out ({@linkcode isValueHead}).
 */
export async function trainLoop(
  ctx: TrainContext,
  cfg: LoopConfig,
  setup: RlEnvSetup,
  opt: ModelOptimizer,
  opts: { start?: number; label?: string } = {},
): Promise<RlOutcome> {
  validateLoopConfig(cfg);
  const { model, encoder, log } = ctx;
  const label = opts.label ?? "loop";
  if (setup.trainGoals.length === 0) throw new Error("train:loop: no training goals");
  const loss = new PolicyLossGpu(model.gpu, {
    ...loopClipBounds(cfg.epsilon),
    wPg: 1,
    wVf: 0,
    wEn: 0,
    clipValue: 0,
  });
  loss.warm();
  opt.warm();
  const budget = new TimeBudget(cfg.timeBudget);
  let step = opts.start ?? 0, lastGood: string | null = null;
  const evals: Record<string, number>[] = [], history: Record<string, number>[] = [];
  log.startClock(step);
  while (step < cfg.steps && !ctx.interrupt.requested && !budget.exhausted()) {
    const tIter = performance.now();
    const K = cfg.rolloutsPerGoal;
    const goals = loopGoals(cfg, setup.trainGoals, step).flatMap((g) => Array(K).fill(g));
    const envs = makeEnvs(Math.min(cfg.envs, goals.length), {
      ...setup.envConfig,
      seed: cfg.seed * 1_000_003 + step,
    });
    const policy = new ModelPolicy(model, encoder, {
      mode: "sample",
      temperature: cfg.temperature,
      seed: cfg.seed * 1_000_003 + step,
      name: label,
    });
    const tRoll = performance.now();
    const trajs = await rollout(envs, policy, goals);
    const rollSeconds = (performance.now() - tRoll) / 1000;
    const rollDecisions = trajs.reduce((a, t) => a + t.steps.length, 0);
    const samples: RlSample[] = [];
    let kept = 0, zeroStd = 0, stdSum = 0, entSum = 0, entN = 0;
    for (let g = 0; g < cfg.goalsPerIteration; g++) {
      const group = trajs.slice(g * K, (g + 1) * K);
      const R = group.map((t) => t.reward);
      const mean = R.reduce((a, b) => a + b, 0) / K;
      const sd = Math.sqrt(R.reduce((a, r) => a + (r - mean) ** 2, 0) / (K - 1));
      stdSum += sd;
      if (sd === 0) zeroStd++;
      const A = leaveOneOutAdvantages(R, cfg.normalizeAdvantages);
      for (const k of keptRollouts(A, cfg.minAbsAdvantage)) {
        kept++;
        samples.push(...choiceSteps(group[k], () => A[k]));
      }
    }
    for (const t of trajs) {
      for (const s of t.steps) {
        if (s.entropy !== null) {
          entSum += s.entropy;
          entN++;
        }
      }
    }
    const lr = scheduledLr(opt.config, step + 1, cfg.steps);
    const up = await policyUpdate(
      ctx,
      loss,
      opt,
      samples,
      { epochs: cfg.epochs, minibatch: cfg.minibatch, dropout: cfg.dropout, seed: cfg.seed },
      String(step),
      lr,
      step + 1,
      lastGood,
    );
    step++;
    const rewards = trajs.map((t) => t.reward);
    const row: Record<string, number> = {
      reward: rewards.reduce((a, b) => a + b, 0) / rewards.length,
      reward_std: stdSum / cfg.goalsPerIteration,
      frac_reward_zero_std: zeroStd / cfg.goalsPerIteration,
      "objective/entropy": entN ? entSum / entN : 0,
      "rollouts/dropped_frac": 1 - kept / trajs.length,
      "rollouts/success_rate": rewards.filter((r) => r === 1).length / rewards.length,
      "rollouts/decisions": rollDecisions,
      ...up.metrics,
      "update/decisions": up.decisions,
      "update/optimizer_steps": up.steps,
      lr,
      "speed/rollout_decisions_per_s": rollDecisions / rollSeconds,
      "speed/update_decisions_per_s": up.seconds > 0 ? up.decisions / up.seconds : 0,
      seconds: (performance.now() - tIter) / 1000,
    };
    history.push(row);
    budget.lap((performance.now() - tIter) / 1000);
    if (step % cfg.logEvery === 0 || step === cfg.steps) {
      log.progress(label, step, cfg.steps, {
        reward: row.reward,
        loss: row.loss ?? 0,
        "policy/clipfrac_avg": row["policy/clipfrac_avg"] ?? 0,
        dropped: row["rollouts/dropped_frac"],
      });
    }
    await log.metrics({ phase: label, step, ...row });
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
    log.say(`${label}: time budget of ${cfg.timeBudget} min reached after ${step} iterations`);
  }
  const checkpoint = await finishRun(
    ctx,
    label,
    step,
    interrupted,
    evals,
    (file) => saveTrainCheckpoint(ctx, opt, step, file),
  );
  loss.destroy();
  return {
    steps: step,
    interrupted,
    budgetReached,
    checkpoint,
    evals,
    history,
    seconds: budget.elapsed(),
  };
}
