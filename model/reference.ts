/**
 * A plain TypeScript float64 reference of BERT and WebShop's choice model (`BertModelForWebshop`),
 * forward and backward, written for clarity. Tests compare the GPU model with it; its own
 * backward is checked against central differences of its forward.
 *
 * Shapes follow the GPU model: states (S, Ts), actions (A, Ta), hidden C, heads H, head size D.
 * Dropout is off (the reference is the eval-mode model).
 *
 * @module
 */

import type { HostTensor } from "../kernels/tensor.ts";
import type { BertConfig } from "./config.ts";
import {
  biattentionBackwardCpu,
  biattentionForwardCpu,
  type BiAttentionSavedCpu,
  stateOfSizes,
} from "../kernels/cpu/biattention.ts";

/** Weights or gradients in float64, keyed by full Hugging Face name. */
export type RefParams = Map<string, Float64Array>;

/** Float64 copies of host weights. */
export function toF64(w: Map<string, HostTensor>): RefParams {
  const out: RefParams = new Map();
  for (const [k, v] of w) out.set(k, Float64Array.from(v.data));
  return out;
}

/** Zero gradients shaped like `w`. */
export function zerosLikeRef(w: RefParams): RefParams {
  const out: RefParams = new Map();
  for (const [k, v] of w) out.set(k, new Float64Array(v.length));
  return out;
}

function get(w: RefParams, name: string): Float64Array {
  const v = w.get(name);
  if (!v) throw new RangeError(`reference: missing parameter '${name}'`);
  return v;
}

