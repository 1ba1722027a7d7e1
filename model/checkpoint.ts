/**
 * Training checkpoints as safetensors files: the model's tensors under their Hugging Face names,
 * optional Adam state as extra tensors `optimizer.m.<name>` / `optimizer.v.<name>`, and string
 * metadata — format version, model kind, the resolved config (JSON), the tokenizer's identity,
 * the step, the optimizer step and any extra fields. A file opens in any safetensors reader;
 * the model part loads straight into Hugging Face when the names are BERT's.
 *
 * {@linkcode loadHfBert} reads a Hugging Face BERT folder (config.json plus safetensors, sharded
 * safetensors or pytorch_model.bin) into the names {@linkcode BertModel} uses.
 *
 * {@linkcode loadHfBert} reads a Hugging Face BERT folder (config.json plus safetensors, sharded
 * safetensors or pytorch_model.bin) into the names `BertModel` uses.
 *
 * Writes go to a temporary file in the same folder, are flushed to disk and then renamed over
 * the target, so a crash leaves either the old checkpoint or the new one, never half of one.
 *
 * @module
 */

import { writeAtomically } from "../base/atomic.ts";
import { type HostTensor, numel } from "../kernels/tensor.ts";
import { type BertConfig, bertConfigFromHF } from "./config.ts";
import { readPth } from "./pth.ts";
import {
  assertTensorNames,
  bertTensorNames,
  compareTensorNames,
  encodeSafetensors,
  type ExpectedTensor,
  formatTensorReport,
  normalizeBertNames,
  parseSafetensors,
  readSafetensors,
  TensorFileError,
} from "./safetensors.ts";

/** Value of the `format` metadata field this module writes and accepts. */
export const CHECKPOINT_FORMAT = "webshop-rl/checkpoint/1";

const M = "optimizer.m.";
const V = "optimizer.v.";

/** Adam's moment estimates and step count. */
export interface OptimizerState {
  /** Number of updates taken (bias correction needs it). */
  step: number;
  /** First moments by parameter name. */
  m: Map<string, HostTensor>;
  /** Second moments by parameter name. */
  v: Map<string, HostTensor>;
}

/** A checkpoint in memory. */
export interface Checkpoint {
  /** Model kind, e.g. "bert" or "choice" (checked on load when asked for). */
  kind: string;
  /** The resolved config saved with the run (stored as JSON). */
  config: unknown;
  /** Identity of the tokenizer the ids were made with (e.g. `sha256:<hex>+webshop`). */
  tokenizer: string;
  /** Training step of the weights. */
  step: number;
  /** Model tensors by name. */
  tensors: Map<string, HostTensor>;
  /** Optional optimizer state (its names must be model tensor names). */
  optimizer?: OptimizerState;
  /** Further string fields kept in the metadata. */
  extra?: Record<string, string>;
}

/** The safetensors bytes of a checkpoint. */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const all = new Map<string, HostTensor>();
  for (const [name, t] of ckpt.tensors) {
    if (name.startsWith("optimizer.")) {
      throw new TensorFileError(`checkpoint: model tensor '${name}' uses the reserved prefix`);
    }
    all.set(name, t);
  }
  const meta: Record<string, string> = { ...(ckpt.extra ?? {}) };
  if (ckpt.optimizer) {
    for (const [prefix, moments] of [[M, ckpt.optimizer.m], [V, ckpt.optimizer.v]] as const) {
      for (const [name, t] of moments) {
        const p = ckpt.tensors.get(name);
        if (!p) throw new TensorFileError(`checkpoint: optimizer state for unknown '${name}'`);
        if (p.shape.join() !== t.shape.join()) {
          throw new TensorFileError(
            `checkpoint: ${prefix}${name} has shape [${t.shape}], its parameter [${p.shape}]`,
          );
        }
        all.set(prefix + name, t);
      }
    }
    meta["optimizer.step"] = String(ckpt.optimizer.step);
  }
  Object.assign(meta, {
    format: CHECKPOINT_FORMAT,
    kind: ckpt.kind,
    config: JSON.stringify(ckpt.config ?? null),
    tokenizer: ckpt.tokenizer,
    step: String(ckpt.step),
  });
  return encodeSafetensors(all, meta);
}

/** Options of {@linkcode decodeCheckpoint} and {@linkcode loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** Names and shapes the model needs: anything missing, misshapen or unknown is an error. */
  expected?: readonly ExpectedTensor[];
  /** Required model kind. */
  kind?: string;
  /** Required tokenizer identity. */
  tokenizer?: string;
}

