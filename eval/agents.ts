/**
 * Agents by name, the one place every evaluation command turns `--agent` / `--agents` into
 * policies: `random`, `oracle`, an agent checkpoint (`runs/dpo/final.safetensors`), each with an
 * optional label (`dpo=runs/dpo/final.safetensors`). A checkpoint is read and checked against
 * the evaluation's tokenizer before any GPU is asked for or any episode starts: a missing,
 * truncated or foreign file, a config the model cannot take, a vocabulary of another size or a
 * tokenizer of another identity, and tensors of the wrong names or shapes each fail with the
 * file and the mismatch named.
 *
 * @example
 * ```ts
 * const src = parseAgentSource("dpo=runs/dpo/final.safetensors");
 * const prepared = await prepareAgent(src, data.tokenizer); // checks the file
 * const agent = instantiateAgent(prepared, gpu, data.tokenizer, { mode: "greedy" });
 * // ... agent.policy ...
 * agent.destroy();
 * ```
 *
 * @module
 */

import { type AgentCheckpoint, loadAgent } from "../agent/checkpoint.ts";
import { AgentEncoder } from "../agent/encoder.ts";
import {
  actionCacheFor,
  type AgentPolicy,
  type ChoiceMode,
  ModelPolicy,
  OracleAgent,
  RandomAgent,
} from "../agent/policy.ts";
import type { Gpu } from "../kernels/device.ts";
import { bertParamSpecs } from "../model/bert.ts";
import { type ChoiceConfig, choiceHeadSpecs, ChoiceModel } from "../model/choice_model.ts";
import { compareTensorNames, formatTensorReport } from "../model/safetensors.ts";
import type { BertTokenizer } from "../model/tokenizer.ts";

/** The forms an agent may be given in, for error messages and usage text. */
export const AGENT_FORMS =
  "random, oracle, a checkpoint file (*.safetensors), or label=<one of those>";

/** An agent as named on the command line. */
export interface AgentSource {
  /** Name in tables and records. */
  label: string;
  /** "random", "oracle" or a checkpoint path. */
  source: string;
}

/** An agent checked and ready to instantiate. */
export interface PreparedAgent extends AgentSource {
  /** The checkpoint read (null for random / oracle). */
  checkpoint: AgentCheckpoint | null;
}

/** An agent as a policy, with what it holds on the device. */
export interface LoadedAgent extends AgentSource {
  policy: AgentPolicy;
  /** The same agent with another seed (random choices, sampling), sharing the model. */
  withSeed(seed: number): AgentPolicy;
  /** The model on the device (null for random / oracle). */
  model: ChoiceModel | null;
  /** Frees the model's buffers. */
  destroy(): void;
}

/** How a checkpoint agent chooses, and the seed of random choices. */
export interface AgentPolicyOptions {
  /** greedy (default) or sample. */
  mode?: ChoiceMode;
  /** Sampling temperature (default 1). */
  temperature?: number;
  /** Seed of the random agent and of sampling (default 0). */
  seed?: number;
  /** Also run the value head (default false). */
  values?: boolean;
  /** Most decisions per model submit (default 64). */
  maxBatch?: number;
}

const BUILTIN = new Set(["random", "oracle"]);

function looksLikeFile(s: string): boolean {
  return s.includes("/") || s.endsWith(".safetensors");
}

/** Parses one agent argument; an unknown name is an error listing the valid forms. */
export function parseAgentSource(spec: string): AgentSource {
  const s = spec.trim();
  const eq = s.indexOf("=");
  const label = eq >= 0 ? s.slice(0, eq).trim() : null;
  const source = eq >= 0 ? s.slice(eq + 1).trim() : s;
  if (label === "") throw new RangeError(`agent "${spec}": empty label (forms: ${AGENT_FORMS})`);
  if (!BUILTIN.has(source) && !looksLikeFile(source)) {
    throw new RangeError(`unknown agent "${source}" (forms: ${AGENT_FORMS})`);
  }
  return { label: label ?? defaultLabel(source), source };
}

/** Parses a comma-separated agent list; labels must be unique. */
export function parseAgentList(list: string): AgentSource[] {
  const parts = list.split(",").map((x) => x.trim()).filter((x) => x !== "");
  if (parts.length === 0) throw new RangeError(`no agents given (forms: ${AGENT_FORMS})`);
  const out = parts.map(parseAgentSource);
  const seen = new Set<string>();
  for (const a of out) {
    if (seen.has(a.label)) {
      throw new RangeError(`two agents are labelled "${a.label}": give labels (label=path)`);
    }
    seen.add(a.label);
  }
  return out;
}

/** runs/dpo/final.safetensors -> "dpo/final"; random -> "random". */
function defaultLabel(source: string): string {
  if (BUILTIN.has(source)) return source;
  const parts = source.replace(/\.safetensors$/, "").split("/").filter((p) => p !== "");
  return parts.slice(-2).join("/");
}

/**
 * Reads an agent checkpoint and checks it can be played with `tokenizer`: its model config,
 * vocabulary size, tokenizer identity and every tensor's name and shape. Throws naming the file
 * and the first mismatch found.
 */