/** erfRef(x) to about 1e-14: Taylor series near zero, Lentz continued fraction for erfc beyond. */
export function erfRef(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x, sum = x;
    for (let n = 1; n < 80; n++) {
      term *= -x * x / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) evaluated bottom-up.
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + (n / 2) / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** BERT's exact GELU, x·Φ(x). */
export function geluRef(x: number): number {
  return 0.5 * x * (1 + erfRef(x / Math.SQRT2));
}

/** d GELU / dx = Φ(x) + x·φ(x). */
export function geluGradRef(x: number): number {
  return 0.5 * (1 + erfRef(x / Math.SQRT2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** y (N, out) = x (N, in) · Wᵀ + b, W (out, in). */
export function linearRef(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  n: number,
  inF: number,
  outF: number,
): Float64Array {
  const y = new Float64Array(n * outF);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

/** Backward of {@linkcode linearRef}: returns dX; dW and dB accumulate. */
export function linearBackwardRef(
  dY: Float64Array,
  x: Float64Array,
  w: Float64Array,
  dW: Float64Array,
  dB: Float64Array | null,
  n: number,
  inF: number,
  outF: number,
): Float64Array {
  const dX = new Float64Array(n * inF);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      const g = dY[r * outF + o];
      if (g === 0) continue;
      if (dB) dB[o] += g;
      for (let i = 0; i < inF; i++) {
        dX[r * inF + i] += g * w[o * inF + i];
        dW[o * inF + i] += g * x[r * inF + i];
      }
    }
  }
  return dX;
}

interface LnCache {
  xhat: Float64Array;
  rstd: Float64Array;
}

function layerNorm(
  x: Float64Array,
  g: Float64Array,
  b: Float64Array,
  n: number,
  c: number,
  eps: number,
): { y: Float64Array; cache: LnCache } {
  const y = new Float64Array(n * c), xhat = new Float64Array(n * c), rstd = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let mean = 0;
    for (let i = 0; i < c; i++) mean += x[r * c + i];
    mean /= c;
    let v = 0;
    for (let i = 0; i < c; i++) v += (x[r * c + i] - mean) ** 2;
    const rs = 1 / Math.sqrt(v / c + eps);
    rstd[r] = rs;
    for (let i = 0; i < c; i++) {
      const h = (x[r * c + i] - mean) * rs;
      xhat[r * c + i] = h;
      y[r * c + i] = h * g[i] + b[i];
    }
  }
  return { y, cache: { xhat, rstd } };
}

function layerNormBackward(
  dy: Float64Array,
  cache: LnCache,
  g: Float64Array,
  dG: Float64Array,
  dB: Float64Array,
  n: number,
  c: number,
): Float64Array {
  const dx = new Float64Array(n * c);
  for (let r = 0; r < n; r++) {
    let m1 = 0, m2 = 0;
    for (let i = 0; i < c; i++) {
      const d = dy[r * c + i], h = cache.xhat[r * c + i];
      dG[i] += d * h;
      dB[i] += d;
      const dh = d * g[i];
      m1 += dh;
      m2 += dh * h;
    }
    m1 /= c;
    m2 /= c;
    for (let i = 0; i < c; i++) {
      const dh = dy[r * c + i] * g[i];
      dx[r * c + i] = cache.rstd[r] * (dh - m1 - cache.xhat[r * c + i] * m2);
    }
  }
  return dx;
}

interface LayerCache {
  x: Float64Array;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  probs: Float64Array;
  ctx: Float64Array;
  ln1: LnCache;
  h1: Float64Array;
  pre: Float64Array;
  act: Float64Array;
  ln2: LnCache;
}

/** What {@linkcode bertForwardRef} keeps for the backward. */
export interface BertRefCache {
  B: number;
  T: number;
  ids: ArrayLike<number>;
  typeIds: ArrayLike<number>;
  mask: ArrayLike<number>;
  ln0: LnCache;
  layers: LayerCache[];
}

/**
 * BERT's forward: `ids`, `typeIds`, `mask` (B·T), weights with `prefix`. Returns the last hidden
 * state (B, T, C). Padded keys are dropped from attention as Hugging Face's additive mask does.
 */
export function bertForwardRef(
  cfg: BertConfig,
  w: RefParams,
  ids: ArrayLike<number>,
  typeIds: ArrayLike<number>,
  mask: ArrayLike<number>,
  B: number,
  T: number,
  prefix = "bert.",
): { hidden: Float64Array; cache: BertRefCache } {
  const C = cfg.hiddenSize, H = cfg.numAttentionHeads, D = C / H, I = cfg.intermediateSize;
  const N = B * T, eps = cfg.layerNormEps;
  const P = (n: string) => get(w, prefix + n);
  const wte = P("embeddings.word_embeddings.weight");
  const wpe = P("embeddings.position_embeddings.weight");
  const wtt = P("embeddings.token_type_embeddings.weight");
  const emb = new Float64Array(N * C);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const r = b * T + t, id = ids[r], ty = typeIds[r];
      if (id >= cfg.vocabSize || ty >= cfg.typeVocabSize || t >= cfg.maxPositionEmbeddings) {
        throw new RangeError(`bertForwardRef: token ${r} (id ${id}, type ${ty}) out of range`);
      }
      for (let c = 0; c < C; c++) {
        emb[r * C + c] = wte[id * C + c] + wpe[t * C + c] + wtt[ty * C + c];
      }
    }
  }
  const e = layerNorm(
    emb,
    P("embeddings.LayerNorm.weight"),
    P("embeddings.LayerNorm.bias"),
    N,
    C,
    eps,
  );
  let x = e.y;
  const layers: LayerCache[] = [];
  const scale = 1 / Math.sqrt(D);
  for (let l = 0; l < cfg.numHiddenLayers; l++) {
    const p = `encoder.layer.${l}.`;
    const lin = (inp: Float64Array, name: string, inF: number, outF: number) =>
      linearRef(inp, P(p + name + ".weight"), P(p + name + ".bias"), N, inF, outF);
    const q = lin(x, "attention.self.query", C, C);
    const k = lin(x, "attention.self.key", C, C);
    const v = lin(x, "attention.self.value", C, C);
    const probs = new Float64Array(B * H * T * T);
    const ctx = new Float64Array(N * C);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const row = ((b * H + h) * T + i) * T;
          let mx = -Infinity;
          for (let j = 0; j < T; j++) {
            if (!mask[b * T + j]) continue;
            let s = 0;
            for (let d = 0; d < D; d++) {
              s += q[(b * T + i) * C + h * D + d] * k[(b * T + j) * C + h * D + d];
            }
            probs[row + j] = s * scale;
            mx = Math.max(mx, s * scale);
          }
          let z = 0;
          for (let j = 0; j < T; j++) {
            const pj = mask[b * T + j] ? Math.exp(probs[row + j] - mx) : 0;
            probs[row + j] = pj;
            z += pj;
          }
          for (let j = 0; j < T; j++) probs[row + j] /= z;
          for (let d = 0; d < D; d++) {
            let s = 0;
            for (let j = 0; j < T; j++) s += probs[row + j] * v[(b * T + j) * C + h * D + d];
            ctx[(b * T + i) * C + h * D + d] = s;
          }
        }
      }
    }
    const ao = lin(ctx, "attention.output.dense", C, C);
    for (let i = 0; i < N * C; i++) ao[i] += x[i];
    const l1 = layerNorm(
      ao,
      P(p + "attention.output.LayerNorm.weight"),
      P(p + "attention.output.LayerNorm.bias"),
      N,
      C,
      eps,
    );
    const pre = lin(l1.y, "intermediate.dense", C, I);
    const act = pre.map(geluRef);
    const o = lin(act, "output.dense", I, C);
    for (let i = 0; i < N * C; i++) o[i] += l1.y[i];
    const l2 = layerNorm(
      o,
      P(p + "output.LayerNorm.weight"),
      P(p + "output.LayerNorm.bias"),
      N,
      C,
      eps,
    );
    layers.push({ x, q, k, v, probs, ctx, ln1: l1.cache, h1: l1.y, pre, act, ln2: l2.cache });
    x = l2.y;
  }
  return { hidden: x, cache: { B, T, ids, typeIds, mask, ln0: e.cache, layers } };
}

