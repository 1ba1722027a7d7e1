/**
 * Safetensors files: read (single files and sharded `model.safetensors.index.json` folders,
 * F32/F16/BF16/F64 and integer dtypes, all converted to float32 {@linkcode HostTensor}s), write
 * (F32 with `__metadata__`), and the Hugging Face BERT naming rules (optional `bert.` prefix,
 * old TF-era `gamma`/`beta` LayerNorm names) plus a report of missing, unexpected and misshapen
 * tensors against an expected name/shape list.
 *
 * Format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
 * N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {..}}`, then
 * the raw little-endian tensor bytes; offsets count from the end of the header.
 *
 * @module
 */

import type { HostTensor } from "../kernels/tensor.ts";

/** A set of named tensors and the file's string metadata. */
export interface TensorFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** An error reading or writing a tensor file; the message names the file and the tensor. */
export class TensorFileError extends Error {
  override name = "TensorFileError";
}

/** Bytes per element of each safetensors dtype this reader converts to float32. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Float32 value of IEEE half-precision bits. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24; // subnormal
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Float32 value of bfloat16 bits (the top half of a float32). */
export function bf16ToF32(h: number): number {
  const u = new Uint32Array([h << 16]);
  return new Float32Array(u.buffer)[0];
}

/**
 * Converts `n` little-endian elements of `dtype` starting at byte `offset` of `bytes` to float32.
 * Integers above 2^24 lose precision (harmless for the index buffers such files carry).
 */
export function decodeElements(
  bytes: Uint8Array,
  offset: number,
  n: number,
  dtype: string,
  what: string,
): Float32Array {
  const size = DTYPE_BYTES[dtype];
  if (!size) throw new TensorFileError(`${what}: unsupported dtype ${dtype}`);
  if (offset + n * size > bytes.byteLength) {
    throw new TensorFileError(
      `${what}: ${n} ${dtype} elements at byte ${offset} run past the end (${bytes.byteLength})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * size);
  const out = new Float32Array(n);
  switch (dtype) {
    case "F32":
      if ((bytes.byteOffset + offset) % 4 === 0) {
        out.set(new Float32Array(bytes.buffer, bytes.byteOffset + offset, n));
      } else for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      break;
    case "BF16": {
      // Widen bf16 bits straight into float32 bits: no per-element function call.
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case "I64":
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case "I32":
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case "I16":
      for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
      break;
    case "I8":
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    default: // U8, BOOL
      for (let i = 0; i < n; i++) out[i] = view.getUint8(i);
  }
  return out;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Parses safetensors bytes. `source` names the file in errors; `filter` keeps only some tensors
 * (the others are never converted).
 *
 * @example
 * ```ts
 * const { tensors, metadata } = parseSafetensors(await Deno.readFile("model.safetensors"));
 * ```
 */
export function parseSafetensors(
  bytes: Uint8Array,
  source = "<bytes>",
  filter?: (name: string) => boolean,
): TensorFile {
  if (bytes.byteLength < 8) {
    throw new TensorFileError(`${source}: ${bytes.byteLength} bytes is too short for safetensors`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.byteLength - 8) {
    throw new TensorFileError(
      `${source}: header length ${n} exceeds the file (${bytes.byteLength} bytes); ` +
        `not a safetensors file?`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new TensorFileError(`${source}: header is not JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  const dataBytes = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, HostTensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
        metadata[k] = String(v);
      }
      continue;
    }
    if (filter && !filter(name)) continue;
    const e = raw as HeaderEntry;
    const what = `${source}: tensor '${name}'`;
    if (!e || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw new TensorFileError(`${what}: header entry lacks shape or data_offsets`);
    }
    const size = DTYPE_BYTES[e.dtype];
    if (!size) throw new TensorFileError(`${what}: unsupported dtype ${e.dtype}`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    if (end - begin !== count * size || begin < 0 || end > dataBytes) {
      throw new TensorFileError(
        `${what}: data_offsets [${begin}, ${end}] do not hold ${e.dtype} [${e.shape}] ` +
          `(${count * size} bytes) within ${dataBytes} data bytes`,
      );
    }
    tensors.set(name, {
      shape: [...e.shape],
      data: decodeElements(bytes, dataStart + begin, count, e.dtype, what),
    });
  }
  return { tensors, metadata };
}

/**
 * Serialises tensors as float32 safetensors with `metadata` as `__metadata__`. Tensors are laid
 * out in name order and the header is padded with spaces to 8 bytes, as the reference writer
 * does, so the data stays aligned.
 */
