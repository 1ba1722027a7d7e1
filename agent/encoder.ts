/**
 * Env observations and actions to choice-model inputs, as WebShop's baseline encodes them
 * (baseline_models/agent.py `encode`, train_choice_il.py `process`): each text is lower-cased and
 * cleaned by `process()` (quotes dropped, `[SEP]` restored), tokenized with `[CLS] … [SEP]` and
 * truncated from the LEFT (the tokenizer is made with `truncation_side='left'`), then a batch of
 * decisions is padded with the tokenizer's pad id to its longest state and action.
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
    decisions.forEach((d, i) => {
      if (d.actions.length === 0) {
        throw new RangeError(`AgentEncoder.batch: decision ${i} has no valid actions`);
      }
    });
    return packChoiceBatch(
      decisions.map((d) => this.state(d.state)),
      decisions.map((d) => d.actions.map((a) => this.action(a))),
      { padId: this.tokenizer.padId },
    );
  }
}
