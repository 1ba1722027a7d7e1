/**
 * PyTorch `.pth` / `pytorch_model.bin` checkpoints (the zip format `torch.save` writes since
 * torch 1.6) read directly, without Python: a zip reader (stored entries as torch writes them,
 * deflated ones as other tools may rewrite them, ZIP64 for files over 4 GiB) and a small pickle
 * machine for the subset `torch.save` emits — `torch._utils._rebuild_tensor_v2` over storages
 * fetched by `persistent_load`, `_rebuild_parameter`, `collections.OrderedDict`, typed storages
 * (Float/Half/BFloat16/Double/Long/Int/...), strides and storage offsets.
 *
 * Layout of such a zip: `<root>/data.pkl` (the pickled object; tensors refer to storages by key),
 * `<root>/data/<key>` (raw little-endian storage bytes), `<root>/byteorder`, `<root>/version`.
 *
 * @module
 */

import type { HostTensor } from "../kernels/tensor.ts";
import { decodeElements, TensorFileError } from "./safetensors.ts";

// ---------------------------------------------------------------------------------------------
// Zip

/** One file inside a zip archive. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  /** Byte offset of the entry's local header. */
  localOffset: number;
}

const u16 = (dv: DataView, o: number) => dv.getUint16(o, true);
const u32 = (dv: DataView, o: number) => dv.getUint32(o, true);
const u64 = (dv: DataView, o: number) => Number(dv.getBigUint64(o, true));

/** Lists the entries of a zip archive from its central directory (ZIP64 aware). */
export function listZip(bytes: Uint8Array, source = "<zip>"): ZipEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  let eocd = -1;
  for (let i = bytes.byteLength - 22; i >= Math.max(0, bytes.byteLength - 22 - 65535); i--) {
    if (u32(dv, i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new TensorFileError(`${source}: not a zip archive (no end of directory)`);
  let count = u16(dv, eocd + 10);
  let cdSize = u32(dv, eocd + 12);
  let cdOffset = u32(dv, eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(dv, loc) !== 0x07064b50) {
      throw new TensorFileError(`${source}: ZIP64 sizes but no ZIP64 locator`);
    }
    const rec = u64(dv, loc + 8);
    if (u32(dv, rec) !== 0x06064b50) {
      throw new TensorFileError(`${source}: bad ZIP64 end of directory record at ${rec}`);
    }
    count = u64(dv, rec + 32);
    cdSize = u64(dv, rec + 40);
    cdOffset = u64(dv, rec + 48);
  }
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > bytes.byteLength || u32(dv, p) !== 0x02014b50) {
      throw new TensorFileError(`${source}: bad central directory entry ${k} at byte ${p}`);
    }
    const method = u16(dv, p + 10);
    let compressedSize = u32(dv, p + 20);
    let size = u32(dv, p + 24);
    const nameLen = u16(dv, p + 28), extraLen = u16(dv, p + 30), commentLen = u16(dv, p + 32);
    let localOffset = u32(dv, p + 42);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extended information: u64 values for each 32-bit field that holds 0xffffffff,
    // in the order size, compressed size, local header offset.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = u16(dv, e), len = u16(dv, e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) (size = u64(dv, q)), (q += 8);
        if (compressedSize === 0xffffffff) (compressedSize = u64(dv, q)), (q += 8);
        if (localOffset === 0xffffffff) localOffset = u64(dv, q);
      }
      e += 4 + len;
    }
    entries.push({ name, method, compressedSize, size, localOffset });
    p = extraEnd + commentLen;
  }
  return entries;
}

/** The raw (possibly compressed) bytes of an entry, located through its local header. */
function entryRaw(bytes: Uint8Array, entry: ZipEntry, source: string): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = entry.localOffset;
  if (h + 30 > bytes.byteLength || u32(dv, h) !== 0x04034b50) {
    throw new TensorFileError(`${source}: bad local header for '${entry.name}' at byte ${h}`);
  }
  const start = h + 30 + u16(dv, h + 26) + u16(dv, h + 28);
  if (start + entry.compressedSize > bytes.byteLength) {
    throw new TensorFileError(`${source}: entry '${entry.name}' runs past the end of the file`);
  }
  return bytes.subarray(start, start + entry.compressedSize);
}

