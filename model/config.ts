/**
 * BERT's configuration, read from and written to Hugging Face's `config.json` field names, with
 * the presets the benchmarks and tests use.
 *
 * @module
 */

/** The shape and regularisation of a BERT encoder (Hugging Face `BertConfig` fields). */
export interface BertConfig {
  /** Rows of the word-embedding table, V (bert-base-uncased: 30522; WebShop resizes to 30526). */
  vocabSize: number;
  /** Channels C of every hidden state (768 for base). */
  hiddenSize: number;
  /** Number of transformer layers L. */
  numHiddenLayers: number;
  /** Attention heads H; `hiddenSize` must be a multiple of it (head size D = C / H). */
  numAttentionHeads: number;
  /** Width of the feed-forward layer (4C in every preset). */
  intermediateSize: number;
  /** Rows of the position-embedding table: the longest sequence T the model accepts. */
  maxPositionEmbeddings: number;
  /** Rows of the token-type (segment) embedding table (2 for BERT). */
  typeVocabSize: number;
  /** Epsilon of every LayerNorm (1e-12 in BERT). */
  layerNormEps: number;
  /** Dropout probability after the embeddings, attention output and feed-forward (0.1). */
  hiddenDropoutProb: number;
  /** Dropout probability on the attention probabilities (0.1). */
  attentionProbsDropoutProb: number;
  /** Standard deviation of the normal init of Linear and Embedding weights (0.02). */
  initializerRange: number;
}

const DEFAULTS = {
  vocabSize: 30522,
  maxPositionEmbeddings: 512,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  hiddenDropoutProb: 0.1,
  attentionProbsDropoutProb: 0.1,
  initializerRange: 0.02,
} as const;

function preset(l: number, h: number, a: number, i: number): BertConfig {
  return {
    ...DEFAULTS,
    hiddenSize: h,
    numHiddenLayers: l,
    numAttentionHeads: a,
    intermediateSize: i,
  };
}

/**
 * Google's BERT sizes (Turc et al. 2019, "Well-Read Students Learn Better", and the original
 * base): vocab 30522, 512 positions, 2 token types, eps 1e-12, dropout 0.1, init 0.02.
 */
export const BERT_PRESETS: {
  readonly tiny: BertConfig;
  readonly mini: BertConfig;
  readonly small: BertConfig;
  readonly base: BertConfig;
} = {
  tiny: preset(2, 128, 2, 512),
  mini: preset(4, 256, 4, 1024),
  small: preset(4, 512, 8, 2048),
  base: preset(12, 768, 12, 3072),
};

/** Throws a RangeError naming `where` and the field unless `c` is a usable configuration. */
export function validateBertConfig(c: BertConfig, where = "BertConfig"): BertConfig {
  const posInt = (k: keyof BertConfig) => {
    const v = c[k];
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(`${where}: ${k} must be a positive integer, got ${v}`);
    }
  };
  const prob = (k: keyof BertConfig) => {
    const v = c[k];
    if (typeof v !== "number" || !(v >= 0 && v < 1)) {
      throw new RangeError(`${where}: ${k} must be a probability in [0, 1), got ${v}`);
    }
  };
  for (
    const k of [
      "vocabSize",
      "hiddenSize",
      "numHiddenLayers",
      "numAttentionHeads",
      "intermediateSize",
      "maxPositionEmbeddings",
      "typeVocabSize",
    ] as const
  ) posInt(k);
  prob("hiddenDropoutProb");
  prob("attentionProbsDropoutProb");
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    throw new RangeError(
      `${where}: hiddenSize ${c.hiddenSize} is not a multiple of numAttentionHeads ` +
        `${c.numAttentionHeads}`,
    );
  }
  if (!(c.layerNormEps > 0) || !Number.isFinite(c.layerNormEps)) {
    throw new RangeError(`${where}: layerNormEps must be positive, got ${c.layerNormEps}`);
  }
  if (!(c.initializerRange >= 0) || !Number.isFinite(c.initializerRange)) {
    throw new RangeError(
      `${where}: initializerRange must be non-negative, got ${c.initializerRange}`,
    );
  }
  return c;
}

/** Hugging Face field name of each config field. */
const HF_NAMES: Record<keyof BertConfig, string> = {
  vocabSize: "vocab_size",
  hiddenSize: "hidden_size",
  numHiddenLayers: "num_hidden_layers",
  numAttentionHeads: "num_attention_heads",
  intermediateSize: "intermediate_size",
  maxPositionEmbeddings: "max_position_embeddings",
  typeVocabSize: "type_vocab_size",
  layerNormEps: "layer_norm_eps",
  hiddenDropoutProb: "hidden_dropout_prob",
  attentionProbsDropoutProb: "attention_probs_dropout_prob",
  initializerRange: "initializer_range",
};

/**
 * Reads a Hugging Face BERT `config.json` object. Fields with BERT defaults (type vocab, eps,
 * dropouts, init, max positions) may be absent; the shape fields are required. Only the GELU
 * activation and absolute position embeddings are supported. Errors name `file` and the field.
 *
 * @example
 * ```ts
 * const c = bertConfigFromHF({ vocab_size: 30526, hidden_size: 768, num_hidden_layers: 12,
 *   num_attention_heads: 12, intermediate_size: 3072 }, "config.json");
 * ```
 */
export function bertConfigFromHF(json: Record<string, unknown>, file = "config.json"): BertConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(`${file}: a BERT config must be a JSON object`);
  }
  const read = (k: keyof BertConfig, required: boolean): number => {
    const name = HF_NAMES[k];
    const v = json[name];
    if (v === undefined) {
      if (required) throw new RangeError(`${file}: missing field '${name}'`);
      return (DEFAULTS as Record<string, number>)[k];
    }
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new TypeError(`${file}: field '${name}' must be a number, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const act = json["hidden_act"];
  if (act !== undefined && act !== "gelu") {
    throw new RangeError(`${file}: field 'hidden_act' is '${act}'; only 'gelu' is supported`);
  }
  const pos = json["position_embedding_type"];
  if (pos !== undefined && pos !== "absolute") {
    throw new RangeError(
      `${file}: field 'position_embedding_type' is '${pos}'; only 'absolute' is supported`,
    );
  }
  const c: BertConfig = {
    vocabSize: read("vocabSize", true),
    hiddenSize: read("hiddenSize", true),
    numHiddenLayers: read("numHiddenLayers", true),
    numAttentionHeads: read("numAttentionHeads", true),
    intermediateSize: read("intermediateSize", true),
    maxPositionEmbeddings: read("maxPositionEmbeddings", false),
    typeVocabSize: read("typeVocabSize", false),
    layerNormEps: read("layerNormEps", false),
    hiddenDropoutProb: read("hiddenDropoutProb", false),
    attentionProbsDropoutProb: read("attentionProbsDropoutProb", false),
    initializerRange: read("initializerRange", false),
  };
  return validateBertConfig(c, file);
}

/** Writes `c` as a Hugging Face `config.json` object (`model_type` "bert", GELU, absolute). */
export function bertConfigToHF(c: BertConfig): Record<string, unknown> {
  validateBertConfig(c);
  const out: Record<string, unknown> = {
    architectures: ["BertModel"],
    model_type: "bert",
    hidden_act: "gelu",
    position_embedding_type: "absolute",
    pad_token_id: 0,
  };
  for (const k of Object.keys(HF_NAMES) as (keyof BertConfig)[]) out[HF_NAMES[k]] = c[k];
  return out;
}