/** BERT's backward from dHidden (B, T, C); accumulates into `grads` (full names). */
export function bertBackwardRef(
  cfg: BertConfig,
  w: RefParams,
  grads: RefParams,
  cache: BertRefCache,
  dHidden: Float64Array,
  prefix = "bert.",
): void {
  const C = cfg.hiddenSize, H = cfg.numAttentionHeads, D = C / H, I = cfg.intermediateSize;
  const { B, T } = cache, N = B * T;
  const P = (n: string) => get(w, prefix + n);
  const G = (n: string) => get(grads, prefix + n);
  const scale = 1 / Math.sqrt(D);
  let dx = dHidden;
  for (let l = cfg.numHiddenLayers - 1; l >= 0; l--) {
    const p = `encoder.layer.${l}.`, L = cache.layers[l];
    const linB = (dY: Float64Array, inp: Float64Array, name: string, inF: number, outF: number) =>
      linearBackwardRef(
        dY,
        inp,
        P(p + name + ".weight"),
        G(p + name + ".weight"),
        G(p + name + ".bias"),
        N,
        inF,
        outF,
      );
    const dO = layerNormBackward(
      dx,
      L.ln2,
      P(p + "output.LayerNorm.weight"),
      G(p + "output.LayerNorm.weight"),
      G(p + "output.LayerNorm.bias"),
      N,
      C,
    );
    const dAct = linB(dO, L.act, "output.dense", I, C);
    const dPre = dAct.map((g, i) => g * geluGradRef(L.pre[i]));
    const dH1 = linB(dPre, L.h1, "intermediate.dense", C, I);
    for (let i = 0; i < N * C; i++) dH1[i] += dO[i];
    const dAo = layerNormBackward(
      dH1,
      L.ln1,
      P(p + "attention.output.LayerNorm.weight"),
      G(p + "attention.output.LayerNorm.weight"),
      G(p + "attention.output.LayerNorm.bias"),
      N,
      C,
    );
    const dCtx = linB(dAo, L.ctx, "attention.output.dense", C, C);
    const dq = new Float64Array(N * C), dk = new Float64Array(N * C), dv = new Float64Array(N * C);
    const dp = new Float64Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const row = ((b * H + h) * T + i) * T;
          let dot = 0;
          for (let j = 0; j < T; j++) {
            let s = 0;
            for (let d = 0; d < D; d++) {
              const go = dCtx[(b * T + i) * C + h * D + d];
              s += go * L.v[(b * T + j) * C + h * D + d];
              dv[(b * T + j) * C + h * D + d] += L.probs[row + j] * go;
            }
            dp[j] = s;
            dot += s * L.probs[row + j];
          }
          for (let j = 0; j < T; j++) {
            const ds = L.probs[row + j] * (dp[j] - dot) * scale;
            if (ds === 0) continue;
            for (let d = 0; d < D; d++) {
              dq[(b * T + i) * C + h * D + d] += ds * L.k[(b * T + j) * C + h * D + d];
              dk[(b * T + j) * C + h * D + d] += ds * L.q[(b * T + i) * C + h * D + d];
            }
          }
        }
      }
    }
    const dX = linB(dq, L.x, "attention.self.query", C, C);
    const dXk = linB(dk, L.x, "attention.self.key", C, C);
    const dXv = linB(dv, L.x, "attention.self.value", C, C);
    for (let i = 0; i < N * C; i++) dX[i] += dXk[i] + dXv[i] + dAo[i];
    dx = dX;
  }
  const dEmb = layerNormBackward(
    dx,
    cache.ln0,
    P("embeddings.LayerNorm.weight"),
    G("embeddings.LayerNorm.weight"),
    G("embeddings.LayerNorm.bias"),
    N,
    C,
  );
  const dWte = G("embeddings.word_embeddings.weight");
  const dWpe = G("embeddings.position_embeddings.weight");
  const dWtt = G("embeddings.token_type_embeddings.weight");
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const r = b * T + t, id = cache.ids[r], ty = cache.typeIds[r];
      for (let c = 0; c < C; c++) {
        const g = dEmb[r * C + c];
        dWte[id * C + c] += g;
        dWpe[t * C + c] += g;
        dWtt[ty * C + c] += g;
      }
    }
  }
}