export function encodeSafetensors(
  tensors: Map<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new TensorFileError(`safetensors metadata '${k}' must be a string, got ${typeof v}`);
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new TensorFileError(
        `tensor '${name}': shape [${t.shape}] needs ${count} values, data holds ${t.data.length}`,
      );
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/**
 * Reads a `.safetensors` file, or every shard listed by a `*.safetensors.index.json` file (its
 * `weight_map`; shard metadata is merged, the index's own `metadata` values are added as
 * strings).
 */
export async function readSafetensors(
  path: string,
  filter?: (name: string) => boolean,
): Promise<TensorFile> {
  if (path.endsWith(".json")) return await readShardedSafetensors(path, filter);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new TensorFileError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseSafetensors(bytes, path, filter);
}

async function readShardedSafetensors(
  indexPath: string,
  filter?: (name: string) => boolean,
): Promise<TensorFile> {
  let index: { metadata?: Record<string, unknown>; weight_map?: Record<string, string> };
  try {
    index = JSON.parse(await Deno.readTextFile(indexPath));
  } catch (e) {
    throw new TensorFileError(`${indexPath}: cannot read index (${(e as Error).message})`);
  }
  if (!index.weight_map) throw new TensorFileError(`${indexPath}: no weight_map`);
  const dir = indexPath.includes("/") ? indexPath.slice(0, indexPath.lastIndexOf("/") + 1) : "";
  const shards = [...new Set(Object.values(index.weight_map))].sort();
  const out: TensorFile = { tensors: new Map(), metadata: {} };
  for (const [k, v] of Object.entries(index.metadata ?? {})) out.metadata[k] = String(v);
  for (const shard of shards) {
    const part = await readSafetensors(dir + shard, filter);
    for (const [name, t] of part.tensors) out.tensors.set(name, t);
    Object.assign(out.metadata, part.metadata);
  }
  for (const [name, shard] of Object.entries(index.weight_map)) {
    if ((!filter || filter(name)) && !out.tensors.has(name)) {
      throw new TensorFileError(`${indexPath}: tensor '${name}' is not in its shard ${shard}`);
    }
  }
  return out;
}

/** Writes float32 safetensors (see {@linkcode encodeSafetensors}). */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, HostTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await Deno.writeFile(path, encodeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------------------------
// Hugging Face BERT names

/**
 * The Hugging Face name of a checkpoint tensor as `BertModel.from_pretrained` would load it:
 * old TF-converted LayerNorm names `gamma`/`beta` become `weight`/`bias` (as HF's `_fix_key`
 * does), and a leading `bert.` is removed (HF strips the base-model prefix when a
 * `BertForPreTraining` checkpoint is loaded into a bare `BertModel`).
 */
export function hfBertName(name: string): string {
  let n = name.startsWith("bert.") ? name.slice(5) : name;
  if (n.endsWith(".gamma")) n = n.slice(0, -6) + ".weight";
  else if (n.endsWith(".beta")) n = n.slice(0, -5) + ".bias";
  return n;
}

/** First name segments of a Hugging Face `BertModel`'s own tensors. */
const BERT_ROOTS = ["embeddings.", "encoder.", "pooler."];

/**
 * Renames tensors for a model whose BERT encoder lives under `prefix` (`"bert."` for
 * `BertModel` here and WebShop's choice model): encoder tensors, with or without a `bert.`
 * prefix, become `prefix` + {@linkcode hfBertName}; other tensors (WebShop's `attn.*`,
 * `linear_1.*`, pre-training `cls.*` heads) keep their names, with `gamma`/`beta` fixed.
 * Throws when two names collide.
 */
export function normalizeBertNames(
  tensors: Map<string, HostTensor>,
  prefix = "",
): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const from = new Map<string, string>();
  for (const [name, t] of tensors) {
    const h = hfBertName(name);
    const n = name.startsWith("bert.") || BERT_ROOTS.some((r) => h.startsWith(r)) ? prefix + h : h;
    if (out.has(n)) {
      throw new TensorFileError(`tensors '${from.get(n)}' and '${name}' both map to '${n}'`);
    }
    out.set(n, t);
    from.set(n, name);
  }
  return out;
}

/** Sizes that fix the shapes of a Hugging Face `BertModel`'s tensors. */
export interface BertShapeConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  /** Include `pooler.dense.*` (a `BertModel` has it; WebShop's choice model never uses it). */
  pooler?: boolean;
}

/** A tensor name and shape a model expects. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
}

/**
 * The tensors of a Hugging Face `BertModel` in its naming (nn.Linear weights are (out, in)),
 * each name prefixed with `prefix`.
 */
