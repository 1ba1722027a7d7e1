/**
 * BERT (Devlin et al. 2019) on the WebGPU compute core, forward and backward, with Hugging Face
 * parameter names so `bert-base-uncased` and WebShop's checkpoints load as they are.
 *
 * Per layer (N = B·T rows, Hugging Face's post-LayerNorm BertLayer):
 *   q, k, v = x·Wᵀ + b;  ctx = attention(q, k, v, mask);  res1 = x + drop(ctx·Woᵀ + bo)
 *   h1 = LN1(res1);  act = gelu(h1·Wiᵀ + bi);  res2 = h1 + drop(act·Wo2ᵀ + bo2);  x' = LN2(res2)
 * The backward calls the backward launchers in reverse order (llm.c style): activation
 * gradients are assigned into scratch, parameter gradients accumulate.
 *
 * @module
 */

import type { Batch, Gpu } from "../kernels/device.ts";
import { GpuError } from "../kernels/device.ts";
import {
  assertDType,
  assertSize,
  type HostTensor,
  numel,
  shapeText,
  type Tensor,
  tensor,
} from "../kernels/tensor.ts";
import { attentionBackward, attentionForward } from "../kernels/attention.ts";
import { dropoutBackward, dropoutForward } from "../kernels/dropout.ts";
import { embeddingBackward, embeddingForward } from "../kernels/embedding.ts";
import { geluBackward, geluForward } from "../kernels/activation.ts";
import { layernormBackward, layernormForward } from "../kernels/layernorm.ts";
import { linearBackward, linearForward } from "../kernels/matmul.ts";
import { addInto, residualForward } from "../kernels/residual.ts";
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

/** Sizes of one forward: B sequences of T tokens. */
export interface BertDims {
  B: number;
  T: number;
}

/** One layer's saved activations (shapes with N = B·T rows). */
interface LayerActs {
  q: Tensor; // (N, C)
  k: Tensor; // (N, C)
  v: Tensor; // (N, C)
  probs: Tensor; // (B, H, T, T)
  ctx: Tensor; // (N, C) attention output before the dense layer
  res1: Tensor; // (N, C) x + dropout(dense(ctx)), LayerNorm 1's input
  mean1: Tensor; // (N)
  rstd1: Tensor; // (N)
  h1: Tensor; // (N, C) LayerNorm 1's output
  pre: Tensor; // (N, I) intermediate dense output, GELU's input
  act: Tensor; // (N, I) GELU output
  res2: Tensor; // (N, C) h1 + dropout(dense(act)), LayerNorm 2's input
  mean2: Tensor; // (N)
  rstd2: Tensor; // (N)
}

/**
 * The activations of one use of the encoder (a "slot": the choice model encodes states and
 * actions separately, so each has its own), allocated once for at most `maxB`×`maxT` tokens.
 * Inference records share one set of layer buffers across layers; training records keep every
 * layer's for the backward.
 */
class BertRecord {
  readonly maxB: number;
  readonly maxT: number;
  readonly trainable: boolean;
  readonly addMask: Tensor; // (N) 0 keep, -10000 pad, as Hugging Face's extended mask
  readonly emb: Tensor; // (N, C) embedding sum, LayerNorm 0's input
  readonly mean0: Tensor;
  readonly rstd0: Tensor;
  readonly ln0: Tensor; // (N, C) LayerNorm 0's output, before dropout
  readonly xs: Tensor[]; // L+1 layer inputs (N, C); xs[L] is the last hidden state
  readonly layers: LayerActs[];
  readonly tmpA: Tensor; // (N, C) dense outputs before dropout
  readonly tmpB: Tensor; // (N, C) dropout outputs
  // Inputs and settings of the last forward, for the backward.
  dims: BertDims = { B: 0, T: 0 };
  ids: Tensor | null = null;
  typeIds: Tensor | null = null;
  train = false;
  seed = 0;
  forwarded = false;

