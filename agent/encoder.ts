/**
 * Env observations and actions to choice-model inputs, as WebShop's baseline encodes them
 * (baseline_models/agent.py `encode`, train_choice_il.py `process`): each text is lower-cased and
 * cleaned by `process()` (quotes dropped, `[SEP]` restored), tokenized with `[CLS] … [SEP]` and
 * truncated from the LEFT (the tokenizer is made with `truncation_side='left'`), then a batch of
 * decisions is padded with the tokenizer's pad id to its longest state and action.
 *
 * Many decisions at once are split into batches of similar state length
 * ({@linkcode AgentEncoder.batches}), so that little of each submit is padding: states run from
 * ~20 to 384 tokens on the embedded default (mean ~160), and one long state in a batch pads every
 * other state to its length (32 decisions sorted and cut in length: 18 ms a decision instead of
 * 25, nano model on lavapipe).
 *
 * @module
 */

import { type ChoiceBatch, packChoiceBatch } from "../model/choice_model.ts";
import type { BertTokenizer } from "../model/tokenizer.ts";

/** Token lengths (special tokens included). WebShop: states 512, actions 128 (IL) / 64 (RL). */
export interface EncoderConfig {
  /** Longest state; longer ones lose tokens from the left. */
  stateLen: number;
  /** Longest action; longer ones lose tokens from the left. */
  actionLen: number;
}

/** One decision: the state text and its valid actions. */
export interface DecisionText {
  state: string;
  actions: readonly string[];
}

/**
 * The cost of one scoring submit, in state tokens: a fixed part per submit and, per decision, a
 * fixed part (its actions) plus its state's padded length. Measured with the nano model on
 * lavapipe (25 ms a submit, 8.7 ms a decision's actions, 0.042 ms a padded state token); on a
 * GPU the exact weights matter little, as every submit is cheap there.
 */
export const BATCH_COST = { submit: 600, decision: 200 } as const;

/**
 * Where to cut ascending state `lengths` into batches of at most `maxBatch` so that the summed
 * {@linkcode BATCH_COST} is least (dynamic programming over the cut points): the cut indices,
 * from 0 to `lengths.length`.
 */
export function cheapestCuts(lengths: readonly number[], maxBatch: number): number[] {
  const n = lengths.length;
  const best = new Float64Array(n + 1).fill(Infinity), from = new Int32Array(n + 1);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    // A batch i..j-1 pads to lengths[j - 1], its longest.
    const perDecision = BATCH_COST.decision + lengths[j - 1];
    for (let i = Math.max(0, j - maxBatch); i < j; i++) {
      const cost = best[i] + BATCH_COST.submit + (j - i) * perDecision;
      if (cost < best[j]) {
        best[j] = cost;
        from[j] = i;
      }
    }
  }
  const cuts = [n];
  while (cuts[0] > 0) cuts.unshift(from[cuts[0]]);
  return cuts;
}

/** A batch of decisions and where each came from in the list given. */
export interface IndexedBatch {
  batch: ChoiceBatch;
  /** `indices[j]`: the position, in the list given, of the batch's decision j. */
  indices: number[];
}

/** Encodes decisions for the choice model, caching action encodings (buttons repeat). */
export class AgentEncoder {
  readonly tokenizer: BertTokenizer;
  readonly config: EncoderConfig;
  readonly #actionCache = new Map<string, number[]>();

  constructor(tokenizer: BertTokenizer, config: EncoderConfig) {
    for (const k of ["stateLen", "actionLen"] as const) {
      if (!Number.isInteger(config[k]) || config[k] < 3) {
        throw new RangeError(`AgentEncoder: ${k} must be an integer >= 3, got ${config[k]}`);
      }
    }
    this.tokenizer = tokenizer;
    this.config = { ...config };
  }

  /** Token ids of a state. */
  state(text: string): number[] {
    return this.tokenizer.encodeState(text, this.config.stateLen);
  }

  /** Token ids of an action (cached). */
  action(text: string): number[] {
    let ids = this.#actionCache.get(text);
    if (!ids) {
      ids = this.tokenizer.encodeAction(text, this.config.actionLen);
      if (this.#actionCache.size > 100_000) this.#actionCache.clear();
      this.#actionCache.set(text, ids);
    }
    return ids;
  }

  /** A padded batch of decisions (pad id from the tokenizer, padded to the longest). */
  batch(decisions: readonly DecisionText[]): ChoiceBatch {
    if (decisions.length === 0) throw new RangeError("AgentEncoder.batch: no decisions");
    return this.#pack(decisions, decisions.map((d) => this.state(d.state)));
  }

  /**
   * Decisions in batches of at most `maxBatch`, each of similar state length: sorted by it (ties
   * keep their order) and cut where {@linkcode BATCH_COST}'s cost of padding and submits is least.
   * Every decision is in exactly one batch.
   */
  batches(decisions: readonly DecisionText[], maxBatch: number): IndexedBatch[] {
    if (decisions.length === 0) throw new RangeError("AgentEncoder.batches: no decisions");
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(
        `AgentEncoder.batches: maxBatch must be an integer >= 1, got ${maxBatch}`,
      );
    }
    const states = decisions.map((d) => this.state(d.state));
    const order = decisions.map((_, i) => i).sort((a, b) =>
      states[a].length - states[b].length || a - b
    );
    const cuts = cheapestCuts(order.map((i) => states[i].length), maxBatch);
    return cuts.slice(1).map((end, c) => {
      const indices = order.slice(cuts[c], end);
      const batch = this.#pack(indices.map((i) => decisions[i]), indices.map((i) => states[i]));
      return { batch, indices };
    });
  }

  #pack(decisions: readonly DecisionText[], states: number[][]): ChoiceBatch {
    decisions.forEach((d, i) => {
      if (d.actions.length === 0) {
        throw new RangeError(`AgentEncoder.batch: decision ${i} has no valid actions`);
      }
    });
    return packChoiceBatch(
      states,
      decisions.map((d) => d.actions.map((a) => this.action(a))),
      { padId: this.tokenizer.padId },
    );
  }
}