export function bertTensorNames(c: BertShapeConfig, prefix = ""): ExpectedTensor[] {
  const C = c.hiddenSize, I = c.intermediateSize;
  const out: ExpectedTensor[] = [
    { name: "embeddings.word_embeddings.weight", shape: [c.vocabSize, C] },
    { name: "embeddings.position_embeddings.weight", shape: [c.maxPositions, C] },
    { name: "embeddings.token_type_embeddings.weight", shape: [c.typeVocabSize, C] },
    { name: "embeddings.LayerNorm.weight", shape: [C] },
    { name: "embeddings.LayerNorm.bias", shape: [C] },
  ];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const m of ["query", "key", "value"]) {
      out.push({ name: `${p}attention.self.${m}.weight`, shape: [C, C] });
      out.push({ name: `${p}attention.self.${m}.bias`, shape: [C] });
    }
    out.push(
      { name: `${p}attention.output.dense.weight`, shape: [C, C] },
      { name: `${p}attention.output.dense.bias`, shape: [C] },
      { name: `${p}attention.output.LayerNorm.weight`, shape: [C] },
      { name: `${p}attention.output.LayerNorm.bias`, shape: [C] },
      { name: `${p}intermediate.dense.weight`, shape: [I, C] },
      { name: `${p}intermediate.dense.bias`, shape: [I] },
      { name: `${p}output.dense.weight`, shape: [C, I] },
      { name: `${p}output.dense.bias`, shape: [C] },
      { name: `${p}output.LayerNorm.weight`, shape: [C] },
      { name: `${p}output.LayerNorm.bias`, shape: [C] },
    );
  }
  if (c.pooler) {
    out.push(
      { name: "pooler.dense.weight", shape: [C, C] },
      { name: "pooler.dense.bias", shape: [C] },
    );
  }
  return out.map((t) => ({ name: prefix + t.name, shape: t.shape }));
}

/** What {@linkcode compareTensorNames} found. */
export interface TensorReport {
  /** Expected names the file lacks. */
  missing: string[];
  /** Names in the file nothing expects (e.g. `cls.predictions.*`, `position_ids` buffers). */
  unexpected: string[];
  /** Names present in both with different shapes. */
  mismatched: { name: string; got: number[]; expected: number[] }[];
}

/** Compares tensors with the expected names and shapes. */
export function compareTensorNames(
  tensors: Map<string, { shape: number[] }>,
  expected: readonly ExpectedTensor[],
): TensorReport {
  const want = new Map(expected.map((e) => [e.name, e.shape]));
  const report: TensorReport = { missing: [], unexpected: [], mismatched: [] };
  for (const e of expected) {
    const t = tensors.get(e.name);
    if (!t) report.missing.push(e.name);
    else if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      report.mismatched.push({ name: e.name, got: [...t.shape], expected: [...e.shape] });
    }
  }
  for (const name of tensors.keys()) if (!want.has(name)) report.unexpected.push(name);
  return report;
}

/** The report as readable lines (empty string when everything matches). */
export function formatTensorReport(r: TensorReport, limit = 10): string {
  const lines: string[] = [];
  const list = (xs: string[]) =>
    xs.slice(0, limit).join(", ") + (xs.length > limit ? `, ... (${xs.length} in all)` : "");
  if (r.missing.length) lines.push(`missing ${r.missing.length}: ${list(r.missing)}`);
  if (r.mismatched.length) {
    lines.push(
      `wrong shape ${r.mismatched.length}: ` +
        list(r.mismatched.map((m) => `${m.name} [${m.got}] (expected [${m.expected}])`)),
    );
  }
  if (r.unexpected.length) lines.push(`unexpected ${r.unexpected.length}: ${list(r.unexpected)}`);
  return lines.join("\n");
}

/**
 * Throws a {@linkcode TensorFileError} naming `source` and every missing or misshapen tensor;
 * unexpected tensors are an error only when `allowUnexpected` is false.
 */
export function assertTensorNames(
  tensors: Map<string, { shape: number[] }>,
  expected: readonly ExpectedTensor[],
  source: string,
  allowUnexpected = true,
): TensorReport {
  const r = compareTensorNames(tensors, expected);
  const bad = r.missing.length || r.mismatched.length || (!allowUnexpected && r.unexpected.length);
  if (bad) {
    const shown = allowUnexpected ? { ...r, unexpected: [] } : r;
    throw new TensorFileError(
      `${source}: tensors do not match the model\n${formatTensorReport(shown)}`,
    );
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// NumPy .npy (for handing activations to Python: `np.load("hidden.npy")`)

/** A float32 C-order `.npy` file (format 1.0) of `data` with `shape`. */
export function encodeNpy(shape: readonly number[], data: Float32Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new TensorFileError(`npy: shape [${shape}] needs ${count} values, got ${data.length}`);
  }
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Magic (6) + version (2) + length (2) + header + "\n" must be a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/** Reads a little-endian float32 or float64 C-order `.npy` file (versions 1–3) as float32. */
export function parseNpy(bytes: Uint8Array, source = "<npy>"): HostTensor {
  const magic = new TextDecoder().decode(bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== "NUMPY") {
    throw new TensorFileError(`${source}: not a .npy file`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v1 = bytes[6] === 1;
  const hlen = v1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = (v1 ? 10 : 12) + hlen;
  const header = new TextDecoder().decode(bytes.subarray(v1 ? 10 : 12, start));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) {
    throw new TensorFileError(`${source}: bad .npy header ${header.trim()}`);
  }
  if (fortran) throw new TensorFileError(`${source}: Fortran-order arrays are not supported`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const dtype = descr === "<f4" ? "F32" : descr === "<f8" ? "F64" : "";
  if (!dtype) throw new TensorFileError(`${source}: dtype ${descr} is not supported (<f4, <f8)`);
  return { shape, data: decodeElements(bytes, start, n, dtype, source) };
}
