/**
 * BERT (Devlin et al. 2019) on the WebGPU compute core, forward and backward, with Hugging Face
 * parameter names so `bert-base-uncased` and WebShop's checkpoints load as they are.
 *
 * @module
 */

import type { Batch, Gpu } from "../kernels/device.ts";
import { GpuError } from "../kernels/device.ts";
import { type HostTensor, numel, shapeText, type Tensor, tensor } from "../kernels/tensor.ts";
import { type BertConfig, validateBertConfig } from "./config.ts";
import { constantInit, normalInit, seedFor } from "./init.ts";

/** How a parameter is initialised when no weights are given. */
export type InitKind = "normal" | "zero" | "one";

/** One named parameter of the model: its shape, init and whether training updates it. */
export interface ParamSpec {
  /** Hugging Face name without the prefix, e.g. `encoder.layer.0.attention.self.query.weight`. */
  name: string;
  shape: number[];
  init: InitKind;
  /** False for the pooler, which WebShop's model never uses (it gets no gradient in PyTorch). */
  trainable: boolean;
}

/** The parameters of a BERT encoder with this config, in Hugging Face order. */
export function bertParamSpecs(c: BertConfig): ParamSpec[] {
  const C = c.hiddenSize, I = c.intermediateSize;
  const specs: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: InitKind, trainable = true) =>
    specs.push({ name, shape, init, trainable });
  const linear = (name: string, outF: number, inF: number, trainable = true) => {
    add(`${name}.weight`, [outF, inF], "normal", trainable);
    add(`${name}.bias`, [outF], "zero", trainable);
  };
  const layerNorm = (name: string) => {
    add(`${name}.weight`, [C], "one");
    add(`${name}.bias`, [C], "zero");
  };
  add("embeddings.word_embeddings.weight", [c.vocabSize, C], "normal");
  add("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, C], "normal");
  add("embeddings.token_type_embeddings.weight", [c.typeVocabSize, C], "normal");
  layerNorm("embeddings.LayerNorm");
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `encoder.layer.${l}`;
    linear(`${p}.attention.self.query`, C, C);
    linear(`${p}.attention.self.key`, C, C);
    linear(`${p}.attention.self.value`, C, C);
    linear(`${p}.attention.output.dense`, C, C);
    layerNorm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, I, C);
    linear(`${p}.output.dense`, C, I);
    layerNorm(`${p}.output.LayerNorm`);
  }
  linear("pooler.dense", C, C, false);
  return specs;
}

/**
 * Host weights of a fresh BERT as Hugging Face initialises it: normal(0, initializer_range) for
 * Linear and Embedding weights (row 0, the [PAD] embedding, zeroed as `padding_idx` does), zero
 * biases, LayerNorm weight 1 and bias 0. Keys carry `prefix`.
 */
export function initBertWeights(
  c: BertConfig,
  seed = 0,
  prefix = "bert.",
): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const s of bertParamSpecs(c)) {
    const n = numel(s.shape);
    const data = s.init === "normal"
      ? normalInit(n, c.initializerRange, seedFor(seed, s.name))
      : constantInit(n, s.init === "one" ? 1 : 0);
    if (s.name === "embeddings.word_embeddings.weight") data.fill(0, 0, c.hiddenSize);
    out.set(prefix + s.name, { shape: [...s.shape], data });
  }
  return out;
}

/** A parameter on the GPU with its gradient (null for frozen ones). */
export interface NamedParam {
  /** Full Hugging Face name, e.g. `bert.encoder.layer.0.attention.self.query.weight`. */
  name: string;
  param: Tensor;
  grad: Tensor;
}

/**
 * Checks `weights` against `specs` (names with `prefix`): every spec present with its shape.
 * Returns the names in `weights` that no spec claims. Throws naming missing or misshapen ones.
 */
export function checkWeights(
  where: string,
  specs: readonly ParamSpec[],
  weights: Map<string, HostTensor>,
  prefix: string,
): string[] {
  const missing: string[] = [], bad: string[] = [];
  const known = new Set<string>();
  for (const s of specs) {
    const name = prefix + s.name;
    known.add(name);
    const w = weights.get(name);
    if (!w) {
      missing.push(name);
      continue;
    }
    if (w.shape.length !== s.shape.length || w.shape.some((d, i) => d !== s.shape[i])) {
      bad.push(`${name} has shape ${shapeText(w.shape)}, expected ${shapeText(s.shape)}`);
    } else if (w.data.length !== numel(s.shape)) {
      bad.push(`${name} holds ${w.data.length} values, its shape needs ${numel(s.shape)}`);
    }
  }
  if (missing.length || bad.length) {
    const lines = [
      ...(missing.length ? [`missing ${missing.length}: ${missing.slice(0, 8).join(", ")}`] : []),
      ...bad.slice(0, 8),
    ];
    throw new GpuError(`${where}: weights do not fit the config:\n  ${lines.join("\n  ")}`);
  }
  return [...weights.keys()].filter((k) => !known.has(k));
}

