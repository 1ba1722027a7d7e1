/**
 * PPO on WebShop with its own RL recipe (baseline_models/train_rl.py and agent.py): N parallel
 * envs play continuing episodes; every `bptt` env steps the N × bptt transitions are one
 * rollout, whose returns bootstrap from the value head at the states after it (γ 0.9; GAE(λ)
 * with λ = 1 is exactly WebShop's `discount_reward`), advantage = R − V, rewards ×10. WebShop's
 * policy-gradient term −mean(log π·Â) becomes PPO's clipped surrogate (ε 0.2) against the
 * log-probs recorded when the actions were sampled (softmax exploration, temperature 1); the
 * value term mean((R − V)²) and the entropy term mean(p log p) keep WebShop's weights (1, 1) and
 * train the value head. Each rollout is optimised for `epochs` passes in `minibatches`
 * minibatches, one optimizer step each (Adam lr 1e-5, gradient-norm clip 10).
 *
 * The fourth term, w_il·L_il (w_il 0 by default, as WebShop's and the paper's PPO), imitates
 * the demonstrations: L_il is the cross-entropy of the demonstrated action over `ilBatch`
 * demonstration decisions drawn for each optimizer step, the IL trainer's loss. WebShop's
 * `loss_il` under the same name is something else: minus the mean log-prob of all valid actions
 * of the rollout's own states, which spreads probability over the actions (an entropy-like
 * term) rather than pulling the policy toward a demonstrator's choices.
 *
 * Exact resume: episode e is played on an env seeded by (seed, e) on goal e of a seeded stream,
 * and rollout u samples with a generator seeded by (seed, u); a checkpoint records each env's
 * episode number and its actions so far, and a resumed run rebuilds those envs by replaying them.
 *
 * @module
 */

import seedrandom from "seedrandom";
import { ModelPolicy } from "../agent/policy.ts";
import { WebShopEnv } from "../env/mod.ts";
import { sampleWithoutReplacement } from "../env/actions.ts";
import { finishRun, logGreedyEval, saveTrainCheckpoint, type TrainContext } from "./common.ts";
import { ConfigCheck } from "./config_check.ts";
import { checkOptimizerConfig, type ModelOptimizer, scheduledLr } from "./optimizer.ts";
import { PolicyLossGpu } from "./ppo_loss_gpu.ts";
import { gae, whiten } from "./returns.ts";
import { ImitationLoss } from "./imitation_loss.ts";
import { type ImitationTerm, policyUpdate, type RlSample } from "./rl_update.ts";
import { goalStream, type RlEnvSetup, type RlOutcome } from "./rl_envs.ts";
import { TimeBudget } from "./run.ts";

/** PPO's settings: WebShop's train_rl.py defaults, TRL's names for PPO's own. */
export interface PpoConfig {
  /** Rollouts (each followed by its update phase). */
  steps: number;
  /** Wall-clock minutes of training; 0 for none. */
  timeBudget: number;
  /** Parallel envs (4). */
  envs: number;
  /** Env steps per rollout (WebShop's bptt, 8). */
  bptt: number;
  /** Discount γ (0.9). */
  gamma: number;
  /** GAE λ (1: WebShop's returns, A = R − V). */
  gaeLambda: number;
  /** Whiten the rollout's advantages (false; TRL whitens). */
  whitenAdvantages: boolean;
  /** Reward scale (WebShop ×10). */
  rewardScale: number;
  /** Sampling temperature of the softmax exploration (1). */
  temperature: number;
  /** Passes over each rollout (4, TRL's num_ppo_epochs). */
  epochs: number;
  /** Minibatches per rollout (1). */
  minibatches: number;
  /** ε of the ratio clip [1 − ε, 1 + ε] (0.2, TRL's cliprange). */
  clipRange: number;
  /** TRL's cliprange_value; 0: none, WebShop's plain (R − V)². */
  clipRangeValue: number;
  /** Weights of the policy, value and entropy terms (WebShop's w_pg, w_td, w_en: 1, 1, 1). */
  wPg: number;
  wTd: number;
  wEn: number;
  /** Weight of the imitation term on the demonstrations (0: none, WebShop's w_il). */
  wIl: number;
  /** Demonstration decisions of the imitation term per optimizer step (16). */
  ilBatch: number;
  /** Adam (lr 1e-5, no weight decay, gradient-norm clip 10, constant). */
  lr: number;
  weightDecay: number;
  clip: number;
  schedule: "linear" | "constant";
  warmupSteps: number;
  dropout: boolean;
  seed: number;
  logEvery: number;
  checkpointEvery: number;
  evalEvery: number;
}

