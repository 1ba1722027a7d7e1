/**
 * Batched, async policies over many WebShop environments: every live episode's decision goes
 * into one choice-model `score` submit (one read back), and the choice is made per mode:
 * greedy (argmax), sampling at a temperature, or epsilon-greedy. `random` and `oracle` are
 * policies of the same interface, so rollouts and evaluation treat every agent alike.
 *
 * @module
 */

import seedrandom from "seedrandom";
import type { WebShopEnv } from "../env/webshop_env.ts";
import { OraclePolicy } from "../env/policies.ts";
import { ActionCache } from "../model/action_cache.ts";
import type { ChoiceModel } from "../model/choice_model.ts";
import type { AgentEncoder } from "./encoder.ts";

/** One decision of one episode: the env (at its current page), its state and valid actions. */
export interface Decision {
  env: WebShopEnv;
  /** The observation the agent sees. */
  state: string;
  /** The valid actions (`env.validActions()`), the choices. */
  actions: readonly string[];
}

/** What a policy decided for one decision. */
export interface Choice {
  /** Index into the decision's actions, or -1 for an action outside the list (oracle). */
  index: number;
  /** The action to take. */
  action: string;
  /** Log-probability of the chosen action under the model (temperature 1), when a model chose. */
  logp: number | null;
  /** The model's log-probabilities of every valid action, when a model chose. */
  logps: Float32Array | null;
  /** The value head's estimate of the state, when asked for. */
  value: number | null;
}

/** A policy over a batch of decisions. */
export interface AgentPolicy {
  readonly name: string;
  /** Called when an env starts an episode. */
  reset(env: WebShopEnv): void;
  /** Chooses for every decision; one model submit for all of them. */
  act(decisions: readonly Decision[]): Promise<Choice[]>;
}

/** How a model policy turns log-probs into a choice. */
export type ChoiceMode = "greedy" | "sample" | "epsilon";

/** Settings of {@linkcode ModelPolicy}. */
export interface ModelPolicyOptions {
  /** greedy (default), sample (softmax of logp/temperature) or epsilon (uniform with prob ε). */
  mode?: ChoiceMode;
  /** Sampling temperature (default 1). */
  temperature?: number;
  /** ε of epsilon-greedy (default 0.1). */
  epsilon?: number;
  /** Seed of sampling (default 0). */
  seed?: number;
  /** Also run the value head (default false). */
  values?: boolean;
  /** Most decisions per submit (default 64); more are split into several submits. */
  maxBatch?: number;
  /** Label (default "model"). */
  name?: string;
  /**
   * Read the actions' encodings from this cache ({@linkcode actionCacheFor}): exact, and only
   * for weights that stay fixed while it is used (evaluation; never across optimizer updates).
   */
  actionCache?: ActionCache;
}

/**
 * A cache of `model`'s action encodings at `encoder`'s action length (model/action_cache.ts),
 * for policies that evaluate fixed weights. The caller destroys it.
 */
export function actionCacheFor(model: ChoiceModel, encoder: AgentEncoder): ActionCache {
  return new ActionCache(model.gpu, {
    length: encoder.config.actionLen,
    hiddenSize: model.config.bert.hiddenSize,
    padId: encoder.tokenizer.padId,
  });
}

/** Index of the largest value (the first on ties). */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** A draw from softmax(logp / temperature). */
export function sampleLogits(logp: ArrayLike<number>, temperature: number, u: number): number {
  let max = -Infinity;
  for (let i = 0; i < logp.length; i++) max = Math.max(max, logp[i] / temperature);
  const w = new Float64Array(logp.length);
  let sum = 0;
  for (let i = 0; i < logp.length; i++) sum += w[i] = Math.exp(logp[i] / temperature - max);
  let r = u * sum;
  for (let i = 0; i < w.length; i++) {
    r -= w[i];
    if (r < 0) return i;
  }
  return w.length - 1;
}

/** The choice model as a policy. */
export class ModelPolicy implements AgentPolicy {
  readonly name: string;
  readonly model: ChoiceModel;
  readonly encoder: AgentEncoder;
  readonly mode: ChoiceMode;
  readonly temperature: number;
  readonly epsilon: number;
  readonly values: boolean;
  readonly maxBatch: number;
  readonly actionCache: ActionCache | null;
  readonly #rng: () => number;