/** The choice model's inputs on the CPU (see ChoiceBatch in choice_model.ts). */
export interface ChoiceRefInputs {
  /** States S and their padded length Ts; ids and mask (S·Ts). */
  S: number;
  Ts: number;
  stateIds: ArrayLike<number>;
  stateMask: ArrayLike<number>;
  /** Actions A (grouped by state, in order) and their padded length Ta; ids and mask (A·Ta). */
  A: number;
  Ta: number;
  actionIds: ArrayLike<number>;
  actionMask: ArrayLike<number>;
  /** Actions per state (sums to A). */
  sizes: readonly number[];
  /** Image features (S·imageDim) when the model has an image token; zeros when absent. */
  images?: ArrayLike<number>;
}

/** Shape of the choice head (see ChoiceConfig in choice_model.ts). */
export interface ChoiceRefConfig {
  bert: BertConfig;
  /** WebShop's `image` flag: a Linear(imageDim → C) token prepended to each state. */
  image: boolean;
  imageDim: number;
  /** Width of the value head's hidden layer (128). */
  valueHidden: number;
}

/** What {@linkcode choiceForwardRef} keeps for the backward. */
export interface ChoiceRefCache {
  inputs: ChoiceRefInputs;
  stateCache: BertRefCache;
  actionCache: BertRefCache;
  hs: Float64Array;
  mem: Float64Array;
  memMask: Float64Array;
  Tm: number;
  stateOf: Int32Array;
  ha: Float64Array;
  /** What BiAttention saved. */
  saved: BiAttentionSavedCpu;
  cat: Float64Array;
  z: Float64Array;
  pooled: Float64Array;
  logp: Float64Array;
  cls: Float64Array;
  vpre: Float64Array;
}

/** LeakyReLU slope of the value head (PyTorch's default). */
export const LEAKY_SLOPE = 0.01;

/**
 * WebShop's `BertModelForWebshop.forward` in float64: log-probs of every action within its
 * state's group (A) and state values (S) from the value head on the state's [CLS].
 */