/** WebShop's defaults. */
export const PPO_DEFAULTS: PpoConfig = {
  steps: 1000,
  timeBudget: 0,
  envs: 4,
  bptt: 8,
  gamma: 0.9,
  gaeLambda: 1,
  whitenAdvantages: false,
  rewardScale: 10,
  temperature: 1,
  epochs: 4,
  minibatches: 1,
  clipRange: 0.2,
  clipRangeValue: 0,
  wPg: 1,
  wTd: 1,
  wEn: 1,
  wIl: 0,
  ilBatch: 16,
  lr: 1e-5,
  weightDecay: 0,
  clip: 10,
  schedule: "constant",
  warmupSteps: 0,
  dropout: false,
  seed: 0,
  logEvery: 1,
  checkpointEvery: 10,
  evalEvery: 0,
};

/** Throws a RangeError naming the field unless `c` is usable. */
export function validatePpoConfig(c: PpoConfig): PpoConfig {
  const check = new ConfigCheck("ppo config", c);
  checkOptimizerConfig(check);
  check.int(1, "steps", "envs", "bptt", "epochs", "minibatches", "logEvery", "ilBatch")
    .int(0, "seed", "checkpointEvery", "evalEvery")
    .inRange(0, 1, "gamma", "gaeLambda")
    .atLeast(0, "clipRangeValue", "wPg", "wTd", "wEn", "wIl", "timeBudget")
    .positive("temperature", "rewardScale");
  if (!(c.clipRange > 0 && c.clipRange < 1)) {
    throw new RangeError(`ppo config: clipRange must be in (0, 1), got ${c.clipRange}`);
  }
  if (c.minibatches > c.envs * c.bptt) {
    throw new RangeError(`ppo config: minibatches ${c.minibatches} > envs × bptt`);
  }
  return c;
}

/** What an env slot is playing: episode number, goal and the actions taken so far. */
export interface SlotState {
  episode: number;
  goal: number;
  actions: string[];
}

/** The collector's state a checkpoint records (JSON, under the `ppo` key of the extra metadata). */
export interface CollectorState {
  nextEpisode: number;
  slots: SlotState[];
}

/** N envs playing continuing episodes, each env seeded by its episode number. */
class Collector {
  readonly setup: RlEnvSetup;
  readonly cfg: PpoConfig;
  nextEpisode = 0;
  slots: { s: SlotState; env: WebShopEnv; state: string }[] = [];

  constructor(setup: RlEnvSetup, cfg: PpoConfig, saved?: CollectorState) {
    this.setup = setup;
    this.cfg = cfg;
    if (saved) {
      this.nextEpisode = saved.nextEpisode;
      this.slots = saved.slots.map((s) => this.#open(s));
    } else {
      for (let i = 0; i < cfg.envs; i++) this.slots.push(this.#start());
    }
  }

  #start() {
    const e = this.nextEpisode++;
    const goal = goalStream(this.setup.trainGoals, `ppo-goals:${this.cfg.seed}`, e, 1)[0];
    return this.#open({ episode: e, goal, actions: [] });
  }

  /** An env on episode `s` after its actions so far (replayed: the env is seeded by the episode). */
  #open(s: SlotState) {
    const env = new WebShopEnv({
      ...this.setup.envConfig,
      seed: this.cfg.seed * 1_000_003 + s.episode,
    });
    let state = env.reset(s.goal).observation;
    for (const a of s.actions) state = env.step(a).observation;
    return { s: { ...s, actions: [...s.actions] }, env, state };
  }