export async function checkAgentCheckpoint(
  path: string,
  tokenizer: BertTokenizer,
): Promise<AgentCheckpoint> {
  let ck: AgentCheckpoint;
  try {
    ck = await loadAgent(path);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.includes(path) ? msg : `${path}: ${msg}`);
  }
  const c = ck.spec.model, enc = ck.spec.encoder;
  const maxPos = c.bert.maxPositionEmbeddings;
  if (enc.stateLen > maxPos || enc.actionLen > maxPos) {
    throw new Error(
      `${path}: config: encoder lengths (state ${enc.stateLen}, action ${enc.actionLen}) exceed ` +
        `the model's ${maxPos} positions`,
    );
  }
  if (c.bert.vocabSize !== tokenizer.vocabSize) {
    throw new Error(
      `${path}: vocabulary: the model has ${c.bert.vocabSize} token ids, this evaluation's ` +
        `tokenizer ${tokenizer.vocabSize} (evaluate on the data it was trained on: --catalog, ` +
        `--products, --tokenizer, --vocab-size)`,
    );
  }
  if (ck.tokenizer !== tokenizer.identity) {
    throw new Error(
      `${path}: vocabulary: made with tokenizer ${ck.tokenizer}, this evaluation uses ` +
        `${tokenizer.identity}`,
    );
  }
  const report = compareTensorNames(ck.weights, expectedAgentTensors(c));
  // The pooler is never used by the choice model; a file without it is fine.
  report.missing = report.missing.filter((n) => !n.startsWith("bert.pooler."));
  if (report.missing.length || report.mismatched.length || report.unexpected.length) {
    throw new Error(
      `${path}: tensor shapes do not match its config: ${formatTensorReport(report)}`,
    );
  }
  return ck;
}

/** Every tensor a choice model of config `c` has, WebShop's names, with its shape. */
export function expectedAgentTensors(c: ChoiceConfig): { name: string; shape: number[] }[] {
  return [
    ...bertParamSpecs(c.bert).map((s) => ({ name: `bert.${s.name}`, shape: s.shape })),
    ...choiceHeadSpecs(c).map((s) => ({ name: s.name, shape: s.shape })),
  ];
}

/** Whether any of `sources` is a checkpoint (and so needs the tokenizer and a GPU). */
export function needsModel(sources: readonly AgentSource[]): boolean {
  return sources.some((s) => !BUILTIN.has(s.source));
}

/** Checks one agent (reads and checks its checkpoint, when it is one). */
export async function prepareAgent(
  src: AgentSource,
  tokenizer: BertTokenizer | null,
): Promise<PreparedAgent> {
  if (BUILTIN.has(src.source)) return { ...src, checkpoint: null };
  if (!tokenizer) throw new Error(`${src.source}: a checkpoint agent needs the tokenizer`);
  return { ...src, checkpoint: await checkAgentCheckpoint(src.source, tokenizer) };
}

/** A prepared agent as a policy (a checkpoint's model is created on `gpu`). */
export function instantiateAgent(
  p: PreparedAgent,
  gpu: Gpu | null,
  tokenizer: BertTokenizer | null,
  opts: AgentPolicyOptions = {},
): LoadedAgent {
  const base = { label: p.label, source: p.source };
  if (p.checkpoint === null) {
    const make = (seed: number): AgentPolicy =>
      p.source === "oracle" ? new OracleAgent() : new RandomAgent(seed);
    return { ...base, policy: make(opts.seed ?? 0), withSeed: make, model: null, destroy() {} };
  }
  if (!gpu || !tokenizer) {
    throw new Error(`${p.source}: a checkpoint agent needs a GPU and tokenizer`);
  }
  const model = ChoiceModel.create(gpu, p.checkpoint.spec.model, p.checkpoint.weights);
  const encoder = new AgentEncoder(tokenizer, p.checkpoint.spec.encoder);
  // A checkpoint's weights never change here: every policy of it shares one action cache.
  const actionCache = actionCacheFor(model, encoder);
  const make = (seed: number): AgentPolicy =>
    new ModelPolicy(model, encoder, {
      mode: opts.mode ?? "greedy",
      temperature: opts.temperature,
      seed,
      values: opts.values,
      maxBatch: opts.maxBatch,
      name: p.label,
      actionCache,
    });
  return {
    ...base,
    policy: make(opts.seed ?? 0),
    withSeed: make,
    model,
    destroy: () => {
      actionCache.destroy();
      model.destroy();
    },
  };
}

/**
 * One agent from its name, checked and instantiated: what `eval:greedy`, `recommend` and the
 * experiment use. `gpu` is asked for only when the agent is a checkpoint.
 */
export async function resolveAgent(
  spec: string | AgentSource,
  data: { tokenizer: BertTokenizer | null; gpu: () => Promise<Gpu> },
  opts: AgentPolicyOptions = {},
): Promise<LoadedAgent> {
  const src = typeof spec === "string" ? parseAgentSource(spec) : spec;
  const p = await prepareAgent(src, data.tokenizer);
  const gpu = p.checkpoint ? await data.gpu() : null;
  return instantiateAgent(p, gpu, data.tokenizer, opts);
}
