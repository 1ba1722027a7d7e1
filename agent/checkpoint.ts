/**
 * An agent on disk: the choice model's weights, its shape and token lengths, the tokenizer's
 * identity, the trainer's resolved config and, for resuming, the optimizer state — one
 * safetensors file (model/checkpoint.ts) written to a temporary file, synced and renamed.
 * Starting points for training: a random init, a Hugging Face BERT folder (its encoder, with
 * WebShop's four tokens added by resizing the embeddings, and a fresh head), or an agent
 * checkpoint (WebShop's own choice-model names load as they are).
 *
 * @module
 */

import type { HostTensor } from "../kernels/tensor.ts";
import {
  type Checkpoint,
  loadCheckpoint,
  loadHfBert,
  type OptimizerState,
  saveCheckpoint,
} from "../model/checkpoint.ts";
import { type ChoiceConfig, choiceConfig, initChoiceWeights } from "../model/choice_model.ts";
import { resizeTokenEmbeddings } from "../model/resize.ts";
import type { EncoderConfig } from "./encoder.ts";

/** Checkpoint `kind` of an agent. */
export const AGENT_KIND = "webshop-agent";

/** What an agent is: the model's shape and the encoder's token lengths. */
export interface AgentSpec {
  model: ChoiceConfig;
  encoder: EncoderConfig;
}

/** What an agent checkpoint holds besides the weights. */
export interface AgentMeta {
  spec: AgentSpec;
  /** The trainer and its resolved config (JSON). */
  trainer: { name: string; config: unknown };
}

/** An agent checkpoint read back. */
export interface AgentCheckpoint {
  path: string;
  spec: AgentSpec;
  trainer: { name: string; config: unknown } | null;
  tokenizer: string;
  step: number;
  weights: Map<string, HostTensor>;
  optimizer?: OptimizerState;
  extra: Record<string, string>;
}

/** Writes an agent checkpoint atomically (temp file, fsync, rename). */
export async function saveAgent(
  path: string,
  ckpt: {
    meta: AgentMeta;
    tokenizer: string;
    step: number;
    weights: Map<string, HostTensor>;
    optimizer?: OptimizerState;
    extra?: Record<string, string>;
  },
): Promise<void> {
  for (const [name, t] of ckpt.weights) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        throw new Error(
          `${path}: not written: weight '${name}' is not finite at step ${ckpt.step}`,
        );
      }
    }
  }
  const c: Checkpoint = {
    kind: AGENT_KIND,
    config: ckpt.meta,
    tokenizer: ckpt.tokenizer,
    step: ckpt.step,
    tensors: ckpt.weights,
    optimizer: ckpt.optimizer,
    extra: ckpt.extra,
  };
  await saveCheckpoint(path, c);
}

/** Reads an agent checkpoint; `tokenizer` (an identity) must match when given. */
export async function loadAgent(
  path: string,
  opts: { tokenizer?: string } = {},
): Promise<AgentCheckpoint> {
  const c = await loadCheckpoint(path, { kind: AGENT_KIND, tokenizer: opts.tokenizer });
  const meta = c.config as Partial<AgentMeta> | null;
  if (!meta?.spec?.model?.bert || !meta.spec.encoder) {
    throw new Error(`${path}: an agent checkpoint must record its model and encoder spec`);
  }
  const spec: AgentSpec = {
    model: choiceConfig(meta.spec.model.bert, meta.spec.model),
    encoder: meta.spec.encoder,
  };
  return {
    path,
    spec,
    trainer: meta.trainer ?? null,
    tokenizer: c.tokenizer,
    step: c.step,
    weights: c.tensors,
    optimizer: c.optimizer,
    extra: c.extra ?? {},
  };
}

/**
 * Initial weights from a Hugging Face BERT folder: its encoder (embeddings resized to
 * `vocabSize` rows, as WebShop resizes for its four tokens) and a seeded head.
 */
export async function weightsFromHfBert(
  dir: string,
  vocabSize: number,
  opts: { seed: number; image?: boolean },
): Promise<{ config: ChoiceConfig; weights: Map<string, HostTensor> }> {
  const hf = await loadHfBert(dir, "bert.");
  const bert = { ...hf.config, vocabSize };
  const config = choiceConfig(bert, { image: opts.image ?? false });
  const weights = initChoiceWeights(config, opts.seed);
  for (const [k, v] of hf.weights) weights.set(k, v);
  const wte = "bert.embeddings.word_embeddings.weight";
  weights.set(wte, resizeTokenEmbeddings(hf.weights.get(wte)!, vocabSize, { seed: opts.seed }));
  return { config, weights };
}