export function choiceForwardRef(
  cfg: ChoiceRefConfig,
  w: RefParams,
  inp: ChoiceRefInputs,
): { logp: Float64Array; values: Float64Array; cache: ChoiceRefCache } {
  const C = cfg.bert.hiddenSize, { S, Ts, A, Ta } = inp;
  const st = bertForwardRef(
    cfg.bert,
    w,
    inp.stateIds,
    new Uint32Array(S * Ts),
    inp.stateMask,
    S,
    Ts,
  );
  const ac = bertForwardRef(
    cfg.bert,
    w,
    inp.actionIds,
    new Uint32Array(A * Ta),
    inp.actionMask,
    A,
    Ta,
  );
  const hs = st.hidden, ha = ac.hidden;
  // The memory: [image token;] state tokens, as WebShop prepends image_linear(image).
  const Tm = Ts + (cfg.image ? 1 : 0);
  const mem = new Float64Array(S * Tm * C), memMask = new Float64Array(S * Tm);
  const img = cfg.image
    ? linearRef(
      Float64Array.from(inp.images ?? new Float64Array(S * cfg.imageDim)),
      get(w, "image_linear.weight"),
      get(w, "image_linear.bias"),
      S,
      cfg.imageDim,
      C,
    )
    : null;
  for (let s = 0; s < S; s++) {
    const off = cfg.image ? 1 : 0;
    if (img) {
      mem.set(img.subarray(s * C, (s + 1) * C), s * Tm * C);
      memMask[s * Tm] = inp.stateMask[s * Ts];
    }
    mem.set(hs.subarray(s * Ts * C, (s + 1) * Ts * C), (s * Tm + off) * C);
    for (let t = 0; t < Ts; t++) memMask[s * Tm + off + t] = inp.stateMask[s * Ts + t];
  }
  const stateOf = stateOfSizes(inp.sizes);
  if (stateOf.length !== A) {
    throw new RangeError(`choiceForwardRef: sizes sum to ${stateOf.length}, expected ${A}`);
  }
  // BiAttention(context = action tokens, memory = its state's tokens, mask = state mask).
  const dims = { A, S, Ta, Tm, C };
  const bi = biattentionForwardCpu(
    ha,
    mem,
    memMask,
    stateOf,
    get(w, "attn.input_linear.weight"),
    get(w, "attn.memory_linear.weight"),
    get(w, "attn.dot_scale"),
    dims,
  );
  const cat = bi.out;
  const z = linearRef(cat, get(w, "linear_1.weight"), get(w, "linear_1.bias"), A * Ta, 4 * C, C)
    .map((v) => Math.max(v, 0));
  // Mean over the action's own tokens (WebShop's act_lens = mask sum).
  const pooled = new Float64Array(A * C);
  for (let a = 0; a < A; a++) {
    let n = 0;
    for (let i = 0; i < Ta; i++) n += inp.actionMask[a * Ta + i];
    for (let i = 0; i < Ta; i++) {
      const mk = inp.actionMask[a * Ta + i];
      if (!mk) continue;
      for (let c = 0; c < C; c++) pooled[a * C + c] += (mk * z[(a * Ta + i) * C + c]) / n;
    }
  }
  const score = linearRef(pooled, get(w, "linear_2.weight"), get(w, "linear_2.bias"), A, C, 1);
  const logp = new Float64Array(A);
  {
    let off = 0;
    for (const n of inp.sizes) {
      let mx = -Infinity;
      for (let k = 0; k < n; k++) mx = Math.max(mx, score[off + k]);
      let zz = 0;
      for (let k = 0; k < n; k++) zz += Math.exp(score[off + k] - mx);
      const lse = mx + Math.log(zz);
      for (let k = 0; k < n; k++) logp[off + k] = score[off + k] - lse;
      off += n;
    }
  }
  // Value head on each state's [CLS] (token 0 of the BERT output, not the image token).
  const cls = new Float64Array(S * C);
  for (let s = 0; s < S; s++) cls.set(hs.subarray(s * Ts * C, s * Ts * C + C), s * C);
  const V = cfg.valueHidden;
  const vpre = linearRef(cls, get(w, "linear_3.0.weight"), get(w, "linear_3.0.bias"), S, C, V);
  const vact = vpre.map((v) => (v > 0 ? v : LEAKY_SLOPE * v));
  const values = linearRef(vact, get(w, "linear_3.2.weight"), get(w, "linear_3.2.bias"), S, V, 1);
  return {
    logp,
    values,
    cache: {
      inputs: inp,
      stateCache: st.cache,
      actionCache: ac.cache,
      hs,
      mem,
      memMask,
      Tm,
      stateOf,
      ha,
      saved: bi.saved,
      cat,
      z,
      pooled,
      logp,
      cls,
      vpre,
    },
  };
}

/** WebShop's imitation loss: mean over states of -log p(label) within the state's group. */
export function choiceLossRef(
  logp: Float64Array,
  sizes: readonly number[],
  labels: readonly number[],
): { loss: number; dLogp: Float64Array } {
  const dLogp = new Float64Array(logp.length);
  let off = 0, loss = 0;
  sizes.forEach((n, s) => {
    if (!(labels[s] >= 0 && labels[s] < n)) {
      throw new RangeError(`choiceLossRef: label ${labels[s]} of state ${s} not in [0, ${n})`);
    }
    loss -= logp[off + labels[s]] / sizes.length;
    dLogp[off + labels[s]] = -1 / sizes.length;
    off += n;
  });
  return { loss, dLogp };
}

/**
 * Backward of {@linkcode choiceForwardRef} from dLogp (A) and optionally dValues (S);
 * accumulates into `grads` (full names).
 */
