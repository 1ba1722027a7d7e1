/**
 * Test inputs of the choice model shared by model and trainer tests: a batch of three decisions
 * of different sizes (for `TINY_BERT`).
 *
 * @module
 */

import { rng } from "../testing/numeric.ts";
import { TINY_BERT } from "../testing/tiny_bert.ts";
import type { ChoiceBatch } from "./choice_model.ts";
import type { ChoiceRefInputs } from "./reference.ts";

/** 3 states of up to 10 tokens with 3, 1 and 4 actions of up to 6 tokens. */
export function decisions(
  seed: number,
  V = TINY_BERT.vocabSize,
): { states: number[][]; actions: number[][][] } {
  const r = rng(seed);
  const toks = (
    n: number,
  ) => [2, ...Array.from({ length: n - 2 }, () => 5 + Math.floor(r() * (V - 5))), 3];
  const stateLens = [10, 7, 4], sizes = [3, 1, 4], actionLens = [6, 3, 5, 4, 2, 6, 3, 5];
  let k = 0;
  return {
    states: stateLens.map(toks),
    actions: sizes.map((n) => Array.from({ length: n }, () => toks(actionLens[k++]))),
  };
}

export function refInputs(b: ChoiceBatch): ChoiceRefInputs {
  return {
    S: b.sizes.length,
    Ts: b.stateLen,
    stateIds: b.stateIds,
    stateMask: b.stateMask,
    A: b.sizes.reduce((x, y) => x + y, 0),
    Ta: b.actionLen,
    actionIds: b.actionIds,
    actionMask: b.actionMask,
    sizes: b.sizes,
    images: b.images,
  };
}