  constructor(
    gpu: Gpu,
    c: BertConfig,
    maxB: number,
    maxT: number,
    trainable: boolean,
    label: string,
  ) {
    this.maxB = maxB;
    this.maxT = maxT;
    this.trainable = trainable;
    const N = maxB * maxT, C = c.hiddenSize, I = c.intermediateSize, H = c.numAttentionHeads;
    const t = (shape: number[], name: string) => tensor(gpu, shape, `${label} ${name}`);
    this.addMask = t([N], "additive mask");
    this.emb = t([N, C], "emb");
    this.mean0 = t([N], "emb mean");
    this.rstd0 = t([N], "emb rstd");
    this.ln0 = t([N, C], "emb ln");
    this.tmpA = t([N, C], "dense out");
    this.tmpB = t([N, C], "dropout out");
    const layer = (l: number | string): LayerActs => ({
      q: t([N, C], `l${l} q`),
      k: t([N, C], `l${l} k`),
      v: t([N, C], `l${l} v`),
      probs: t([maxB, H, maxT, maxT], `l${l} probs`),
      ctx: t([N, C], `l${l} ctx`),
      res1: t([N, C], `l${l} res1`),
      mean1: t([N], `l${l} mean1`),
      rstd1: t([N], `l${l} rstd1`),
      h1: t([N, C], `l${l} h1`),
      pre: t([N, I], `l${l} pre`),
      act: t([N, I], `l${l} act`),
      res2: t([N, C], `l${l} res2`),
      mean2: t([N], `l${l} mean2`),
      rstd2: t([N], `l${l} rstd2`),
    });
    const L = c.numHiddenLayers;
    if (trainable) {
      this.layers = Array.from({ length: L }, (_, l) => layer(l));
      this.xs = Array.from({ length: L + 1 }, (_, l) => t([N, C], `x${l}`));
    } else {
      const shared = layer("*");
      this.layers = Array.from({ length: L }, () => shared);
      const ping = t([N, C], "x even"), pong = t([N, C], "x odd");
      this.xs = Array.from({ length: L + 1 }, (_, l) => (l % 2 ? pong : ping));
    }
  }

  destroy(): void {
    const seen = new Set<Tensor>();
    const all = [this.addMask, this.emb, this.mean0, this.rstd0, this.ln0, this.tmpA, this.tmpB];
    all.push(...this.xs);
    for (const l of this.layers) all.push(...Object.values(l));
    for (const x of all) {
      if (!seen.has(x)) x.destroy();
      seen.add(x);
    }
  }
}

/** Backward scratch shared by every slot (sized for the largest). */
interface BertScratch {
  N: number;
  probsSize: number;
  g0: Tensor; // (N, C) ping
  g1: Tensor; // (N, C) pong
  t1: Tensor; // (N, C)
  t2: Tensor; // (N, C)
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  dI1: Tensor; // (N, I)
  dI2: Tensor; // (N, I)
  dProbs: Tensor; // (B, H, T, T)
}

/**
 * BERT's parameters and gradients on the GPU, with a forward and a backward recorded into a
 * {@linkcode Batch}, following Hugging Face's BertModel (post-LayerNorm, GELU, additive -10000
 * padding mask, dropout after embeddings, on attention probabilities, after each dense output).
 *
 * @example
 * ```ts
 * const bert = BertModel.create(gpu, BERT_PRESETS.tiny);
 * const b = gpu.batch("encode");
 * const hidden = bert.forward(b, ids, typeIds, mask, { B: 2, T: 16 }, false);
 * b.submit();
 * ```
 */
export class BertModel {
  readonly gpu: Gpu;
  readonly config: BertConfig;
  readonly prefix: string;
  readonly specs: readonly ParamSpec[];
  /** Every parameter by name without prefix. */
  readonly params: Map<string, Tensor>;
  /** Gradients of the trainable parameters by name without prefix. */
  readonly grads: Map<string, Tensor>;
  #records = new Map<string, BertRecord>();
  #scratch: BertScratch | null = null;
  #ones: Tensor | null = null;

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

  /** Trainable parameters with their gradients, full names (the pooler is not trained). */
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