/** The uncompressed bytes of a zip entry (stored: a view, no copy; deflated: inflated). */
export async function readZipEntry(
  bytes: Uint8Array,
  entry: ZipEntry,
  source = "<zip>",
): Promise<Uint8Array> {
  const raw = entryRaw(bytes, entry, source);
  if (entry.method === 0) return raw;
  if (entry.method !== 8) {
    throw new TensorFileError(
      `${source}: entry '${entry.name}' uses compression method ${entry.method}; only stored ` +
        `(0, what torch.save writes) and deflate (8) are supported`,
    );
  }
  const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate-raw"),
  );
  const out = new Uint8Array(await new Response(stream).arrayBuffer());
  if (out.byteLength !== entry.size) {
    throw new TensorFileError(
      `${source}: entry '${entry.name}' inflated to ${out.byteLength} bytes, expected ${entry.size}`,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pickle

/** A Python global (`module.name`) met in a pickle. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get path(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object built by REDUCE/NEWOBJ from a global the machine does not model. */
export class PyObject {
  state: unknown = undefined;
  constructor(readonly cls: PyGlobal, readonly args: unknown[]) {}
}

/** A storage reference from `persistent_load`: dtype, key of `data/<key>`, element count. */
export interface StorageRef {
  kind: "storage";
  dtype: string;
  key: string;
  numel: number;
}

/** A tensor as the pickle describes it, before its storage bytes are read. */
export interface TensorRef {
  kind: "tensor";
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

/** torch typed-storage class names → safetensors-style dtype codes of {@linkcode decodeElements}. */
const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** torch dtype names (newer `persistent_load` tuples may carry a `torch.float32` global). */
const TORCH_DTYPES: Record<string, string> = {
  float32: "F32",
  float: "F32",
  float16: "F16",
  half: "F16",
  bfloat16: "BF16",
  float64: "F64",
  double: "F64",
  int64: "I64",
  long: "I64",
  int32: "I32",
  int: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

const MARK = Symbol("mark");

/**
 * Runs a pickle program (protocols 2–4, the opcodes `torch.save` and plain containers use)
 * and returns the unpickled object: dicts become `Map`s, lists and tuples arrays, tensors
 * {@linkcode TensorRef}s. Unknown globals become {@linkcode PyObject}s so a foreign object
 * fails only where it is used.
 */
export function unpickle(data: Uint8Array, source = "<pickle>"): unknown {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const td = new TextDecoder();
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const fail = (msg: string): never => {
    throw new TensorFileError(`${source}: pickle byte ${p}: ${msg}`);
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail("no MARK on the stack");
    const items = stack.slice(i + 1);
    stack.length = i;
    return items;
  };
  const str = (n: number) => {
    const s = td.decode(data.subarray(p, p + n));
    p += n;
    return s;
  };
  const setItem = (d: unknown, k: unknown, v: unknown) => {
    if (d instanceof Map) d.set(k, v);
    else if (d instanceof PyObject) {
      // An OrderedDict subclass or similar we do not model: keep items on the object.
      (d.state ??= new Map()) instanceof Map && (d.state as Map<unknown, unknown>).set(k, v);
    } else fail(`SETITEM on ${typeof d}`);
  };
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (!(fn instanceof PyGlobal)) return fail(`call of a non-global ${String(fn)}`);
    switch (fn.path) {
      case "collections.OrderedDict":
      case "builtins.dict":
        return new Map();
      case "torch._utils._rebuild_tensor_v2":
      case "torch._utils._rebuild_tensor": {
        const [storage, offset, shape, stride] = args as [StorageRef, number, number[], number[]];
        if (!storage || storage.kind !== "storage") fail(`${fn.path} without a storage`);
        return { kind: "tensor", storage, offset, shape: [...shape], stride: [...stride] };
      }
      case "torch._utils._rebuild_parameter":
      case "torch._utils._rebuild_parameter_with_state":
        return args[0];
      case "torch._tensor._rebuild_from_type_v2":
        // (func, new_type, args, state): a Tensor subclass around a plain rebuild.
        return call(args[0], args[2] as unknown[]);
      case "builtins.set":
      case "builtins.frozenset":
        return [...((args[0] as unknown[]) ?? [])];
      case "torch.device":
        return `device(${args.join(",")})`;
      default:
        return new PyObject(fn, args);
    }
  };
  const persistentLoad = (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== "storage") {
      return fail(`persistent id ${JSON.stringify(pid)} is not a storage`);
    }
    const [, type, key, , numel] = pid as [string, PyGlobal, string, string, number];
    const dtype = STORAGE_DTYPES[type?.name] ?? TORCH_DTYPES[type?.name];
    if (!dtype) return fail(`unsupported storage type ${type?.path ?? String(type)}`);
    return { kind: "storage", dtype, key: String(key), numel: Number(numel) };
  };

  while (p < data.byteLength) {
    const op = data[p++];
    switch (op) {
      case 0x80: // PROTO
        p++;
        break;
      case 0x95: // FRAME (protocol 4): a length we do not need
        p += 8;
        break;
      case 0x2e: // STOP
        return stack.pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(data[p++]);
        break;
      case 0x4d: // BININT2
        stack.push(u16(dv, p));
        p += 2;
        break;
      case 0x4a: // BININT
        stack.push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        const n = data[p++];
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]);
        if (n && data[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x58: // BINUNICODE
        p += 4;
        stack.push(str(u32(dv, p - 4)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        p += 1;
        stack.push(str(data[p - 1]));
        break;
      case 0x8d: // BINUNICODE8
        p += 8;
        stack.push(str(u64(dv, p - 8)));
        break;
      case 0x54: // BINSTRING
        p += 4;
        stack.push(str(u32(dv, p - 4)));
        break;
      case 0x55: // SHORT_BINSTRING
        p += 1;
        stack.push(str(data[p - 1]));
        break;
      case 0x42: { // BINBYTES
        const n = u32(dv, p);
        stack.push(data.slice(p + 4, p + 4 + n));
        p += 4 + n;
        break;
      }
      case 0x43: { // SHORT_BINBYTES
        const n = data[p];
        stack.push(data.slice(p + 1, p + 1 + n));
        p += 1 + n;
        break;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const nl1 = data.indexOf(0x0a, p);
        const nl2 = data.indexOf(0x0a, nl1 + 1);
        const module = td.decode(data.subarray(p, nl1));
        const name = td.decode(data.subarray(nl1 + 1, nl2));
        p = nl2 + 1;
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = stack.pop() as string, module = stack.pop() as string;
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x71: // BINPUT
        memo.set(data[p++], stack[stack.length - 1]);
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(dv, p), stack[stack.length - 1]);
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, stack[stack.length - 1]);
        break;
      case 0x68: // BINGET
        if (!memo.has(data[p])) fail(`BINGET of unknown memo ${data[p]}`);
        stack.push(memo.get(data[p++]));
        break;
      case 0x6a: { // LONG_BINGET
        const k = u32(dv, p);
        if (!memo.has(k)) fail(`LONG_BINGET of unknown memo ${k}`);
        stack.push(memo.get(k));
        p += 4;
        break;
      }
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([stack.pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = stack.pop(), a = stack.pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = stack.pop(), b = stack.pop(), a = stack.pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map();
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x61: { // APPEND
        const v = stack.pop();
        (stack[stack.length - 1] as unknown[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        (stack[stack.length - 1] as unknown[]).push(...items);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        (stack[stack.length - 1] as unknown[]).push(...items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x73: { // SETITEM
        const v = stack.pop(), k = stack.pop();
        setItem(stack[stack.length - 1], k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = stack[stack.length - 1];
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x52: { // REDUCE
        const args = stack.pop() as unknown[], fn = stack.pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = stack.pop() as unknown[], cls = stack.pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x62: { // BUILD: state for the object below (state_dict's `_metadata` lands here)
        const state = stack.pop();
        const obj = stack[stack.length - 1];
        if (obj instanceof PyObject) obj.state = state;
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(stack.pop()));
        break;
      case 0x30: // POP
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(stack[stack.length - 1]);
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16)}`);
    }
  }
  return fail("ran past the end without STOP");
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/** Finds tensors in an unpickled object: a state dict, or a dict holding one (`state_dict`, `model`). */
function collectTensors(obj: unknown, prefix: string, out: Map<string, TensorRef>): void {
  if (obj instanceof Map) {
    for (const [k, v] of obj) collectTensors(v, prefix ? `${prefix}.${k}` : String(k), out);
  } else if (obj && typeof obj === "object" && (obj as TensorRef).kind === "tensor") {
    out.set(prefix, obj as TensorRef);
  }
}

/** Gathers a (possibly strided, offset) tensor from its storage into a contiguous float32 array. */
function gather(t: TensorRef, storage: Float32Array, what: string): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (n === 0) return out;
  let contiguous = true;
  for (let d = t.shape.length - 1, s = 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== s) contiguous = false;
    s *= t.shape[d];
  }
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
  if (t.offset < 0 || last >= storage.length) {
    throw new TensorFileError(
      `${what}: shape [${t.shape}] stride [${t.stride}] offset ${t.offset} reaches past its ` +
        `storage of ${storage.length} elements`,
    );
  }
  if (contiguous) {
    out.set(storage.subarray(t.offset, t.offset + n));
    return out;
  }
  const idx = new Array(t.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let src = t.offset;
    for (let d = 0; d < idx.length; d++) src += idx[d] * t.stride[d];
    out[i] = storage[src];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Reads the tensors of a `torch.save` zip checkpoint held in `bytes` (state dict names as keys;
 * a nested dict such as `{"model": state_dict}` gives `model.<name>`). Every tensor becomes
 * float32. The legacy pre-1.6 (non-zip) format is refused with a clear message.
 */
export async function parsePth(
  bytes: Uint8Array,
  source = "<pth>",
): Promise<Map<string, HostTensor>> {
  if (bytes.byteLength >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new TensorFileError(
      `${source}: legacy (pre torch 1.6, non-zip) torch.save format is not supported; ` +
        `re-save it with a recent torch, or convert it to safetensors`,
    );
  }
  const entries = listZip(bytes, source);
  const pkl = entries.find((e) => e.name.endsWith("data.pkl") && !e.name.includes("/data/"));
  if (!pkl) throw new TensorFileError(`${source}: no data.pkl in the archive (not a torch file?)`);
  const root = pkl.name.slice(0, pkl.name.length - "data.pkl".length);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const order = byName.get(root + "byteorder");
  if (order) {
    const text = new TextDecoder().decode(await readZipEntry(bytes, order, source)).trim();
    if (text !== "little") {
      throw new TensorFileError(`${source}: byte order '${text}' is not supported (little only)`);
    }
  }
  const obj = unpickle(await readZipEntry(bytes, pkl, source), `${source}:${pkl.name}`);
  const refs = new Map<string, TensorRef>();
  collectTensors(obj, "", refs);
  if (!refs.size) throw new TensorFileError(`${source}: the pickle holds no tensors`);
  const storages = new Map<string, Float32Array>();
  const out = new Map<string, HostTensor>();
  for (const [name, t] of refs) {
    const what = `${source}: tensor '${name}'`;
    let storage = storages.get(t.storage.key);
    if (!storage) {
      const entry = byName.get(`${root}data/${t.storage.key}`);
      if (!entry) throw new TensorFileError(`${what}: storage data/${t.storage.key} is missing`);
      const raw = await readZipEntry(bytes, entry, source);
      storage = decodeElements(raw, 0, t.storage.numel, t.storage.dtype, what);
      storages.set(t.storage.key, storage);
    }
    out.set(name, { shape: t.shape, data: gather(t, storage, what) });
  }
  return out;
}

/** Reads a `torch.save` zip checkpoint file (`.pth`, `.pt`, `pytorch_model.bin`). */
export async function readPth(path: string): Promise<Map<string, HostTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new TensorFileError(`${path}: cannot read (${(e as Error).message})`);
  }
  return await parsePth(bytes, path);
}
