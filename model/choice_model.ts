/**
 * WebShop's choice model (`BertModelForWebshop`, baseline_models/models/bert.py) on the WebGPU
 * compute core, forward and backward, batched over many decisions.
 *
 * One decision is a state (its token ids) and its valid actions (token ids each). Per batch of S
 * states with A actions in all (the actions of state s are a contiguous group of sizes[s]):
 *   hs = BERT(states) (S, Ts, C);  ha = BERT(actions) (A, Ta, C)   (one encoder, two passes)
 *   mem = [image_linear(image);] hs                                  (S, Tm, C), Tm = Ts (+1)
 *   cat = BiAttention(ha, mem[s(a)], memMask[s(a)])                  (A, Ta, 4C)
 *   z = relu(linear_1(cat));  pooled = mean of z over the action's tokens          (A, C)
 *   score = linear_2(pooled) (A);  logp = log-softmax of score within each group     (A)
 *   value = linear_3.2(leaky_relu(linear_3.0(hs[:, 0])))    (S), the RL value head on [CLS]
 *   loss = mean over states of −logp[label]                   (WebShop's imitation loss)
 * WebShop repeats each state's encoding once per action; here BiAttention indexes the state of
 * each action instead (same values, no copies), and its gradient sums over the group.
 *
 * Differences from WebShop's code, all equal in value: the value head reuses the state encoding
 * of the same forward (WebShop runs BERT on the state again; identical in eval mode, a different
 * dropout mask in train mode); padding of actions is to the batch's longest action (WebShop's
 * imitation collator does the same; its RL forward pads per state), and BiAttention's second
 * softmax runs over padded action positions as WebShop's does, so the padded length matters a
 * little, exactly as in WebShop.
 *
 * @module
 */

import type { Batch, Gpu } from "../kernels/device.ts";
import { GpuError } from "../kernels/device.ts";
import { type HostTensor, numel, shapeText, Tensor, tensor } from "../kernels/tensor.ts";
import {
  biattentionBackward,
  type BiAttentionBuffers,
  biattentionBuffers,
  biattentionForward,
  writeBiAttentionIndex,
} from "../kernels/biattention.ts";
import { copyRows, gatherRows } from "../kernels/copy.ts";
import { linearBackward, linearForward } from "../kernels/matmul.ts";
import {
  leakyReluBackward,
  leakyReluForward,
  reluBackward,
  reluForward,
} from "../kernels/activation.ts";
import {
  gatherForward,
  maskedMeanBackward,
  maskedMeanForward,
  segmentLogSoftmaxBackward,
  segmentLogSoftmaxForward,
} from "../kernels/segment.ts";
import { zeroGrad } from "../kernels/adamw.ts";
import type { ActionCache, ActionSlots } from "./action_cache.ts";
import { type BertConfig, validateBertConfig } from "./config.ts";
import {
  bertForwardFlops,
  BertModel,
  checkWeights,
  initBertWeights,
  type NamedParam,
  type ParamSpec,
} from "./bert.ts";
import { seedFor, torchLinearInit, uniformInit } from "./init.ts";

/** The choice model's shape: a BERT plus WebShop's head. */
export interface ChoiceConfig {
  /** The shared encoder of states and actions. */
  bert: BertConfig;
  /**
   * WebShop's `image` flag (on in its released runs): `image_linear` maps an image feature to a
   * token prepended to each state's memory. Without a feature the token is `image_linear`'s
   * bias, as WebShop feeds zeros then.
   */
  image: boolean;
  /** Width of an image feature (512, CLIP's). */
  imageDim: number;
  /** Width of the value head's hidden layer (128 in WebShop). */
  valueHidden: number;
}

/** A choice config around `bert` with WebShop's head defaults (no image token). */
export function choiceConfig(
  bert: BertConfig,
  opts: Partial<Omit<ChoiceConfig, "bert">> = {},
): ChoiceConfig {
  const c = {
    bert,
    image: opts.image ?? false,
    imageDim: opts.imageDim ?? 512,
    valueHidden: opts.valueHidden ?? 128,
  };
  validateBertConfig(c.bert, "ChoiceConfig.bert");
  for (const k of ["imageDim", "valueHidden"] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) {
      throw new RangeError(`ChoiceConfig: ${k} must be a positive integer, got ${c[k]}`);
    }
  }
  return c;
}

/** Initialisation of a head parameter: PyTorch's default Linear init or dot_scale's. */
type HeadInit = { kind: "linear"; fanIn: number } | { kind: "dotScale" };

