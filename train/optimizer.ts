/**
 * The optimizer a trainer owns for a choice model: AdamW over every trainable parameter, the
 * global gradient norm (torch `clip_grad_norm_`) with optional clipping, a learning-rate
 * schedule, and the state a checkpoint needs to resume exactly (moments and step count).
 *
 * @module
 */

import type { Batch } from "../kernels/device.ts";
import { AdamW, warmAdamWKernels } from "../kernels/adamw.ts";
import {
  clipByGlobalNorm,
  globalNormForward,
  globalNormScratchSize,
  warmReduceKernels,
} from "../kernels/reduce.ts";
import type { ConfigCheck } from "./config_check.ts";
import { type HostTensor, type Tensor, tensor } from "../kernels/tensor.ts";
import type { OptimizerState } from "../model/checkpoint.ts";
import type { ChoiceModel } from "../model/choice_model.ts";

/** Settings of {@linkcode ModelOptimizer}. */
export interface OptimizerConfig {
  /** Peak learning rate. */
  lr: number;
  /** AdamW's decoupled weight decay (biases and LayerNorm weights never decay). */
  weightDecay: number;
  /** Max global gradient norm; 0 turns clipping off (WebShop's IL uses none). */
  clip: number;
  /** "linear" decays to 0 at `totalSteps` after `warmupSteps` (Hugging Face's default); "constant". */
  schedule: "linear" | "constant";
  /** Linear warm-up steps from 0 to `lr`. */
  warmupSteps: number;
}

/** The optimizer fields' checks, shared by every trainer's config validation. */
export function checkOptimizerConfig<C extends OptimizerConfig>(check: ConfigCheck<C>): void {
  check.positive("lr").atLeast(0, "weightDecay", "clip").oneOf("schedule", ["linear", "constant"])
    .int(0, "warmupSteps");
}

/** Hugging Face's `get_linear_schedule_with_warmup` (and a constant schedule): lr of update `t` (1-based). */
export function scheduledLr(c: OptimizerConfig, t: number, totalSteps: number): number {
  const s = t - 1; // Hugging Face steps the scheduler after the update, from 0
  if (c.warmupSteps > 0 && s < c.warmupSteps) return c.lr * s / c.warmupSteps;
  if (c.schedule === "constant") return c.lr;
  const left = Math.max(0, totalSteps - s), span = Math.max(1, totalSteps - c.warmupSteps);
  return c.lr * Math.min(1, left / span);
}

/**
 * AdamW plus global-norm clipping over a choice model's parameters. `step` records, in the
 * caller's batch, the norm of the accumulated gradients, the clip, the update and the zeroing of
 * the gradients for the next accumulation; nothing is read back (read `gradNorm` when logging).
 */
export class ModelOptimizer {
  readonly model: ChoiceModel;
  readonly config: OptimizerConfig;
  readonly adamw: AdamW;
  /** Global gradient norm of the last step, before clipping (1). */
  readonly gradNorm: Tensor;
  readonly #scratch: Tensor;
  readonly #grads: Tensor[];

  /**
   * `config` may be a whole trainer config (IL, DPO): its optimizer fields are taken. Parameters
   * named by `frozen` are left out of the update, the norm and weight decay (LOOP leaves the
   * value head, which its loss never uses, exactly as it was).
   */
  constructor(
    model: ChoiceModel,
    config: OptimizerConfig,
    opts: { frozen?: (name: string) => boolean } = {},
  ) {
    this.model = model;
    const { lr, weightDecay, clip, schedule, warmupSteps } = config;
    this.config = { lr, weightDecay, clip, schedule, warmupSteps };
    const params = model.parameters().filter((p) => !opts.frozen?.(p.name));
    this.adamw = new AdamW(model.gpu, params, {
      lr: config.lr,
      weightDecay: config.weightDecay,
    });
    this.#grads = params.map((p) => p.grad);
    this.gradNorm = tensor(model.gpu, [1], "grad norm");
    this.#scratch = tensor(model.gpu, [globalNormScratchSize(this.#grads)], "grad norm partials");
  }

  /** Updates taken so far. */
  get t(): number {
    return this.adamw.t;
  }

  /** Compiles the norm, clip and AdamW kernels now (a large kernel compiles for seconds on llvmpipe). */
  warm(): void {
    warmReduceKernels(this.model.gpu);
    warmAdamWKernels(this.model.gpu);
  }

  /** Records zeroing of every gradient (before the first accumulation). */
  zeroGrad(batch: Batch): void {
    this.model.zeroGrad(batch);
  }

  /** Records norm → clip → AdamW at `lr` → zero the gradients. */
  step(batch: Batch, lr: number): void {
    globalNormForward(batch, this.gradNorm, this.#scratch, this.#grads);
    if (this.config.clip > 0) clipByGlobalNorm(batch, this.#grads, this.gradNorm, this.config.clip);
    this.adamw.step(batch, lr);
    this.model.zeroGrad(batch);
  }

  /** The moments and step count, read back (a sync point per tensor). */
  async state(): Promise<OptimizerState> {
    const m = new Map<string, HostTensor>(), v = new Map<string, HostTensor>();
    for (const s of this.adamw.stateTensors()) {
      m.set(s.name, { shape: [...s.m.shape], data: await s.m.read() as Float32Array });
      v.set(s.name, { shape: [...s.v.shape], data: await s.v.read() as Float32Array });
    }
    return { step: this.adamw.t, m, v };
  }

  /** Restores moments and step count saved by {@linkcode ModelOptimizer.state}. */
  load(state: OptimizerState, source: string): void {
    for (const s of this.adamw.stateTensors()) {
      const m = state.m.get(s.name), v = state.v.get(s.name);
      if (!m || !v) throw new Error(`${source}: optimizer state lacks '${s.name}'`);
      s.m.write(m.data);
      s.v.write(v.data);
    }
    this.adamw.t = state.step;
  }

  /** Frees the moments and norm buffers. */
  destroy(): void {
    this.adamw.destroy();
    this.gradNorm.destroy();
    this.#scratch.destroy();
  }
}
