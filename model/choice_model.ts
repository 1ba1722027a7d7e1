/**
 * WebShop's choice model (`BertModelForWebshop`, baseline_models/models/bert.py) on the WebGPU
 * compute core.
 *
 * @module
 */

import type { HostTensor } from "../kernels/tensor.ts";
import { numel } from "../kernels/tensor.ts";
import { type BertConfig, validateBertConfig } from "./config.ts";
import { initBertWeights, type ParamSpec } from "./bert.ts";
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