/** Options of {@linkcode BertModel.create}. */
export interface BertOptions {
  /** Prefix of every parameter name, `"bert."` by default (WebShop's and BertModel's). */
  prefix?: string;
  /** Seed of the random init when no weights are given. */
  seed?: number;
}

/** BERT's parameters and gradients on the GPU. */
export class BertModel {
  readonly gpu: Gpu;
  readonly config: BertConfig;
  readonly prefix: string;
  readonly specs: readonly ParamSpec[];
  /** Every parameter by name without prefix. */
  readonly params: Map<string, Tensor>;
  /** Gradients of the trainable parameters by name without prefix. */
  readonly grads: Map<string, Tensor>;

  private constructor(gpu: Gpu, config: BertConfig, prefix: string) {
    this.gpu = gpu;
    this.config = validateBertConfig(config);
    this.prefix = prefix;
    this.specs = bertParamSpecs(config);
    this.params = new Map();
    this.grads = new Map();
    for (const s of this.specs) {
      this.params.set(s.name, tensor(gpu, s.shape, prefix + s.name));
      if (s.trainable) this.grads.set(s.name, tensor(gpu, s.shape, `grad ${prefix}${s.name}`));
    }
  }

  /**
   * A BERT on `gpu`: `weights` (Hugging Face names with `opts.prefix`) when given, else a seeded
   * random init as Hugging Face does it ({@linkcode initBertWeights}).
   */
  static create(
    gpu: Gpu,
    config: BertConfig,
    weights?: Map<string, HostTensor>,
    opts: BertOptions = {},
  ): BertModel {
    const prefix = opts.prefix ?? "bert.";
    const m = new BertModel(gpu, config, prefix);
    m.loadWeights(weights ?? initBertWeights(config, opts.seed ?? 0, prefix));
    return m;
  }

  /** Trainable parameters with their gradients, full names. */
  parameters(): NamedParam[] {
    return this.specs.filter((s) => s.trainable).map((s) => ({
      name: this.prefix + s.name,
      param: this.params.get(s.name)!,
      grad: this.grads.get(s.name)!,
    }));
  }

  /**
   * Uploads `w` (full names). Throws naming missing or misshapen tensors and names that belong to
   * no parameter under this prefix (other prefixes, e.g. a choice model's head, are ignored, as
   * is the `embeddings.position_ids` buffer old checkpoints carry).
   */
  loadWeights(w: Map<string, HostTensor>): void {
    const unknown = checkWeights("BertModel.loadWeights", this.specs, w, this.prefix)
      .filter((k) => k.startsWith(this.prefix) && !k.endsWith("embeddings.position_ids"));
    if (unknown.length) {
      throw new GpuError(
        `BertModel.loadWeights: ${unknown.length} unknown tensor(s) under '${this.prefix}': ` +
          unknown.slice(0, 8).join(", "),
      );
    }
    for (const s of this.specs) this.params.get(s.name)!.write(w.get(this.prefix + s.name)!.data);
  }

  /** Reads every parameter back (full names). A sync point per tensor. */
  async readWeights(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const s of this.specs) {
      const data = await this.params.get(s.name)!.read() as Float32Array;
      out.set(this.prefix + s.name, { shape: [...s.shape], data });
    }
    return out;
  }

  /**
   * Records the forward pass: `ids` and `typeIds` u32 (B, T), `mask` f32 (B, T) (1 keep, 0 pad).
   * Returns the last hidden state (B, T, C), valid until the next forward of this slot.
   */
  forward(
    _batch: Batch,
    _ids: Tensor,
    _typeIds: Tensor,
    _mask: Tensor,
    _dims: { B: number; T: number },
    _train: boolean,
    _seed = 0,
  ): Tensor {
    throw new GpuError("BertModel.forward: waiting for the kernels to land");
  }

  /** Records the backward pass of the last forward; accumulates into the parameter grads. */
  backward(_batch: Batch, _dHidden: Tensor): void {
    throw new GpuError("BertModel.backward: waiting for the kernels to land");
  }
}