  /** Ends slot i's episode and starts the next one there. */
  restart(i: number): void {
    this.slots[i] = this.#start();
  }

  state(): CollectorState {
    return { nextEpisode: this.nextEpisode, slots: this.slots.map((x) => ({ ...x.s })) };
  }
}

/**
 * Runs PPO rollouts and updates `start + 1 … cfg.steps` (or until the time budget). `resumed`
 * is the collector state of the checkpoint resumed from (its `ppo` extra metadata).
 */
export async function trainPpo(
  ctx: TrainContext,
  cfg: PpoConfig,
  setup: RlEnvSetup,
  opt: ModelOptimizer,
  opts: { start?: number; resumed?: CollectorState; label?: string } = {},
): Promise<RlOutcome> {
  validatePpoConfig(cfg);
  const { model, encoder, log } = ctx;
  const label = opts.label ?? "ppo";
  if (setup.trainGoals.length === 0) throw new Error("train:ppo: no training goals");
  const loss = new PolicyLossGpu(model.gpu, {
    clipLow: 1 - cfg.clipRange,
    clipHigh: 1 + cfg.clipRange,
    wPg: cfg.wPg,
    wVf: cfg.wTd,
    wEn: cfg.wEn,
    clipValue: cfg.clipRangeValue,
  });
  loss.warm();
  opt.warm();
  let ilLoss: ImitationLoss | null = null;
  const demos = setup.demos ?? [];
  if (cfg.wIl > 0) {
    if (demos.length === 0) {
      throw new Error(`${label}: wIl ${cfg.wIl} needs demonstrations, and the run has none`);
    }
    ilLoss = new ImitationLoss(model.gpu);
    ilLoss.warm();
  }
  /** The imitation term of rollout `u`: optimizer step k draws its decisions from (seed, u, k). */
  const ilTerm = (u: number): ImitationTerm | undefined =>
    ilLoss
      ? {
        loss: ilLoss,
        weight: cfg.wIl,
        batch: (k) => ilDraw(demos, cfg.ilBatch, seedrandom.alea(`ppo-il:${cfg.seed}:${u}:${k}`)),
      }
      : undefined;
  const col = new Collector(setup, cfg, opts.resumed);
  const budget = new TimeBudget(cfg.timeBudget);
  let step = opts.start ?? 0, lastGood: string | null = null;
  const evals: Record<string, number>[] = [], history: Record<string, number>[] = [];
  const save = (file: string) =>
    saveTrainCheckpoint(ctx, opt, step, file, { ppo: JSON.stringify(col.state()) });
  log.startClock(step);
  while (step < cfg.steps && !ctx.interrupt.requested && !budget.exhausted()) {
    const tIter = performance.now();
    const policy = new ModelPolicy(model, encoder, {
      mode: "sample",
      temperature: cfg.temperature,
      values: true,
      seed: cfg.seed * 1_000_003 + step,
      name: label,
    });
    const N = cfg.envs, T = cfg.bptt;
    const rewards: number[][] = [], values: number[][] = [], dones: boolean[][] = [];
    const steps: { state: string; actions: string[]; index: number; logp: number }[][] = [];
    const scores: number[] = [];
    let entSum = 0;
    const tRoll = performance.now();
    for (let t = 0; t < T; t++) {
      const decisions = col.slots.map((x) => ({
        env: x.env,
        state: x.state,
        actions: x.env.validActions(),
      }));
      const choices = await policy.act(decisions);
      const row: typeof steps[number] = [], r: number[] = [], v: number[] = [], d: boolean[] = [];
      for (let i = 0; i < N; i++) {
        const c = choices[i], x = col.slots[i];
        const out = x.env.step(c.action);
        x.s.actions.push(c.action);
        x.state = out.observation;
        row.push({
          state: decisions[i].state,
          actions: [...decisions[i].actions],
          index: c.index,
          logp: c.logp!,
        });
        entSum += c.logps ? -c.logps.reduce((a, l) => a + Math.exp(l) * l, 0) : 0;
        r.push(cfg.rewardScale * out.reward);
        v.push(c.value!);
        d.push(out.done);
        if (out.done) {
          scores.push(out.reward);
          col.restart(i);
        }
      }
      steps.push(row);
      rewards.push(r);
      values.push(v);
      dones.push(d);
    }
    // Bootstrap from the value head at the states after the rollout (a finished env's is masked).
    const last = await new ModelPolicy(model, encoder, { values: true }).act(
      col.slots.map((x) => ({ env: x.env, state: x.state, actions: x.env.validActions() })),
    );
    const rollSeconds = (performance.now() - tRoll) / 1000;
    const ra = gae(
      { rewards, values, dones, lastValues: last.map((c) => c.value!) },
      cfg.gamma,
      cfg.gaeLambda,
    );
    const flatAdv = ra.advantages.flat();
    const adv = cfg.whitenAdvantages ? Array.from(whiten(flatAdv)) : flatAdv;
    const samples: RlSample[] = [];
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < N; i++) {
        const s = steps[t][i];
        samples.push({
          state: s.state,
          actions: s.actions,
          index: s.index,
          oldLogp: s.logp,
          advantage: adv[t * N + i],
          ret: ra.returns[t][i],
          oldValue: values[t][i],
        });
      }
    }
    const lr = scheduledLr(opt.config, step + 1, cfg.steps);
    const up = await policyUpdate(
      ctx,
      loss,
      opt,
      samples,
      {
        epochs: cfg.epochs,
        minibatch: Math.ceil(samples.length / cfg.minibatches),
        dropout: cfg.dropout,
        seed: cfg.seed,
      },
      String(step),
      lr,
      step + 1,
      lastGood,
      ilTerm(step),
    );
    step++;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const row: Record<string, number> = {
      ...(scores.length ? { EpisodeScore: mean(scores), "objective/scores": mean(scores) } : {}),
      episodes: scores.length,
      "objective/entropy": entSum / (N * T),
      returns: mean(ra.returns.flat()),
      advantages: mean(flatAdv),
      values: mean(values.flat()),
      ...up.metrics,
      "update/optimizer_steps": up.steps,
      lr,
      "speed/rollout_decisions_per_s": (N * T) / rollSeconds,
      "speed/update_decisions_per_s": up.seconds > 0 ? up.decisions / up.seconds : 0,
      seconds: (performance.now() - tIter) / 1000,
    };
    history.push(row);
    budget.lap((performance.now() - tIter) / 1000);
    if (step % cfg.logEvery === 0 || step === cfg.steps) {
      log.progress(label, step, cfg.steps, {
        loss: row.loss,
        "loss/value_avg": row["loss/value_avg"],
        "policy/clipfrac_avg": row["policy/clipfrac_avg"],
        ...(scores.length ? { EpisodeScore: row.EpisodeScore } : {}),
      });
    }
    await log.metrics({ phase: label, step, ...row });
    if (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0 && step < cfg.steps) {
      lastGood = await save("last.safetensors");
    }
    if (cfg.evalEvery > 0 && step % cfg.evalEvery === 0 && step < cfg.steps) {
      await logGreedyEval(ctx, label, step, evals);
    }
  }
  const interrupted = ctx.interrupt.requested && step < cfg.steps;
  const budgetReached = !interrupted && step < cfg.steps;
  if (budgetReached) {
    log.say(`${label}: time budget of ${cfg.timeBudget} min reached after ${step} rollouts`);
  }
  const checkpoint = await finishRun(ctx, label, step, interrupted, evals, save);
  loss.destroy();
  ilLoss?.destroy();
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

/** `n` of `demos` drawn without replacement (all of them when there are fewer). */
export function ilDraw<T>(demos: readonly T[], n: number, rng: () => number): T[] {
  return sampleWithoutReplacement(demos, Math.min(n, demos.length), rng);
}

/** The collector state in a checkpoint's extra metadata, or undefined. */
export function collectorStateOf(extra: Record<string, string>): CollectorState | undefined {
  return extra.ppo ? JSON.parse(extra.ppo) as CollectorState : undefined;
}