  /** Reads every parameter back (full names). One sync point per tensor. */
  async readWeights(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const s of this.specs) {
      const data = await this.params.get(s.name)!.read() as Float32Array;
      out.set(this.prefix + s.name, { shape: [...s.shape], data });
    }
    return out;
  }

  /**
   * Allocates the activations of `slot` for up to `maxB` sequences of `maxT` tokens, once.
   * `trainable` keeps every layer's activations for {@linkcode BertModel.backward}; without it
   * layers share buffers (inference only). A later forward with larger dims reallocates.
   */
  reserve(slot: string, maxB: number, maxT: number, trainable: boolean): void {
    const c = this.config;
    if (!Number.isInteger(maxB) || maxB < 1 || !Number.isInteger(maxT) || maxT < 1) {
      throw new GpuError(`BertModel.reserve('${slot}'): bad sizes B=${maxB} T=${maxT}`);
    }
    if (maxT > c.maxPositionEmbeddings) {
      throw new GpuError(
        `BertModel.reserve('${slot}'): T = ${maxT} exceeds max_position_embeddings ` +
          `${c.maxPositionEmbeddings}`,
      );
    }
    const old = this.#records.get(slot);
    if (old && old.maxB >= maxB && old.maxT >= maxT && (old.trainable || !trainable)) return;
    // The old buffers may still be referenced by recorded, unsubmitted work: let GC free them.
    this.#records.set(
      slot,
      new BertRecord(this.gpu, c, maxB, maxT, trainable, `${this.prefix}${slot}`),
    );
  }

  #onesFor(n: number): Tensor {
    if (!this.#ones || this.#ones.size < n) {
      this.#ones = tensor(this.gpu, [n], "bert ones", new Float32Array(n).fill(1));
    }
    return this.#ones;
  }

  /**
   * Records the forward pass: `ids` and `typeIds` u32 (B, T), `mask` f32 (B, T) (1 keep, 0 pad).
   * Returns the last hidden state (B, T, C), valid until the next forward of this `slot`.
   * `train` turns dropout on, with masks drawn from `seed` (pass a new seed each step).
   */
  forward(
    batch: Batch,
    ids: Tensor,
    typeIds: Tensor,
    mask: Tensor,
    dims: BertDims,
    train: boolean,
    seed = 0,
    slot = "main",
  ): Tensor {
    const op = `BertModel.forward('${slot}')`;
    const c = this.config, { B, T } = dims;
    const C = c.hiddenSize, I = c.intermediateSize, H = c.numAttentionHeads, D = C / H;
    const N = B * T;
    assertDType(op, "ids", ids, "u32");
    assertDType(op, "typeIds", typeIds, "u32");
    assertDType(op, "mask", mask, "f32");
    assertSize(op, "ids", ids, N);
    assertSize(op, "typeIds", typeIds, N);
    assertSize(op, "mask", mask, N);
    const have = this.#records.get(slot);
    if (!have || have.maxB < B || have.maxT < T || (train && !have.trainable)) {
      this.reserve(slot, Math.max(B, have?.maxB ?? 0), Math.max(T, have?.maxT ?? 0), true);
    }
    const r = this.#records.get(slot)!;
    r.dims = { B, T };
    r.ids = ids;
    r.typeIds = typeIds;
    r.train = train;
    r.seed = seed >>> 0;
    r.forwarded = true;
    const pH = train ? c.hiddenDropoutProb : 0, pA = train ? c.attentionProbsDropoutProb : 0;
    const P = (n: string) => this.params.get(n)!;
    const eps = c.layerNormEps;
    // Hugging Face's extended mask: (1 - mask)·(-10000) = 10000·mask - 10000.
    residualForward(batch, r.addMask, mask, this.#onesFor(N), N, {
      scaleA: 10000,
      scaleB: -10000,
    });
    embeddingForward(
      batch,
      r.emb,
      ids,
      typeIds,
      P("embeddings.word_embeddings.weight"),
      P("embeddings.position_embeddings.weight"),
      P("embeddings.token_type_embeddings.weight"),
      { B, T, C },
    );
    layernormForward(
      batch,
      pH > 0 ? r.ln0 : r.xs[0],
      r.mean0,
      r.rstd0,
      r.emb,
      P("embeddings.LayerNorm.weight"),
      P("embeddings.LayerNorm.bias"),
      { N, C, eps },
    );
    if (pH > 0) {
      // Each dropout site gets its own seed, derived from the forward's.
      dropoutForward(batch, r.xs[0], r.ln0, N * C, { p: pH, seed: seedFor(r.seed, "emb") });
    }
    for (let l = 0; l < c.numHiddenLayers; l++) {
      const a = r.layers[l], x = r.xs[l], p = `encoder.layer.${l}.`;
      const lin = (y: Tensor, inp: Tensor, name: string, inF: number, outF: number) =>
        linearForward(batch, y, inp, P(p + name + ".weight"), P(p + name + ".bias"), {
          rows: N,
          inF,
          outF,
        });
      lin(a.q, x, "attention.self.query", C, C);
      lin(a.k, x, "attention.self.key", C, C);
      lin(a.v, x, "attention.self.value", C, C);
      attentionForward(batch, a.ctx, a.probs, a.q, a.k, a.v, r.addMask, {
        B,
        T,
        H,
        D,
        dropoutP: pA,
        seed: seedFor(r.seed, `attn${l}`),
      });
      lin(r.tmpA, a.ctx, "attention.output.dense", C, C);
      let ao = r.tmpA;
      if (pH > 0) {
        dropoutForward(batch, r.tmpB, r.tmpA, N * C, { p: pH, seed: seedFor(r.seed, `ao${l}`) });
        ao = r.tmpB;
      }
      residualForward(batch, a.res1, x, ao, N * C);
      layernormForward(
        batch,
        a.h1,
        a.mean1,
        a.rstd1,
        a.res1,
        P(p + "attention.output.LayerNorm.weight"),
        P(p + "attention.output.LayerNorm.bias"),
        { N, C, eps },
      );
      lin(a.pre, a.h1, "intermediate.dense", C, I);
      geluForward(batch, a.act, a.pre, N * I);
      lin(r.tmpA, a.act, "output.dense", I, C);
      let fo = r.tmpA;
      if (pH > 0) {
        dropoutForward(batch, r.tmpB, r.tmpA, N * C, { p: pH, seed: seedFor(r.seed, `fo${l}`) });
        fo = r.tmpB;
      }
      residualForward(batch, a.res2, a.h1, fo, N * C);
      layernormForward(
        batch,
        r.xs[l + 1],
        a.mean2,
        a.rstd2,
        a.res2,
        P(p + "output.LayerNorm.weight"),
        P(p + "output.LayerNorm.bias"),
        { N, C, eps },
      );
    }
    return r.xs[c.numHiddenLayers].view([B, T, C], `${this.prefix}${slot} hidden`);
  }

  /** The last hidden state (B·T, C) of the last forward of `slot`. */
  lastHidden(slot = "main"): Tensor {
    const r = this.#records.get(slot);
    if (!r || !r.forwarded) throw new GpuError(`BertModel.lastHidden('${slot}'): no forward yet`);
    const { B, T } = r.dims;
    return r.xs[this.config.numHiddenLayers].view([B * T, this.config.hiddenSize]);
  }

  #scratchFor(N: number, probsSize: number): BertScratch {
    const s = this.#scratch;
    if (s && s.N >= N && s.probsSize >= probsSize) return s;
    const n = Math.max(N, s?.N ?? 0), ps = Math.max(probsSize, s?.probsSize ?? 0);
    const C = this.config.hiddenSize, I = this.config.intermediateSize;
    const t = (shape: number[], name: string) => tensor(this.gpu, shape, `bert bwd ${name}`);
    this.#scratch = {
      N: n,
      probsSize: ps,
      g0: t([n, C], "g0"),
      g1: t([n, C], "g1"),
      t1: t([n, C], "t1"),
      t2: t([n, C], "t2"),
      dq: t([n, C], "dq"),
      dk: t([n, C], "dk"),
      dv: t([n, C], "dv"),
      dI1: t([n, I], "dI1"),
      dI2: t([n, I], "dI2"),
      dProbs: t([ps], "dProbs"),
    };
    return this.#scratch;
  }

  /**
   * Records the backward pass of the last forward of `slot` from `dHidden` (B, T, C);
   * accumulates into the parameter gradients (zero them first, e.g. with `zeroGrad`).
   */
  backward(batch: Batch, dHidden: Tensor, slot = "main"): void {
    const op = `BertModel.backward('${slot}')`;
    const r = this.#records.get(slot);
    if (!r || !r.forwarded) throw new GpuError(`${op}: no forward was recorded for this slot`);
    if (!r.trainable) throw new GpuError(`${op}: the slot was reserved for inference only`);
    const c = this.config, { B, T } = r.dims;
    const C = c.hiddenSize, I = c.intermediateSize, H = c.numAttentionHeads, D = C / H;
    const N = B * T;
    assertSize(op, "dHidden", dHidden, N * C);
    const pH = r.train ? c.hiddenDropoutProb : 0, pA = r.train ? c.attentionProbsDropoutProb : 0;
    const s = this.#scratchFor(N, B * H * T * T);
    const P = (n: string) => this.params.get(n)!;
    const G = (n: string) => this.grads.get(n)!;
    let cur = dHidden, out = s.g0;
    for (let l = c.numHiddenLayers - 1; l >= 0; l--) {
      const a = r.layers[l], p = `encoder.layer.${l}.`;
      const linB = (
        dX: Tensor | null,
        dY: Tensor,
        x: Tensor,
        name: string,
        inF: number,
        outF: number,
      ) =>
        linearBackward(
          batch,
          dX,
          G(p + name + ".weight"),
          G(p + name + ".bias"),
          dY,
          x,
          P(p + name + ".weight"),
          { rows: N, inF, outF },
        );
      layernormBackward(
        batch,
        out,
        G(p + "output.LayerNorm.weight"),
        G(p + "output.LayerNorm.bias"),
        cur,
        a.res2,
        a.mean2,
        a.rstd2,
        P(p + "output.LayerNorm.weight"),
        { N, C },
      );
      let dfo = out;
      if (pH > 0) {
        dropoutBackward(batch, s.t1, out, N * C, { p: pH, seed: seedFor(r.seed, `fo${l}`) });
        dfo = s.t1;
      }
      linB(s.dI1, dfo, a.act, "output.dense", I, C);
      geluBackward(batch, s.dI2, s.dI1, a.pre, N * I);
      linB(s.t2, s.dI2, a.h1, "intermediate.dense", C, I);
      addInto(batch, s.t2, out, N * C);
      layernormBackward(
        batch,
        out,
        G(p + "attention.output.LayerNorm.weight"),
        G(p + "attention.output.LayerNorm.bias"),
        s.t2,
        a.res1,
        a.mean1,
        a.rstd1,
        P(p + "attention.output.LayerNorm.weight"),
        { N, C },
      );
      let dao = out;
      if (pH > 0) {
        dropoutBackward(batch, s.t1, out, N * C, { p: pH, seed: seedFor(r.seed, `ao${l}`) });
        dao = s.t1;
      }
      linB(s.t2, dao, a.ctx, "attention.output.dense", C, C);
      attentionBackward(batch, s.dq, s.dk, s.dv, s.t2, a.probs, a.q, a.k, a.v, s.dProbs, {
        B,
        T,
        H,
        D,
        dropoutP: pA,
        seed: seedFor(r.seed, `attn${l}`),
      });
      const x = r.xs[l];
      linB(s.t1, s.dq, x, "attention.self.query", C, C);
      addInto(batch, out, s.t1, N * C);
      linB(s.t1, s.dk, x, "attention.self.key", C, C);
      addInto(batch, out, s.t1, N * C);
      linB(s.t1, s.dv, x, "attention.self.value", C, C);
      addInto(batch, out, s.t1, N * C);
      cur = out;
      out = out === s.g0 ? s.g1 : s.g0;
    }
    let dln0 = cur;
    if (pH > 0) {
      dropoutBackward(batch, s.t1, cur, N * C, { p: pH, seed: seedFor(r.seed, "emb") });
      dln0 = s.t1;
    }
    layernormBackward(
      batch,
      s.t2,
      G("embeddings.LayerNorm.weight"),
      G("embeddings.LayerNorm.bias"),
      dln0,
      r.emb,
      r.mean0,
      r.rstd0,
      P("embeddings.LayerNorm.weight"),
      { N, C },
    );
    embeddingBackward(
      batch,
      G("embeddings.word_embeddings.weight"),
      G("embeddings.position_embeddings.weight"),
      G("embeddings.token_type_embeddings.weight"),
      s.t2,
      r.ids!,
      r.typeIds!,
      { B, T, C, V: c.vocabSize },
    );
  }

  /** Frees parameters, gradients and activations. */
  destroy(): void {
    for (const t of this.params.values()) t.destroy();
    for (const t of this.grads.values()) t.destroy();
    for (const r of this.#records.values()) r.destroy();
    this.#records.clear();
    const s = this.#scratch;
    if (s) { for (const t of Object.values(s)) if (typeof t !== "number") t.destroy(); }
    this.#scratch = null;
    this.#ones?.destroy();
    this.#ones = null;
  }
}

/** Matmul FLOPs of one BERT forward over B×T tokens (2·m·n·k per product; backward is ~2×). */
export function bertForwardFlops(c: BertConfig, B: number, T: number): number {
  const N = B * T, C = c.hiddenSize, I = c.intermediateSize;
  const perLayer = 2 * N * C * C * 4 + 2 * N * C * I * 2 + 2 * 2 * B * T * T * C;
  return perLayer * c.numHiddenLayers;
}