/** Parses checkpoint bytes; `source` names the file in errors. */
export function decodeCheckpoint(
  bytes: Uint8Array,
  source = "<checkpoint>",
  opts: LoadCheckpointOptions = {},
): Checkpoint {
  const { tensors: all, metadata } = parseSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new TensorFileError(
      `${source}: format '${metadata.format}' is not a ${CHECKPOINT_FORMAT} checkpoint`,
    );
  }
  const tensors = new Map<string, HostTensor>();
  const m = new Map<string, HostTensor>(), v = new Map<string, HostTensor>();
  for (const [name, t] of all) {
    if (name.startsWith(M)) m.set(name.slice(M.length), t);
    else if (name.startsWith(V)) v.set(name.slice(V.length), t);
    else tensors.set(name, t);
  }
  let config: unknown;
  try {
    config = JSON.parse(metadata.config ?? "null");
  } catch (e) {
    throw new TensorFileError(`${source}: config metadata is not JSON (${(e as Error).message})`);
  }
  const known = new Set(["format", "kind", "config", "tokenizer", "step", "optimizer.step"]);
  const extra: Record<string, string> = {};
  for (const [k, val] of Object.entries(metadata)) if (!known.has(k)) extra[k] = val;
  const ckpt: Checkpoint = {
    kind: metadata.kind ?? "",
    config,
    tokenizer: metadata.tokenizer ?? "",
    step: Number(metadata.step ?? 0),
    tensors,
    extra,
  };
  if (metadata["optimizer.step"] !== undefined) {
    ckpt.optimizer = { step: Number(metadata["optimizer.step"]), m, v };
  } else if (m.size || v.size) {
    throw new TensorFileError(`${source}: optimizer tensors without an optimizer.step`);
  }
  if (opts.kind !== undefined && ckpt.kind !== opts.kind) {
    throw new TensorFileError(`${source}: a '${ckpt.kind}' checkpoint, expected '${opts.kind}'`);
  }
  if (opts.tokenizer !== undefined && ckpt.tokenizer !== opts.tokenizer) {
    throw new TensorFileError(
      `${source}: made with tokenizer ${ckpt.tokenizer}, this run uses ${opts.tokenizer}`,
    );
  }
  if (opts.expected) {
    const r = compareTensorNames(tensors, opts.expected);
    if (r.missing.length || r.mismatched.length || r.unexpected.length) {
      throw new TensorFileError(
        `${source}: tensors do not match the model\n${formatTensorReport(r)}`,
      );
    }
    if (ckpt.optimizer) {
      for (const [what, moments] of [["m", m], ["v", v]] as const) {
        const r2 = compareTensorNames(moments, opts.expected);
        if (r2.mismatched.length || r2.unexpected.length) {
          throw new TensorFileError(
            `${source}: optimizer ${what} does not match the model\n${formatTensorReport(r2)}`,
          );
        }
      }
    }
  }
  return ckpt;
}

/**
 * Writes `ckpt` to `path` atomically (`base/atomic.ts`: a temporary file beside it, fsynced, then
 * renamed).
 *
 * @example
 * ```ts
 * await saveCheckpoint("runs/il/step_1000.safetensors", {
 *   kind: "choice", config, tokenizer: tok.identity, step: 1000, tensors: await model.readWeights(),
 * });
 * ```
 */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  const bytes = encodeCheckpoint(ckpt);
  try {
    await writeAtomically(path, [bytes]);
  } catch (e) {
    throw new TensorFileError(`${path}: cannot write checkpoint (${(e as Error).message})`);
  }
}

/** Reads and validates a checkpoint written by {@linkcode saveCheckpoint}. */
export async function loadCheckpoint(
  path: string,
  opts: LoadCheckpointOptions = {},
): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new TensorFileError(`${path}: cannot read checkpoint (${(e as Error).message})`);
  }
  return decodeCheckpoint(bytes, path, opts);
}

// ---------------------------------------------------------------------------------------------
// Hugging Face model folders

/** A Hugging Face BERT folder loaded for `BertModel`. */
export interface HfBert {
  /** The parsed `config.json`. */
  config: BertConfig;
  /** Weights under BertModel's names (`prefix` + HF BertModel name), float32. */
  weights: Map<string, HostTensor>;
  /** The weight file read. */
  source: string;
  /** Tensors in the file the encoder does not use (`cls.*` heads, `position_ids` buffers). */
  unused: string[];
  /** Tensors the file lacked that were initialised instead (only the pooler, as HF does). */
  initialised: string[];
}

/**
 * Loads a Hugging Face BERT folder: `config.json` and the first of `model.safetensors`,
 * `model.safetensors.index.json`, `pytorch_model.bin` that exists. Names are normalised
 * ({@linkcode normalizeBertNames}: `bert.` prefix, `gamma`/`beta`) and given `prefix`; a missing
 * pooler is zero-filled (it does not touch the hidden states; HF initialises it too); any other
 * missing or misshapen tensor is an error naming the file and the tensors.
 */
export async function loadHfBert(dir: string, prefix = "bert."): Promise<HfBert> {
  const d = dir.replace(/\/$/, "");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await Deno.readTextFile(`${d}/config.json`));
  } catch (e) {
    throw new TensorFileError(`${d}/config.json: cannot read (${(e as Error).message})`);
  }
  const config = bertConfigFromHF(json, `${d}/config.json`);
  const candidates = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"];
  let source = "";
  for (const c of candidates) {
    try {
      if ((await Deno.stat(`${d}/${c}`)).isFile) {
        source = `${d}/${c}`;
        break;
      }
    } catch { /* try the next */ }
  }
  if (!source) {
    throw new TensorFileError(`${d}: no weights (looked for ${candidates.join(", ")})`);
  }
  const raw = source.endsWith(".bin")
    ? await readPth(source)
    : (await readSafetensors(source)).tensors;
  const named = normalizeBertNames(raw, prefix);
  const expected = bertTensorNames({
    vocabSize: config.vocabSize,
    hiddenSize: config.hiddenSize,
    numLayers: config.numHiddenLayers,
    intermediateSize: config.intermediateSize,
    maxPositions: config.maxPositionEmbeddings,
    typeVocabSize: config.typeVocabSize,
    pooler: true,
  }, prefix);
  const initialised: string[] = [];
  for (const e of expected) {
    if (!named.has(e.name) && e.name.startsWith(`${prefix}pooler.`)) {
      named.set(e.name, { shape: e.shape, data: new Float32Array(numel(e.shape)) });
      initialised.push(e.name);
    }
  }
  const report = assertTensorNames(named, expected, source);
  const weights = new Map<string, HostTensor>();
  for (const e of expected) weights.set(e.name, named.get(e.name)!);
  return { config, weights, source, unused: report.unexpected, initialised };
}