  constructor(model: ChoiceModel, encoder: AgentEncoder, opts: ModelPolicyOptions = {}) {
    this.model = model;
    this.encoder = encoder;
    this.name = opts.name ?? "model";
    this.mode = opts.mode ?? "greedy";
    this.temperature = opts.temperature ?? 1;
    this.epsilon = opts.epsilon ?? 0.1;
    this.values = opts.values ?? false;
    this.maxBatch = opts.maxBatch ?? 64;
    this.actionCache = opts.actionCache ?? null;
    if (!["greedy", "sample", "epsilon"].includes(this.mode)) {
      throw new RangeError(`ModelPolicy: mode must be greedy, sample or epsilon, got ${this.mode}`);
    }
    if (!(this.temperature > 0)) {
      throw new RangeError(`ModelPolicy: temperature must be positive, got ${this.temperature}`);
    }
    if (!(this.epsilon >= 0 && this.epsilon <= 1)) {
      throw new RangeError(`ModelPolicy: epsilon must be in [0, 1], got ${this.epsilon}`);
    }
    this.#rng = seedrandom.alea(`model-policy:${opts.seed ?? 0}`);
  }

  reset(_env: WebShopEnv): void {}

  async act(decisions: readonly Decision[]): Promise<Choice[]> {
    const { logps, values } = await scoreDecisions(this.model, this.encoder, decisions, {
      values: this.values,
      maxBatch: this.maxBatch,
      actionCache: this.actionCache ?? undefined,
    });
    return decisions.map((d, j) => {
      const lp = logps[j];
      let index: number;
      if (this.mode === "greedy") index = argmax(lp);
      else if (this.mode === "sample") index = sampleLogits(lp, this.temperature, this.#rng());
      else {
        index = this.#rng() < this.epsilon ? Math.floor(this.#rng() * lp.length) : argmax(lp);
      }
      return {
        index,
        action: d.actions[index],
        logp: lp[index],
        logps: lp,
        value: values ? values[j] : null,
      };
    });
  }
}

/**
 * Scores decisions, at most `maxBatch` (default 32) per submit, in batches of similar state
 * length ({@linkcode AgentEncoder.batches}): the log-probs of every valid action per decision
 * and, with `values`, the value head's output, in the order given; with `actionCache`, the
 * actions' encodings come from it (fixed weights only). Each submit reads back once (twice with
 * values): sync points.
 */
export async function scoreDecisions(
  model: ChoiceModel,
  encoder: AgentEncoder,
  decisions: readonly { state: string; actions: readonly string[] }[],
  opts: { values?: boolean; maxBatch?: number; actionCache?: ActionCache } = {},
): Promise<{ logps: Float32Array[]; values: Float32Array | null }> {
  const logps: Float32Array[] = new Array(decisions.length);
  const values = opts.values ? new Float32Array(decisions.length) : null;
  if (decisions.length === 0) return { logps, values };
  for (const { batch, indices } of encoder.batches(decisions, opts.maxBatch ?? 32)) {
    const b = model.gpu.batch("agent score");
    const r = model.score(b, batch, { values: opts.values, actionCache: opts.actionCache });
    b.submit();
    const lp = await model.readLogp();
    indices.forEach((i, j) => logps[i] = lp[j]);
    if (values && r.values) {
      const v = await r.values.read();
      indices.forEach((i, j) => values[i] = v[j]);
    }
  }
  return { logps, values };
}

/** Uniform over the valid actions (the floor any learner must beat). */
export class RandomAgent implements AgentPolicy {
  readonly name = "random";
  readonly #rng: () => number;

  constructor(seed = 0) {
    this.#rng = seedrandom.alea(`random-policy:${seed}`);
  }

  reset(_env: WebShopEnv): void {}

  act(decisions: readonly Decision[]): Promise<Choice[]> {
    return Promise.resolve(decisions.map((d) => {
      const index = Math.floor(this.#rng() * d.actions.length);
      return { index, action: d.actions[index], logp: null, logps: null, value: null };
    }));
  }
}

/** The env's oracle (knows the goal's product and options), one instance per env. */
export class OracleAgent implements AgentPolicy {
  readonly name = "oracle";
  readonly #policies = new WeakMap<WebShopEnv, OraclePolicy>();

  reset(env: WebShopEnv): void {
    let p = this.#policies.get(env);
    if (!p) this.#policies.set(env, p = new OraclePolicy());
    p.reset(env);
  }

  act(decisions: readonly Decision[]): Promise<Choice[]> {
    return Promise.resolve(decisions.map((d) => {
      const p = this.#policies.get(d.env);
      if (!p) throw new Error("OracleAgent: reset(env) was not called for this env");
      const action = p.act(d.env);
      return { index: d.actions.indexOf(action), action, logp: null, logps: null, value: null };
    }));
  }
}