/** The head's parameters (WebShop names, no prefix) with their init. */
export function choiceHeadSpecs(c: ChoiceConfig): (ParamSpec & { headInit: HeadInit })[] {
  const C = c.bert.hiddenSize, V = c.valueHidden;
  const lin = (name: string, shape: number[], fanIn: number) => ({
    name,
    shape,
    init: "normal" as const,
    trainable: true,
    headInit: { kind: "linear" as const, fanIn },
  });
  const specs = [
    lin("attn.input_linear.weight", [1, C], C),
    lin("attn.memory_linear.weight", [1, C], C),
    {
      name: "attn.dot_scale",
      shape: [C],
      init: "normal" as const,
      trainable: true,
      headInit: { kind: "dotScale" as const },
    },
    lin("linear_1.weight", [C, 4 * C], 4 * C),
    lin("linear_1.bias", [C], 4 * C),
    lin("linear_2.weight", [1, C], C),
    lin("linear_2.bias", [1], C),
    lin("linear_3.0.weight", [V, C], C),
    lin("linear_3.0.bias", [V], C),
    lin("linear_3.2.weight", [1, V], V),
    lin("linear_3.2.bias", [1], V),
  ];
  if (c.image) {
    specs.push(lin("image_linear.weight", [C, c.imageDim], c.imageDim));
    specs.push(lin("image_linear.bias", [C], c.imageDim));
  }
  return specs;
}

/**
 * Host weights of a fresh choice model: BERT as Hugging Face initialises it (`bert.` prefix) and
 * WebShop's head as PyTorch does (uniform ±1/√fan_in; `dot_scale` uniform(1/√C, 1), as
 * `uniform_(1/√C)` draws).
 */
export function initChoiceWeights(c: ChoiceConfig, seed = 0): Map<string, HostTensor> {
  const out = initBertWeights(c.bert, seed, "bert.");
  const C = c.bert.hiddenSize;
  for (const s of choiceHeadSpecs(c)) {
    const n = numel(s.shape), sd = seedFor(seed, s.name);
    const data = s.headInit.kind === "linear"
      ? torchLinearInit(n, s.headInit.fanIn, sd)
      : uniformInit(n, 1 / Math.sqrt(C), 1, sd);
    out.set(s.name, { shape: [...s.shape], data });
  }
  return out;
}

/**
 * A batch of decisions on the CPU: S states padded to `stateLen` tokens and A actions padded to
 * `actionLen`, grouped by state in order. Masks are 1 for real tokens, 0 for padding; an
 * action's real tokens must come first (WebShop averages over its first mask-sum tokens).
 */
export interface ChoiceBatch {
  /** Tokens per state after padding, Ts. */
  stateLen: number;
  /** u32 ids (S·Ts). */
  stateIds: ArrayLike<number>;
  /** 1 keep, 0 pad (S·Ts). */
  stateMask: ArrayLike<number>;
  /** Tokens per action after padding, Ta. */
  actionLen: number;
  /** u32 ids (A·Ta). */
  actionIds: ArrayLike<number>;
  /** 1 keep, 0 pad (A·Ta). */
  actionMask: ArrayLike<number>;
  /** Valid actions per state (S entries, each at least 1, summing to A). */
  sizes: readonly number[];
  /** Image features (S·imageDim) for a model with an image token; zeros when absent. */
  images?: ArrayLike<number>;
}

/**
 * Pads token id lists into a {@linkcode ChoiceBatch}: `states[s]` and the id lists of its valid
 * actions `actions[s]`, padded with `padId` (default 0, BERT's [PAD]) to the longest (or to
 * `stateLen`/`actionLen`).
 */
export function packChoiceBatch(
  states: readonly (readonly number[])[],
  actions: readonly (readonly (readonly number[])[])[],
  opts: { stateLen?: number; actionLen?: number; padId?: number } = {},
): ChoiceBatch {
  if (states.length !== actions.length) {
    throw new RangeError(
      `packChoiceBatch: ${states.length} states but ${actions.length} action lists`,
    );
  }
  const flat = actions.flat();
  const Ts = opts.stateLen ?? Math.max(1, ...states.map((s) => s.length));
  const Ta = opts.actionLen ?? Math.max(1, ...flat.map((a) => a.length));
  const pad = (rows: readonly (readonly number[])[], T: number, what: string) => {
    const ids = new Uint32Array(rows.length * T).fill(opts.padId ?? 0);
    const mask = new Float32Array(rows.length * T);
    rows.forEach((r, i) => {
      if (r.length > T) {
        throw new RangeError(`packChoiceBatch: ${what} ${i} has ${r.length} tokens, over ${T}`);
      }
      ids.set(r, i * T);
      mask.fill(1, i * T, i * T + r.length);
    });
    return { ids, mask };
  };
  const st = pad(states, Ts, "state"), ac = pad(flat, Ta, "action");
  return {
    stateLen: Ts,
    stateIds: st.ids,
    stateMask: st.mask,
    actionLen: Ta,
    actionIds: ac.ids,
    actionMask: ac.mask,
    sizes: actions.map((a) => a.length),
  };
}

/** Sizes of the batch last uploaded with {@linkcode ChoiceModel.setInputs}. */
export interface ChoiceDims {
  /** States. */
  S: number;
  /** Actions in all. */
  A: number;
  /** Tokens per state (padded). */
  Ts: number;
  /** Tokens per action (padded). */
  Ta: number;
  /** Memory tokens per state: Ts, plus 1 with the image token. */
  Tm: number;
}

/** Largest batch the model's buffers hold; {@linkcode ChoiceModel.reserve} allocates it. */
export interface ChoiceCapacity {
  states: number;
  actions: number;
  stateLen: number;
  actionLen: number;
  /** Keep activations for backward (training); otherwise inference buffers only. */
  train: boolean;
}

