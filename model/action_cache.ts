/**
 * Cached action encodings for scoring with fixed weights. The choice model encodes every action
 * with BERT on its own (model/choice_model.ts: `ha = BERT(actions)`), so an action's encoding
 * does not depend on the state it is offered in, and the same buttons, options and product titles
 * come back at every step of an evaluation. The cache encodes each distinct action once, padded
 * to `length` tokens, keeps the encodings on the device and copies them into a batch by slot.
 *
 * Exact: BERT's output at a padded position attends only to the action's real tokens and depends
 * on the position, not on how far the batch pads, so the first Ta positions of an encoding made at
 * `length` are what a batch padded to Ta would compute (BiAttention reads those padded positions,
 * as WebShop's does). Valid only while the weights stay fixed: make one per evaluation, never
 * across optimizer updates.
 *
 * @module
 */

import type { Gpu } from "../kernels/device.ts";
import { type Tensor, tensor } from "../kernels/tensor.ts";

/** Where a batch's actions are in the cache, and which of them it must encode first. */
export interface ActionSlots {
  /** Cache slot of each action of the batch. */
  slots: Uint32Array;
  /** Batch rows of the distinct actions not yet encoded, in slot order. */
  fresh: number[];
  /** The slot of the first fresh action; the fresh ones take consecutive slots. */
  start: number;
}

/** Device buffers of action encodings keyed by token ids, for one model and tokenizer. */
export class ActionCache {
  readonly gpu: Gpu;
  /** Tokens each action is encoded at (the encoder's action length). */
  readonly length: number;
  readonly hiddenSize: number;
  /** How many encodings fit. */
  readonly capacity: number;
  /** The tokenizer's pad id, for positions past an action's tokens. */
  readonly padId: number;
  /** Encodings (capacity, length, hiddenSize). */
  readonly encodings: Tensor;
  /** Actions found in the cache and actions encoded, over its life (clears included). */
  hits = 0;
  misses = 0;
  readonly #slotOf = new Map<string, number>();
  #next = 0;

  /**
   * `bytes` bounds the encodings' buffer (default 32 MiB: 4,096 actions of 32 tokens at 64
   * channels, 170 at BERT-base's 768). When a batch's new actions do not fit, the cache starts
   * over; a batch with more distinct actions than `capacity` is scored without it.
   */
  constructor(
    gpu: Gpu,
    opts: { length: number; hiddenSize: number; padId: number; bytes?: number },
  ) {
    const { length, hiddenSize, padId } = opts;
    for (const [k, v] of Object.entries({ length, hiddenSize })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`ActionCache: ${k} = ${v}`);
    }
    this.gpu = gpu;
    this.length = length;
    this.hiddenSize = hiddenSize;
    this.padId = padId;
    const bytes = opts.bytes ?? 32 * 2 ** 20;
    this.capacity = Math.max(1, Math.floor(bytes / (4 * length * hiddenSize)));
    this.encodings = tensor(gpu, [this.capacity, length, hiddenSize], "action cache");
  }

  /** Distinct actions held now. */
  get size(): number {
    return this.#slotOf.size;
  }

  /**
   * Slots for the batch's actions (`ids` (A, Ta) with its prefix `mask`), assigning consecutive
   * slots to the ones not held (clearing the cache first when they do not fit). Null when the
   * batch has more distinct actions than the cache holds, or longer actions than `length`.
   */
  lookup(
    ids: ArrayLike<number>,
    mask: ArrayLike<number>,
    A: number,
    Ta: number,
  ): ActionSlots | null {
    if (Ta > this.length) return null;
    const keys: string[] = [];
    for (let a = 0; a < A; a++) {
      let n = 0;
      while (n < Ta && mask[a * Ta + n] === 1) n++;
      keys.push(Array.prototype.slice.call(ids, a * Ta, a * Ta + n).join(","));
    }
    const distinct = new Set(keys);
    if (distinct.size > this.capacity) return null;
    let missing = 0;
    for (const k of distinct) if (!this.#slotOf.has(k)) missing++;
    if (this.#next + missing > this.capacity) this.clear();
    const start = this.#next, fresh: number[] = [], slots = new Uint32Array(A);
    keys.forEach((k, a) => {
      let s = this.#slotOf.get(k);
      if (s === undefined) {
        s = this.#next++;
        this.#slotOf.set(k, s);
        fresh.push(a);
        this.misses++;
      } else this.hits++;
      slots[a] = s;
    });
    return { slots, fresh, start };
  }

  /** Forgets every encoding (the buffer is reused). */
  clear(): void {
    this.#slotOf.clear();
    this.#next = 0;
  }

  destroy(): void {
    this.clear();
    this.encodings.destroy();
  }
}
