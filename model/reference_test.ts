import { rng } from "../testing/numeric.ts";
import assert from "node:assert/strict";
import type { BertConfig } from "./config.ts";
import { choiceConfig, initChoiceWeights } from "./choice_model.ts";
import {
  choiceBackwardRef,
  choiceForwardRef,
  choiceLossRef,
  type ChoiceRefInputs,
  erfRef,
  geluGradRef,
  geluRef,
  toF64,
  zerosLikeRef,
} from "./reference.ts";

/** A 1-layer BERT small enough for central differences over many weights. */
const MICRO: BertConfig = {
  vocabSize: 20,
  hiddenSize: 8,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  intermediateSize: 16,
  maxPositionEmbeddings: 8,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  hiddenDropoutProb: 0,
  attentionProbsDropoutProb: 0,
  initializerRange: 0.5,
};

/** Two states (one padded) with 3 and 2 actions of different lengths. */
export function microInputs(V: number, seed: number): ChoiceRefInputs {
  const r = rng(seed);
  const S = 2, Ts = 5, A = 5, Ta = 4;
  const stateLens = [5, 3], actionLens = [4, 2, 3, 1, 4];
  const id = () => 1 + Math.floor(r() * (V - 1));
  const stateIds = new Uint32Array(S * Ts), stateMask = new Float32Array(S * Ts);
  stateLens.forEach((n, s) => {
    for (let t = 0; t < n; t++) {
      stateIds[s * Ts + t] = id();
      stateMask[s * Ts + t] = 1;
    }
  });
  const actionIds = new Uint32Array(A * Ta), actionMask = new Float32Array(A * Ta);
  actionLens.forEach((n, a) => {
    for (let t = 0; t < n; t++) {
      actionIds[a * Ta + t] = id();
      actionMask[a * Ta + t] = 1;
    }
  });
  return { S, Ts, A, Ta, stateIds, stateMask, actionIds, actionMask, sizes: [3, 2] };
}

Deno.test("erfRef() matches tabulated values and gelu' matches differences", () => {
  const table: [number, number][] = [
    [0, 0],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
    [-1.5, -0.9661051464753108],
  ];
  for (const [x, e] of table) {
    assert.ok(Math.abs(erfRef(x) - e) < 1e-13, `erfRef(${x}) = ${erfRef(x)}`);
  }
  for (const x of [-3, -0.7, 0, 0.3, 2.6]) {
    const num = (geluRef(x + 1e-6) - geluRef(x - 1e-6)) / 2e-6;
    assert.ok(Math.abs(num - geluGradRef(x)) < 1e-8, `gelu'(${x})`);
  }
});

Deno.test("choiceBackwardRef() matches central differences of choiceForwardRef()", () => {
  for (const image of [false, true]) {
    const cfg = choiceConfig(MICRO, { image, imageDim: 3, valueHidden: 4 });
    const w = toF64(initChoiceWeights(cfg, 7));
    const inp = microInputs(MICRO.vocabSize, 3);
    if (image) inp.images = [0.3, -0.2, 0.5, 0, 0, 0];
    const r = rng(11);
    const wLogp = Float64Array.from({ length: inp.A }, () => r() - 0.5);
    const wVal = Float64Array.from({ length: inp.S }, () => r() - 0.5);
    const objective = () => {
      const { logp, values } = choiceForwardRef(cfg, w, inp);
      let s = 0;
      for (let i = 0; i < logp.length; i++) s += logp[i] * wLogp[i];
      for (let i = 0; i < values.length; i++) s += values[i] * wVal[i];
      return s;
    };
    const grads = zerosLikeRef(w);
    const { cache } = choiceForwardRef(cfg, w, inp);
    choiceBackwardRef(cfg, w, grads, cache, wLogp, wVal);
    let checked = 0;
    for (const [name, p] of w) {
      const g = grads.get(name)!;
      // Every element of small tensors, a seeded sample of large ones.
      const idx = p.length <= 48
        ? [...p.keys()]
        : Array.from({ length: 24 }, () => Math.floor(r() * p.length));
      for (const i of idx) {
        const v = p[i], eps = 1e-5;
        p[i] = v + eps;
        const fp = objective();
        p[i] = v - eps;
        const fm = objective();
        p[i] = v;
        const num = (fp - fm) / (2 * eps);
        const err = Math.abs(num - g[i]);
        assert.ok(
          err <= 1e-6 + 1e-4 * Math.abs(num),
          `image=${image} ${name}[${i}]: analytic ${g[i]}, numeric ${num}`,
        );
        checked++;
      }
    }
    assert.ok(checked > 300, `checked ${checked}`);
  }
});

Deno.test("choiceForwardRef() gives normalised groups and ignores padded state tokens", () => {
  const cfg = choiceConfig(MICRO);
  const w = toF64(initChoiceWeights(cfg, 1));
  const inp = microInputs(MICRO.vocabSize, 5);
  const { logp, values } = choiceForwardRef(cfg, w, inp);
  const z0 = Math.exp(logp[0]) + Math.exp(logp[1]) + Math.exp(logp[2]);
  const z1 = Math.exp(logp[3]) + Math.exp(logp[4]);
  assert.ok(Math.abs(z0 - 1) < 1e-12 && Math.abs(z1 - 1) < 1e-12);
  // State 1 has 3 real tokens of 5: changing its padded ids changes nothing.
  const ids2 = Uint32Array.from(inp.stateIds);
  ids2[8] = 7;
  ids2[9] = 13;
  const again = choiceForwardRef(cfg, w, { ...inp, stateIds: ids2 });
  for (let i = 0; i < logp.length; i++) assert.ok(Math.abs(again.logp[i] - logp[i]) < 1e-12);
  for (let i = 0; i < values.length; i++) assert.ok(Math.abs(again.values[i] - values[i]) < 1e-12);
  const { loss, dLogp } = choiceLossRef(logp, inp.sizes, [2, 0]);
  assert.ok(Math.abs(loss - -(logp[2] + logp[3]) / 2) < 1e-15);
  assert.equal(dLogp[2], -0.5);
});