/** Model activations and scratch for one capacity. */
interface ChoiceBuffers {
  cap: ChoiceCapacity;
  Tm: number;
  stateIds: Tensor;
  stateTypes: Tensor;
  stateMask: Tensor;
  actionIds: Tensor;
  actionTypes: Tensor;
  actionMask: Tensor;
  memMask: Tensor;
  offsets: Tensor;
  targets: Tensor;
  images: Tensor;
  bi: BiAttentionBuffers;
  imgTok: Tensor;
  mem: Tensor;
  cat: Tensor;
  pre1: Tensor;
  z: Tensor;
  pooled: Tensor;
  score: Tensor;
  logp: Tensor;
  cls: Tensor;
  vpre: Tensor;
  vact: Tensor;
  values: Tensor;
  chosen: Tensor;
  // Backward.
  dScore: Tensor;
  dPooled: Tensor;
  dZ: Tensor;
  dPre1: Tensor;
  dCat: Tensor;
  dHa: Tensor;
  dMem: Tensor;
  dHs: Tensor;
  dImg: Tensor;
  dVact: Tensor;
  dVpre: Tensor;
  dCls: Tensor;
}

/** Options of {@linkcode ChoiceModel.create}. */
export interface ChoiceModelOptions {
  /** Seed of the random init when no weights are given. */
  seed?: number;
}

/**
 * WebShop's `BertModelForWebshop` on the GPU: batched scoring of many decisions in one submit,
 * a training step recorded as one submit, and the pieces RL needs (log-probs of chosen actions,
 * backward from any dLogp, the value head).
 *
 * @example
 * ```ts
 * const model = ChoiceModel.create(gpu, choiceConfig(BERT_PRESETS.tiny));
 * const batch = packChoiceBatch([[101, 2000, 102]], [[[101, 3000, 102], [101, 4000, 102]]]);
 * const b = gpu.batch("score");
 * const { logp } = model.score(b, batch);
 * b.submit();
 * console.log(await logp.read()); // log-probs of the two actions
 * ```
 */
