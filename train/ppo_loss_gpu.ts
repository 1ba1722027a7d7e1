/**
 * The clipped policy loss of `train/ppo_loss.ts` on the GPU, recorded into a training step's
 * batch between the model's forward and its backward (kernels/policy_loss.ts), so a PPO or LOOP
 * minibatch is one submit with no read-back inside. Each minibatch's per-decision statistics go
 * to its own slice of one buffer; the trainer reads that buffer once after the update phase.
 *
 * @module
 */

import type { Batch, Gpu } from "../kernels/device.ts";
import { policyLossForwardBackward, warmPolicyLossKernel } from "../kernels/policy_loss.ts";
import { type Tensor, tensor } from "../kernels/tensor.ts";
import type { ChoiceModel } from "../model/choice_model.ts";
import {
  POLICY_STATS_WIDTH,
  type PolicyLossOptions,
  validatePolicyLossOptions,
} from "./ppo_loss.ts";

/** Per-decision inputs of one minibatch (S each). */
export interface PolicyTargets {
  targets: readonly number[];
  oldLogp: ArrayLike<number>;
  advantages: ArrayLike<number>;
  /** With a value term: returns and rollout-time values. */
  returns?: ArrayLike<number>;
  oldValues?: ArrayLike<number>;
}

/** The loss's GPU buffers (grown to the largest minibatch and update phase seen). */
export class PolicyLossGpu {
  readonly gpu: Gpu;
  readonly options: PolicyLossOptions;
  #cap = 0;
  #capA = 0;
  #statsCap = 0;
  #inputs:
    | Record<"oldLogp" | "adv" | "returns" | "oldValues" | "dValues" | "values", Tensor>
    | null = null;
  #dLogp: Tensor | null = null;
  #stats: Tensor | null = null;

  constructor(gpu: Gpu, options: PolicyLossOptions) {
    validatePolicyLossOptions(options);
    this.gpu = gpu;
    this.options = { ...options };
  }

  /** Compiles the kernel now. */
  warm(): void {
    warmPolicyLossKernel(this.gpu);
  }

  /** Makes room for `decisions` decisions' statistics (an update phase's minibatches in all). */
  reserveStats(decisions: number): void {
    const n = Math.max(1, decisions) * POLICY_STATS_WIDTH;
    if (n <= this.#statsCap) return;
    this.#stats?.destroy();
    this.#stats = tensor(this.gpu, [n], "policy loss stats");
    this.#statsCap = n;
  }

  /**
   * Records the loss of the model's last forward (`logp`, and `values` with a value term) for
   * the decisions' chosen actions; statistics at decision index `statsAt` of the stats buffer.
   * Returns the gradients to feed {@linkcode ChoiceModel.backward} (dValues null without a value
   * term, so the value head gets no gradient).
   */
  record(
    batch: Batch,
    model: ChoiceModel,
    logp: Tensor,
    values: Tensor | null,
    mb: PolicyTargets,
    statsAt: number,
  ): { dLogp: Tensor; dValues: Tensor | null } {
    const { S, A } = model.dims, o = this.options, withValues = o.wVf > 0;
    if (withValues && (!values || !mb.returns || !mb.oldValues)) {
      throw new Error(
        "PolicyLossGpu: a value term needs the forward's values, returns and old values",
      );
    }
    model.setTargets(mb.targets); // checks each target against its group
    this.#grow(S, A);
    this.reserveStats(statsAt + S);
    const t = this.#inputs!;
    t.oldLogp.write(Float32Array.from(mb.oldLogp));
    t.adv.write(Float32Array.from(mb.advantages));
    if (withValues) {
      t.returns.write(Float32Array.from(mb.returns!));
      t.oldValues.write(Float32Array.from(mb.oldValues!));
    }
    const dLogp = this.#dLogp!.view([A]), dValues = t.dValues.view([S]);
    policyLossForwardBackward(batch, { dLogp, dValues, stats: this.#stats! }, {
      logp,
      offsets: model.offsets,
      targets: model.targets,
      oldLogp: t.oldLogp,
      adv: t.adv,
      returns: t.returns,
      values: withValues ? values! : t.values,
      oldValues: t.oldValues,
    }, { S, A, ...o, statsOffset: statsAt * POLICY_STATS_WIDTH });
    return { dLogp, dValues: withValues ? dValues : null };
  }

  /** The statistics of the first `decisions` decisions (a sync point: once per update phase). */
  async readStats(decisions: number): Promise<Float32Array> {
    if (!this.#stats) return new Float32Array(0);
    const all = await this.#stats.read() as Float32Array;
    return all.slice(0, decisions * POLICY_STATS_WIDTH);
  }

  #grow(S: number, A: number): void {
    if (S > this.#cap) {
      if (this.#inputs) { for (const x of Object.values(this.#inputs)) x.destroy(); }
      const n = Math.max(S, 64);
      const f = (label: string) => tensor(this.gpu, [n], `policy loss ${label}`);
      this.#inputs = {
        oldLogp: f("old logp"),
        adv: f("advantages"),
        returns: f("returns"),
        oldValues: f("old values"),
        dValues: f("dValues"),
        values: f("no values"), // bound in place of the model's values without a value term
      };
      this.#cap = n;
    }
    if (A > this.#capA) {
      this.#dLogp?.destroy();
      this.#capA = Math.max(A, 256);
      this.#dLogp = tensor(this.gpu, [this.#capA], "policy loss dLogp");
    }
  }

  /** Frees the buffers. */
  destroy(): void {
    if (this.#inputs) { for (const x of Object.values(this.#inputs)) x.destroy(); }
    this.#dLogp?.destroy();
    this.#stats?.destroy();
  }
}
