/**
 * WebShop's imitation loss on the GPU (train_choice_il.py: cross-entropy of the demonstrated
 * action within each state's valid actions): loss = mean over the S states of −logp[target], and
 * its gradient dLogp = −scale/S at each target (0 elsewhere). `scale` is 1/accumulation, so the
 * accumulated gradient of k micro-batches is that of their mean loss, as Hugging Face's Trainer
 * divides each micro-batch loss by `gradient_accumulation_steps`.
 *
 * @module
 */

import type { Batch, Gpu } from "../kernels/device.ts";
import { nllLossBackward, nllLossForward, warmSegmentKernels } from "../kernels/segment.ts";
import { type Tensor, tensor } from "../kernels/tensor.ts";
import type { ChoiceModel } from "../model/choice_model.ts";

/** The loss's GPU buffers, grown to the largest batch seen. */
export class ImitationLoss {
  readonly gpu: Gpu;
  #dLogp: Tensor | null = null;
  readonly #loss: Tensor;
  readonly #scale: Tensor;
  #scaleValue = NaN;

  constructor(gpu: Gpu) {
    this.gpu = gpu;
    this.#loss = tensor(gpu, [1], "imitation loss");
    this.#scale = tensor(gpu, [1], "imitation loss scale");
  }

  /** Compiles the NLL kernels now. */
  warm(): void {
    warmSegmentKernels(this.gpu);
  }

  /**
   * Records the loss of the model's last forward against `targets` (index within each state's
   * group) and its gradient, scaled by `scale`. Returns the loss (1, unscaled) and dLogp (A).
   */
  record(
    batch: Batch,
    model: ChoiceModel,
    logp: Tensor,
    targets: readonly number[],
    scale = 1,
  ): { loss: Tensor; dLogp: Tensor } {
    // The model checks the targets against each state's group and holds them.
    model.setTargets(targets);
    const { S, A } = model.dims;
    if (!this.#dLogp || this.#dLogp.size < A) {
      this.#dLogp?.destroy();
      this.#dLogp = tensor(this.gpu, [A], "imitation dLogp");
    }
    if (scale !== this.#scaleValue) {
      this.#scale.write([scale]);
      this.#scaleValue = scale;
    }
    const tg = model.targets, dLogp = this.#dLogp.view([A]);
    const offsets = model.offsets;
    nllLossForward(batch, this.#loss, logp, offsets, tg, { S, N: A });
    nllLossBackward(batch, dLogp, this.#scale, offsets, tg, { S, N: A });
    return { loss: this.#loss, dLogp };
  }

  /** Frees the buffers. */
  destroy(): void {
    for (const t of [this.#dLogp, this.#loss, this.#scale]) t?.destroy();
  }
}