export class ChoiceModel {
  readonly gpu: Gpu;
  readonly config: ChoiceConfig;
  readonly bert: BertModel;
  readonly headSpecs: readonly ParamSpec[];
  /** Head parameters and gradients by WebShop name. */
  readonly head: Map<string, Tensor>;
  readonly headGrads: Map<string, Tensor>;
  #bufs: ChoiceBuffers | null = null;
  #dims: ChoiceDims | null = null;
  #forwarded: { train: boolean; values: boolean; cached: boolean } | null = null;
  #sizes: number[] = [];
  /** The uploaded actions on the host, for {@linkcode ActionCache} keys. */
  #actionsHost: { ids: ArrayLike<number>; mask: ArrayLike<number> } | null = null;
  /** Inputs and output of cached action encodings (grown as batches need). */
  #cacheIo: {
    rows: number;
    length: number;
    ids: Tensor;
    types: Tensor;
    mask: Tensor;
    slots: Tensor;
    ha: Tensor;
  } | null = null;

  private constructor(gpu: Gpu, config: ChoiceConfig, bert: BertModel) {
    this.gpu = gpu;
    this.config = config;
    this.bert = bert;
    this.headSpecs = choiceHeadSpecs(config);
    this.head = new Map();
    this.headGrads = new Map();
    for (const s of this.headSpecs) {
      this.head.set(s.name, tensor(gpu, s.shape, s.name));
      this.headGrads.set(s.name, tensor(gpu, s.shape, `grad ${s.name}`));
    }
  }

  /**
   * A choice model on `gpu` with `weights` (WebShop names: `bert.*`, `attn.*`, `linear_1.*`,
   * `linear_2.*`, `linear_3.0.*`, `linear_3.2.*`, `image_linear.*` with the image token), or a
   * seeded random init ({@linkcode initChoiceWeights}).
   */
  static create(
    gpu: Gpu,
    config: ChoiceConfig,
    weights?: Map<string, HostTensor>,
    opts: ChoiceModelOptions = {},
  ): ChoiceModel {
    const c = choiceConfig(config.bert, config);
    const w = weights ?? initChoiceWeights(c, opts.seed ?? 0);
    const m = new ChoiceModel(gpu, c, BertModel.create(gpu, c.bert, w, { prefix: "bert." }));
    m.#loadHead(w);
    return m;
  }

  /** Every trainable parameter with its gradient (BERT's, then the head's), WebShop names. */
  parameters(): NamedParam[] {
    return [
      ...this.bert.parameters(),
      ...this.headSpecs.map((s) => ({
        name: s.name,
        param: this.head.get(s.name)!,
        grad: this.headGrads.get(s.name)!,
      })),
    ];
  }

  /**
   * Uploads WebShop-named weights. Throws naming missing, misshapen and unknown tensors (an
   * `image_linear.*` without `config.image` is reported as such).
   */
  loadWeights(w: Map<string, HostTensor>): void {
    this.#checkHead(w);
    this.bert.loadWeights(w);
    this.#loadHead(w);
  }

  #checkHead(w: Map<string, HostTensor>): void {
    const unknown = checkWeights("ChoiceModel.loadWeights", this.headSpecs, w, "")
      .filter((k) => !k.startsWith("bert."));
    if (unknown.length) {
      const img = unknown.some((k) => k.startsWith("image_linear."))
        ? " (the weights have an image token: create the model with choiceConfig(..., { image: true }))"
        : "";
      throw new GpuError(
        `ChoiceModel.loadWeights: ${unknown.length} unknown tensor(s): ` +
          `${unknown.slice(0, 8).join(", ")}${img}`,
      );
    }
  }

  #loadHead(w: Map<string, HostTensor>): void {
    this.#checkHead(w);
    for (const s of this.headSpecs) this.head.get(s.name)!.write(w.get(s.name)!.data);
  }

  /** Reads every parameter back with WebShop names (BERT's pooler included). Syncs. */
  async readWeights(): Promise<Map<string, HostTensor>> {
    const out = await this.bert.readWeights();
    for (const s of this.headSpecs) {
      out.set(s.name, {
        shape: [...s.shape],
        data: await this.head.get(s.name)!.read() as Float32Array,
      });
    }
    return out;
  }

  /** The dims of the last {@linkcode ChoiceModel.setInputs}. */
  get dims(): ChoiceDims {
    if (!this.#dims) throw new GpuError("ChoiceModel: no inputs were set");
    return this.#dims;
  }

  /** Segment offsets (S + 1, u32) of the uploaded batch: the group of each state's actions. */
  get offsets(): Tensor {
    const d = this.dims;
    return this.#bufs!.offsets.view([d.S + 1]);
  }

  /** Valid actions per state of the uploaded batch. */
  get sizes(): readonly number[] {
    return this.#sizes;
  }

  /**
   * Allocates every buffer for batches up to `cap`, once (a larger batch reallocates). With
   * `train` BERT keeps every layer's activations for a backward; without it (the default of an
   * automatic reserve) the buffers are inference-only, and a later backward upgrades them.
   */
  reserve(cap: ChoiceCapacity): void {
    const old = this.#bufs?.cap;
    const fits = old && old.states >= cap.states && old.actions >= cap.actions &&
      old.stateLen >= cap.stateLen && old.actionLen >= cap.actionLen;
    if (fits && (old.train || !cap.train)) return;
    if (fits && cap.train) {
      // Only BERT's records depend on training; the head's buffers and the uploaded inputs stay.
      this.bert.reserve("state", old.states, old.stateLen, true);
      this.bert.reserve("action", old.actions, old.actionLen, true);
      old.train = true;
      return;
    }
    const c = this.config, C = c.bert.hiddenSize, V = c.valueHidden;
    const S = cap.states, A = cap.actions, Ts = cap.stateLen, Ta = cap.actionLen;
    for (const [k, v] of Object.entries({ S, A, Ts, Ta })) {
      if (!Number.isInteger(v) || v < 1) throw new GpuError(`ChoiceModel.reserve: ${k} = ${v}`);
    }
    const Tm = Ts + (c.image ? 1 : 0);
    this.bert.reserve("state", S, Ts, cap.train);
    this.bert.reserve("action", A, Ta, cap.train);
    const f = (shape: number[], name: string) => tensor(this.gpu, shape, `choice ${name}`);
    const u = (shape: number[], name: string) =>
      tensor(this.gpu, shape, `choice ${name}`, undefined, "u32");
    const mem = c.image ? f([S, Tm, C], "mem") : f([1], "mem (unused)");
    const dMem = c.image ? f([S, Tm, C], "dMem") : f([1], "dMem (unused)");
    this.#bufs = {
      cap: { ...cap },
      Tm,
      stateIds: u([S, Ts], "state ids"),
      stateTypes: u([S, Ts], "state types"),
      stateMask: f([S, Ts], "state mask"),
      actionIds: u([A, Ta], "action ids"),
      actionTypes: u([A, Ta], "action types"),
      actionMask: f([A, Ta], "action mask"),
      memMask: f([S, Tm], "memory mask"),
      offsets: u([S + 1], "offsets"),
      targets: u([S], "targets"),
      images: f([S, c.imageDim], "images"),
      bi: biattentionBuffers(this.gpu, { A, S, Ta, Tm, C }, "choice biattn"),
      imgTok: f([S, C], "image token"),
      mem,
      cat: f([A, Ta, 4 * C], "cat"),
      pre1: f([A, Ta, C], "linear_1 out"),
      z: f([A, Ta, C], "relu out"),
      pooled: f([A, C], "pooled"),
      score: f([A], "score"),
      logp: f([A], "logp"),
      cls: f([S, C], "cls"),
      vpre: f([S, V], "value pre"),
      vact: f([S, V], "value act"),
      values: f([S], "values"),
      chosen: f([S], "chosen logp"),
      dScore: f([A], "dScore"),
      dPooled: f([A, C], "dPooled"),
      dZ: f([A, Ta, C], "dZ"),
      dPre1: f([A, Ta, C], "dPre1"),
      dCat: f([A, Ta, 4 * C], "dCat"),
      dHa: f([A, Ta, C], "dHa"),
      dMem,
      dHs: f([S, Ts, C], "dHs"),
      dImg: f([S, C], "dImg"),
      dVact: f([S, V], "dVact"),
      dVpre: f([S, V], "dVpre"),
      dCls: f([S, C], "dCls"),
    };
  }

  /**
   * Validates and uploads a batch (queue writes, ordered before the next submit). Grows the
   * buffers when the batch is larger than the reserved capacity; `backward` makes them keep the
   * activations a backward needs (inference buffers otherwise).
   */
  setInputs(inp: ChoiceBatch, opts: { backward?: boolean } = {}): ChoiceDims {
    const op = "ChoiceModel.setInputs", c = this.config;
    const S = inp.sizes.length, A = inp.sizes.reduce((x, y) => x + y, 0);
    const Ts = inp.stateLen, Ta = inp.actionLen;
    if (S < 1) throw new GpuError(`${op}: the batch has no states`);
    inp.sizes.forEach((n, s) => {
      if (!Number.isInteger(n) || n < 1) {
        throw new GpuError(`${op}: state ${s} has ${n} valid actions (needs at least 1)`);
      }
    });
    const need = (name: string, arr: ArrayLike<number>, n: number) => {
      if (arr.length !== n) {
        throw new GpuError(`${op}: ${name} has ${arr.length} values, expected ${n}`);
      }
    };
    need("stateIds", inp.stateIds, S * Ts);
    need("stateMask", inp.stateMask, S * Ts);
    need("actionIds", inp.actionIds, A * Ta);
    need("actionMask", inp.actionMask, A * Ta);
    if (inp.images) need("images", inp.images, S * c.imageDim);
    const V = c.bert.vocabSize;
    const checkRows = (
      ids: ArrayLike<number>,
      mask: ArrayLike<number>,
      R: number,
      T: number,
      what: string,
      prefix: boolean,
    ) => {
      for (let r = 0; r < R; r++) {
        let len = 0, ended = false;
        for (let t = 0; t < T; t++) {
          const id = ids[r * T + t], m = mask[r * T + t];
          if (!Number.isInteger(id) || id < 0 || id >= V) {
            throw new GpuError(`${op}: ${what} ${r} token ${t} has id ${id}, vocab is ${V}`);
          }
          if (m !== 0 && m !== 1) {
            throw new GpuError(`${op}: ${what} ${r} mask ${t} is ${m}, not 0/1`);
          }
          if (m === 1) {
            if (ended && prefix) {
              throw new GpuError(`${op}: ${what} ${r} has a real token after padding (at ${t})`);
            }
            len++;
          } else ended = true;
        }
        if (len === 0) throw new GpuError(`${op}: ${what} ${r} has no real tokens`);
      }
    };
    checkRows(inp.stateIds, inp.stateMask, S, Ts, "state", false);
    checkRows(inp.actionIds, inp.actionMask, A, Ta, "action", true);
    const cap = this.#bufs?.cap;
    if (!cap || cap.states < S || cap.actions < A || cap.stateLen < Ts || cap.actionLen < Ta) {
      this.reserve({
        states: Math.max(S, cap?.states ?? 0),
        actions: Math.max(A, cap?.actions ?? 0),
        stateLen: Math.max(Ts, cap?.stateLen ?? 0),
        actionLen: Math.max(Ta, cap?.actionLen ?? 0),
        train: (cap?.train ?? false) || !!opts.backward,
      });
    } else if (opts.backward && !cap.train) this.reserve({ ...cap, train: true });
    const b = this.#bufs!;
    const Tm = Ts + (c.image ? 1 : 0), off = c.image ? 1 : 0;
    b.stateIds.write(inp.stateIds);
    b.stateMask.write(inp.stateMask);
    b.actionIds.write(inp.actionIds);
    b.actionMask.write(inp.actionMask);
    const memMask = new Float32Array(S * Tm);
    for (let s = 0; s < S; s++) {
      // WebShop's image token takes the mask of the state's first token.
      if (c.image) memMask[s * Tm] = inp.stateMask[s * Ts];
      for (let t = 0; t < Ts; t++) memMask[s * Tm + off + t] = inp.stateMask[s * Ts + t];
    }
    b.memMask.write(memMask);
    const offsets = new Uint32Array(S + 1);
    inp.sizes.forEach((n, s) => offsets[s + 1] = offsets[s] + n);
    b.offsets.write(offsets);
    writeBiAttentionIndex(b.bi, inp.sizes);
    if (c.image) b.images.write(inp.images ?? new Float32Array(S * c.imageDim));
    this.#dims = { S, A, Ts, Ta, Tm };
    this.#sizes = [...inp.sizes];
    this.#actionsHost = { ids: inp.actionIds, mask: inp.actionMask };
    this.#forwarded = null;
    return this.#dims;
  }

  /**
   * Records the forward of the uploaded batch. Returns log-probs (A) of every action within its
   * state's group and, with `values`, the value head's output (S). `train` turns dropout on.
   * `actionCache` (inference only; no backward follows) reads the actions' encodings from the
   * cache, encoding only the actions it does not hold.
   */
  forward(
    batch: Batch,
    opts: { train?: boolean; seed?: number; values?: boolean; actionCache?: ActionCache } = {},
  ): { logp: Tensor; values: Tensor | null } {
    const d = this.dims, b = this.#bufs!, c = this.config;
    const { S, A, Ts, Ta, Tm } = d, C = c.bert.hiddenSize, V = c.valueHidden;
    const train = opts.train ?? false, seed = opts.seed ?? 0;
    const cache = opts.actionCache;
    if (cache && train) {
      throw new GpuError("ChoiceModel.forward: an action cache is for inference (train is on)");
    }
    if (cache && (cache.gpu !== this.gpu || cache.hiddenSize !== C)) {
      throw new GpuError(
        `ChoiceModel.forward: the action cache is for another device or width (${cache.hiddenSize} channels, the model has ${C})`,
      );
    }
    const host = this.#actionsHost!;
    const slots = cache ? cache.lookup(host.ids, host.mask, A, Ta) : null;
    const H = (n: string) => this.head.get(n)!;
    const hs = this.bert.forward(
      batch,
      b.stateIds,
      b.stateTypes,
      b.stateMask,
      { B: S, T: Ts },
      train,
      seedFor(seed, "state"),
      "state",
    );
    const ha = cache && slots ? this.#cachedActions(batch, cache, slots, A, Ta) : this.bert.forward(
      batch,
      b.actionIds,
      b.actionTypes,
      b.actionMask,
      { B: A, T: Ta },
      train,
      seedFor(seed, "action"),
      "action",
    );
    let mem = hs;
    if (c.image) {
      linearForward(batch, b.imgTok, b.images, H("image_linear.weight"), H("image_linear.bias"), {
        rows: S,
        inF: c.imageDim,
        outF: C,
      });
      copyRows(batch, b.mem, b.imgTok, {
        R: S,
        width: C,
        dStride: Tm * C,
        dOff: 0,
        sStride: C,
        sOff: 0,
      });
      copyRows(batch, b.mem, hs, {
        R: S,
        width: Ts * C,
        dStride: Tm * C,
        dOff: C,
        sStride: Ts * C,
        sOff: 0,
      });
      mem = b.mem;
    }
    biattentionForward(
      batch,
      b.cat,
      b.bi,
      ha,
      mem,
      b.memMask,
      H("attn.input_linear.weight"),
      H("attn.memory_linear.weight"),
      H("attn.dot_scale"),
      { A, S, Ta, Tm, C },
    );
    linearForward(batch, b.pre1, b.cat, H("linear_1.weight"), H("linear_1.bias"), {
      rows: A * Ta,
      inF: 4 * C,
      outF: C,
    });
    reluForward(batch, b.z, b.pre1, A * Ta * C);
    maskedMeanForward(batch, b.pooled, b.z, b.actionMask, { R: A, T: Ta, C });
    linearForward(batch, b.score, b.pooled, H("linear_2.weight"), H("linear_2.bias"), {
      rows: A,
      inF: C,
      outF: 1,
    });
    segmentLogSoftmaxForward(batch, b.logp, b.score, b.offsets, { S, N: A });
    let values: Tensor | null = null;
    if (opts.values) {
      copyRows(batch, b.cls, hs, { R: S, width: C, dStride: C, dOff: 0, sStride: Ts * C, sOff: 0 });
      linearForward(batch, b.vpre, b.cls, H("linear_3.0.weight"), H("linear_3.0.bias"), {
        rows: S,
        inF: C,
        outF: V,
      });
      leakyReluForward(batch, b.vact, b.vpre, S * V);
      linearForward(batch, b.values, b.vact, H("linear_3.2.weight"), H("linear_3.2.bias"), {
        rows: S,
        inF: V,
        outF: 1,
      });
      values = b.values.view([S]);
    }
    this.#forwarded = { train, values: !!opts.values, cached: !!slots };
    return { logp: b.logp.view([A]), values };
  }

  /**
   * Records the encoding of the batch's actions the cache lacks (at the cache's length, into
   * their consecutive slots) and the copy of every action's first Ta positions out of the cache.
   */
  #cachedActions(batch: Batch, cache: ActionCache, at: ActionSlots, A: number, Ta: number): Tensor {
    const C = this.config.bert.hiddenSize, Tc = cache.length, F = at.fresh.length;
    let io = this.#cacheIo;
    if (!io || io.rows < A || io.length !== Tc) {
      const rows = Math.max(A, io?.rows ?? 0);
      if (io) { for (const t of [io.ids, io.types, io.mask, io.slots, io.ha]) t.destroy(); }
      const u = (n: number, name: string) =>
        tensor(this.gpu, [n], `choice cache ${name}`, undefined, "u32");
      io = this.#cacheIo = {
        rows,
        length: Tc,
        ids: u(rows * Tc, "ids"),
        types: u(rows * Tc, "types"),
        mask: tensor(this.gpu, [rows * Tc], "choice cache mask"),
        slots: u(rows, "slots"),
        ha: tensor(this.gpu, [rows * Tc * C], "choice cache ha"),
      };
    }
    if (F > 0) {
      const host = this.#actionsHost!;
      const ids = new Uint32Array(F * Tc).fill(cache.padId), mask = new Float32Array(F * Tc);
      at.fresh.forEach((a, f) => {
        for (let t = 0; t < Ta && host.mask[a * Ta + t] === 1; t++) {
          ids[f * Tc + t] = host.ids[a * Ta + t];
          mask[f * Tc + t] = 1;
        }
      });
      io.ids.write(ids);
      io.mask.write(mask);
      this.bert.reserve("action-cache", F, Tc, false);
      const hf = this.bert.forward(
        batch,
        io.ids.view([F * Tc]),
        io.types.view([F * Tc]),
        io.mask.view([F * Tc]),
        { B: F, T: Tc },
        false,
        0,
        "action-cache",
      );
      const n = F * Tc * C;
      copyRows(batch, cache.encodings, hf, {
        R: 1,
        width: n,
        dStride: n,
        dOff: at.start * Tc * C,
        sStride: n,
        sOff: 0,
      });
    }
    io.slots.write(at.slots);
    const ha = io.ha.view([A, Ta, C]);
    gatherRows(batch, ha, cache.encodings, io.slots.view([A]), {
      R: A,
      width: Ta * C,
      sStride: Tc * C,
    });
    return ha;
  }

  /** Uploads `inputs` and records an inference forward (no dropout): log-probs and values. */
  score(
    batch: Batch,
    inputs: ChoiceBatch,
    opts: { values?: boolean; actionCache?: ActionCache } = {},
  ): { logp: Tensor; values: Tensor | null } {
    this.setInputs(inputs);
    return this.forward(batch, {
      train: false,
      values: opts.values,
      actionCache: opts.actionCache,
    });
  }

  /** Reads the log-probs of the last forward, split per state. A sync point. */
  async readLogp(): Promise<Float32Array[]> {
    const d = this.dims, all = await this.#bufs!.logp.view([d.A]).read() as Float32Array;
    const out: Float32Array[] = [];
    let off = 0;
    for (let s = 0; s < d.S; s++) {
      const n = this.#sizes[s];
      out.push(all.slice(off, off + n));
      off += n;
    }
    return out;
  }

  /** Uploads the chosen action of each state (index within its group). */
  setTargets(targets: readonly number[]): void {
    const op = "ChoiceModel.setTargets";
    const d = this.dims;
    if (targets.length !== d.S) {
      throw new GpuError(`${op}: ${targets.length} targets for ${d.S} states`);
    }
    targets.forEach((t, s) => {
      if (!Number.isInteger(t) || t < 0 || t >= this.#sizes[s]) {
        throw new GpuError(`${op}: target ${t} of state ${s} is not in [0, ${this.#sizes[s]})`);
      }
    });
    this.#bufs!.targets.write(targets);
  }

  /** The targets last uploaded with {@linkcode ChoiceModel.setTargets} (S, u32). */
  get targets(): Tensor {
    return this.#bufs!.targets.view([this.dims.S]);
  }

  /** Records the gather of the chosen actions' log-probs (S) from the last forward. */
  chosenLogp(batch: Batch): Tensor {
    const d = this.dims, b = this.#bufs!;
    gatherForward(batch, b.chosen, b.logp, b.offsets, b.targets, { S: d.S, N: d.A });
    return b.chosen.view([d.S]);
  }

  /** Records zeroing of every gradient (backward accumulates). */
  zeroGrad(batch: Batch): void {
    zeroGrad(batch, this.parameters().map((p) => p.grad));
  }

  /**
   * Records the backward of the last forward from `dLogp` (A) and, when the forward computed
   * values, optionally `dValues` (S): accumulates every parameter gradient. Any loss computed
   * elsewhere (DPO, PPO) enters through these two gradients.
   */
  backward(batch: Batch, dLogp: Tensor, dValues: Tensor | null = null): void {
    const op = "ChoiceModel.backward";
    const f = this.#forwarded;
    if (!f) throw new GpuError(`${op}: no forward was recorded for the current inputs`);
    if (f.cached) throw new GpuError(`${op}: the forward read cached action encodings`);
    if (dValues && !f.values) {
      throw new GpuError(`${op}: dValues given but the forward had no values`);
    }
    const d = this.dims, b = this.#bufs!, c = this.config;
    const { S, A, Ts, Ta, Tm } = d, C = c.bert.hiddenSize, V = c.valueHidden;
    if (dLogp.size < A) throw new GpuError(`${op}: dLogp ${shapeText(dLogp.shape)} < A = ${A}`);
    if (dValues && dValues.size < S) {
      throw new GpuError(`${op}: dValues ${shapeText(dValues.shape)} < S = ${S}`);
    }
    const H = (n: string) => this.head.get(n)!;
    const G = (n: string) => this.headGrads.get(n)!;
    segmentLogSoftmaxBackward(batch, b.dScore, dLogp, b.logp, b.offsets, { S, N: A });
    linearBackward(
      batch,
      b.dPooled,
      G("linear_2.weight"),
      G("linear_2.bias"),
      b.dScore,
      b.pooled,
      H("linear_2.weight"),
      { rows: A, inF: C, outF: 1 },
    );
    maskedMeanBackward(batch, b.dZ, b.dPooled, b.actionMask, { R: A, T: Ta, C });
    reluBackward(batch, b.dPre1, b.dZ, b.pre1, A * Ta * C);
    linearBackward(
      batch,
      b.dCat,
      G("linear_1.weight"),
      G("linear_1.bias"),
      b.dPre1,
      b.cat,
      H("linear_1.weight"),
      { rows: A * Ta, inF: 4 * C, outF: C },
    );
    const hs = this.#hidden("state", S, Ts), haT = this.#hidden("action", A, Ta);
    const mem = c.image ? b.mem : hs;
    const dMem = c.image ? b.dMem : b.dHs;
    biattentionBackward(
      batch,
      b.dHa,
      dMem,
      G("attn.input_linear.weight"),
      G("attn.memory_linear.weight"),
      G("attn.dot_scale"),
      b.dCat,
      b.bi,
      haT,
      mem,
      H("attn.input_linear.weight"),
      H("attn.memory_linear.weight"),
      H("attn.dot_scale"),
      { A, S, Ta, Tm, C },
    );
    if (c.image) {
      copyRows(batch, b.dImg, b.dMem, {
        R: S,
        width: C,
        dStride: C,
        dOff: 0,
        sStride: Tm * C,
        sOff: 0,
      });
      copyRows(batch, b.dHs, b.dMem, {
        R: S,
        width: Ts * C,
        dStride: Ts * C,
        dOff: 0,
        sStride: Tm * C,
        sOff: C,
      });
      linearBackward(
        batch,
        null,
        G("image_linear.weight"),
        G("image_linear.bias"),
        b.dImg,
        b.images,
        H("image_linear.weight"),
        { rows: S, inF: c.imageDim, outF: C },
      );
    }
    if (dValues) {
      linearBackward(
        batch,
        b.dVact,
        G("linear_3.2.weight"),
        G("linear_3.2.bias"),
        dValues,
        b.vact,
        H("linear_3.2.weight"),
        { rows: S, inF: V, outF: 1 },
      );
      leakyReluBackward(batch, b.dVpre, b.dVact, b.vpre, S * V);
      linearBackward(
        batch,
        b.dCls,
        G("linear_3.0.weight"),
        G("linear_3.0.bias"),
        b.dVpre,
        b.cls,
        H("linear_3.0.weight"),
        { rows: S, inF: C, outF: V },
      );
      copyRows(batch, b.dHs, b.dCls, {
        R: S,
        width: C,
        dStride: Ts * C,
        dOff: 0,
        sStride: C,
        sOff: 0,
        accumulate: true,
      });
    }
    this.bert.backward(batch, b.dHa.view([A, Ta, C]), "action");
    this.bert.backward(batch, b.dHs.view([S, Ts, C]), "state");
  }

  /**
   * Compiles, now, every pipeline that scoring and a backward on inputs shaped like `example`
   * dispatch: on CPU rasterisers a large kernel compiles for seconds at its first dispatch, which
   * would otherwise land inside the first steps and their timings. Records an eval forward, a
   * training forward with values and a backward from zero gradients of the log-probs and values,
   * then zeroes the gradients: the weights are left as they were. Losses and optimizers warm
   * their own kernels (train/). Waits for the GPU (a sync point).
   */
  async warmup(example: ChoiceBatch): Promise<void> {
    const d = this.setInputs(example, { backward: true });
    this.setTargets(Array.from({ length: d.S }, () => 0));
    const dLogp = tensor(this.gpu, [d.A], "warm-up dLogp");
    const dValues = tensor(this.gpu, [d.S], "warm-up dValues");
    const batch = this.gpu.batch("choice warm-up");
    this.forward(batch, { train: false, values: true });
    this.chosenLogp(batch);
    this.forward(batch, { train: true, seed: 0, values: true });
    this.backward(batch, dLogp, dValues);
    this.zeroGrad(batch);
    batch.submit();
    await this.gpu.sync("choice warm-up");
    for (const t of [dLogp, dValues]) t.destroy();
  }

  /** Frees every buffer of the model (parameters, gradients, activations, optimizer state). */
  destroy(): void {
    this.bert.destroy();
    for (const t of [...this.head.values(), ...this.headGrads.values()]) t.destroy();
    const b = this.#bufs;
    if (b) {
      for (const [k, v] of Object.entries(b)) {
        if (k === "bi") { for (const t of Object.values(v)) if (t instanceof Tensor) t.destroy(); }
        if (v instanceof Tensor) v.destroy();
      }
    }
    this.#bufs = null;
    const io = this.#cacheIo;
    if (io) { for (const t of [io.ids, io.types, io.mask, io.slots, io.ha]) t.destroy(); }
    this.#cacheIo = null;
  }

  #hidden(slot: string, B: number, T: number): Tensor {
    return this.bert.lastHidden(slot).view([B, T, this.config.bert.hiddenSize]);
  }
}

/** Matmul FLOPs of one choice-model forward at `d` (BERT on states and actions, BiAttention, head). */
export function choiceForwardFlops(c: ChoiceConfig, d: ChoiceDims): number {
  const C = c.bert.hiddenSize;
  return bertForwardFlops(c.bert, d.S, d.Ts) + bertForwardFlops(c.bert, d.A, d.Ta) +
    2 * 2 * d.A * d.Ta * d.Tm * C + 2 * d.A * d.Ta * 4 * C * C + 2 * d.A * C;
}
