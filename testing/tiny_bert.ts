/**
 * The one tiny BERT of the model and trainer tests.
 *
 * @module
 */

import { BERT_PRESETS, type BertConfig } from "../model/config.ts";

/** The tiny test BERT: 2 layers, C 32, 2 heads, I 64, vocab 50 (dropout stays 0.1: eval). */
export const TINY_BERT: BertConfig = {
  ...BERT_PRESETS.tiny,
  vocabSize: 50,
  hiddenSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 64,
  maxPositionEmbeddings: 16,
  initializerRange: 0.2,
};