export function choiceBackwardRef(
  cfg: ChoiceRefConfig,
  w: RefParams,
  grads: RefParams,
  cache: ChoiceRefCache,
  dLogp: Float64Array,
  dValues?: Float64Array,
): void {
  const C = cfg.bert.hiddenSize, V = cfg.valueHidden;
  const { inputs: inp, Tm, stateOf, ha, mem } = cache;
  const { S, Ts, A, Ta } = inp;
  const G = (n: string) => get(grads, n);
  // Segment log-softmax backward: dScore = dLogp - p · Σ dLogp within the group.
  const dScore = new Float64Array(A);
  {
    let off = 0;
    for (const n of inp.sizes) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += dLogp[off + k];
      for (let k = 0; k < n; k++) {
        dScore[off + k] = dLogp[off + k] - Math.exp(cache.logp[off + k]) * sum;
      }
      off += n;
    }
  }
  const dPooled = linearBackwardRef(
    dScore,
    cache.pooled,
    get(w, "linear_2.weight"),
    G("linear_2.weight"),
    G("linear_2.bias"),
    A,
    C,
    1,
  );
  const dZ = new Float64Array(A * Ta * C);
  for (let a = 0; a < A; a++) {
    let n = 0;
    for (let i = 0; i < Ta; i++) n += inp.actionMask[a * Ta + i];
    for (let i = 0; i < Ta; i++) {
      const mk = inp.actionMask[a * Ta + i];
      for (let c = 0; c < C; c++) {
        const r = (a * Ta + i) * C + c;
        dZ[r] = cache.z[r] > 0 ? (mk * dPooled[a * C + c]) / n : 0;
      }
    }
  }
  const dCat = linearBackwardRef(
    dZ,
    cache.cat,
    get(w, "linear_1.weight"),
    G("linear_1.weight"),
    G("linear_1.bias"),
    A * Ta,
    4 * C,
    C,
  );
  const { dX: dHa, dMem } = biattentionBackwardCpu(
    dCat,
    cache.saved,
    ha,
    mem,
    stateOf,
    get(w, "attn.input_linear.weight"),
    get(w, "attn.memory_linear.weight"),
    get(w, "attn.dot_scale"),
    {
      dWIn: G("attn.input_linear.weight"),
      dWMem: G("attn.memory_linear.weight"),
      dScale: G("attn.dot_scale"),
    },
    { A, S, Ta, Tm, C },
  );
  // Split the memory gradient into the image token and the state tokens.
  const dHs = new Float64Array(S * Ts * C);
  const off = cfg.image ? 1 : 0;
  const dImg = new Float64Array(S * C);
  for (let s = 0; s < S; s++) {
    if (cfg.image) dImg.set(dMem.subarray(s * Tm * C, s * Tm * C + C), s * C);
    dHs.set(dMem.subarray((s * Tm + off) * C, (s + 1) * Tm * C), s * Ts * C);
  }
  if (cfg.image) {
    linearBackwardRef(
      dImg,
      Float64Array.from(inp.images ?? new Float64Array(S * cfg.imageDim)),
      get(w, "image_linear.weight"),
      G("image_linear.weight"),
      G("image_linear.bias"),
      S,
      cfg.imageDim,
      C,
    );
  }
  if (dValues) {
    const vact = cache.vpre.map((v) => (v > 0 ? v : LEAKY_SLOPE * v));
    const dVact = linearBackwardRef(
      dValues,
      vact,
      get(w, "linear_3.2.weight"),
      G("linear_3.2.weight"),
      G("linear_3.2.bias"),
      S,
      V,
      1,
    );
    const dVpre = dVact.map((g, i) => (cache.vpre[i] > 0 ? g : LEAKY_SLOPE * g));
    const dCls = linearBackwardRef(
      dVpre,
      cache.cls,
      get(w, "linear_3.0.weight"),
      G("linear_3.0.weight"),
      G("linear_3.0.bias"),
      S,
      C,
      V,
    );
    for (let s = 0; s < S; s++) {
      for (let c = 0; c < C; c++) dHs[s * Ts * C + c] += dCls[s * C + c];
    }
  }
  bertBackwardRef(cfg.bert, w, grads, cache.actionCache, dHa);
  bertBackwardRef(cfg.bert, w, grads, cache.stateCache, dHs);
}
