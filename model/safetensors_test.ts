import { assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import type { HostTensor } from "../kernels/tensor.ts";
import { readPth } from "./pth.ts";
import {
  assertTensorNames,
  bertTensorNames,
  bf16ToF32,
  compareTensorNames,
  encodeNpy,
  encodeSafetensors,
  f16ToF32,
  formatTensorReport,
  hfBertName,
  normalizeBertNames,
  parseNpy,
  parseSafetensors,
  readSafetensors,
  TensorFileError,
  writeSafetensors,
} from "./safetensors.ts";

const FIXTURE = new URL("../tests/fixtures/bert_tiny/", import.meta.url).pathname;

/** A safetensors file built by hand from a header object and raw data bytes. */
function rawFile(header: Record<string, unknown>, data: number[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("encodeSafetensors() round-trips tensors and metadata with an aligned header", () => {
  const t = new Map<string, HostTensor>([
    ["b", { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }],
    ["a", { shape: [], data: Float32Array.from([-7]) }],
  ]);
  const bytes = encodeSafetensors(t, { step: "3", note: "x" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.a, { dtype: "F32", shape: [], data_offsets: [0, 4] });
  assert.deepEqual(header.b.data_offsets, [4, 28]);
  const back = parseSafetensors(bytes);
  assert.deepEqual(back.metadata, { step: "3", note: "x" });
  assert.deepEqual(back.tensors.get("b"), t.get("b"));
  assert.deepEqual(back.tensors.get("a"), t.get("a"));
});

Deno.test("parseSafetensors() converts F16, BF16, F64, I64 and U8 to float32", () => {
  const bytes: number[] = [];
  const u16 = (v: number) => bytes.push(v & 0xff, v >> 8);
  // F16: 1, -2, 1/3 rounded (0x3555), smallest subnormal 2^-24, +inf
  [0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00].forEach(u16);
  // BF16: 1, -3
  [0x3f80, 0xc040].forEach(u16);
  const f64 = new Uint8Array(new Float64Array([0.1, -1e300]).buffer);
  const i64 = new Uint8Array(new BigInt64Array([-5n, 1n << 40n]).buffer);
  const start = bytes.length;
  bytes.push(...f64, ...i64, 7, 255);
  const file = rawFile({
    h: { dtype: "F16", shape: [5], data_offsets: [0, 10] },
    bf: { dtype: "BF16", shape: [2, 1], data_offsets: [10, 14] },
    d: { dtype: "F64", shape: [2], data_offsets: [start, start + 16] },
    l: { dtype: "I64", shape: [2], data_offsets: [start + 16, start + 32] },
    u: { dtype: "U8", shape: [2], data_offsets: [start + 32, start + 34] },
  }, bytes);
  const { tensors } = parseSafetensors(file, "hand.safetensors");
  assert.deepEqual([...tensors.get("h")!.data], [1, -2, 0.333251953125, 2 ** -24, Infinity]);
  assert.deepEqual(tensors.get("bf")!.shape, [2, 1]);
  assert.deepEqual([...tensors.get("bf")!.data], [1, -3]);
  assert.deepEqual([...tensors.get("d")!.data], [Math.fround(0.1), -Infinity]);
  assert.deepEqual([...tensors.get("l")!.data], [-5, 2 ** 40]);
  assert.deepEqual([...tensors.get("u")!.data], [7, 255]);
  assert.equal(f16ToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));
  assert.equal(bf16ToF32(0x4049), Math.fround(3.140625));
});

Deno.test("parseSafetensors() errors name the file and the tensor", () => {
  assertThrows(
    () =>
      parseSafetensors(
        rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, [
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          0,
        ]),
        "bad.safetensors",
      ),
    TensorFileError,
    "bad.safetensors: tensor 'w': data_offsets [0, 8] do not hold F32 [3]",
  );
  assertThrows(
    () =>
      parseSafetensors(
        rawFile({ q: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, [0]),
        "f8.safetensors",
      ),
    TensorFileError,
    "f8.safetensors: tensor 'q': unsupported dtype F8_E4M3",
  );
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1000n, true);
  assertThrows(() => parseSafetensors(huge, "h.st"), TensorFileError, "h.st: header length 1000");
  assertThrows(
    () => encodeSafetensors(new Map([["x", { shape: [2, 2], data: new Float32Array(3) }]])),
    TensorFileError,
    "tensor 'x': shape [2,2] needs 4 values",
  );
});

Deno.test("readSafetensors() reads a sharded index and filters names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = { shape: [2], data: Float32Array.from([1, 2]) };
    const b = { shape: [1, 2], data: Float32Array.from([3, 4]) };
    await writeSafetensors(`${dir}/s1.safetensors`, new Map([["a", a]]), { part: "1" });
    await writeSafetensors(`${dir}/s2.safetensors`, new Map([["b", b]]));
    await Deno.writeTextFile(
      `${dir}/model.safetensors.index.json`,
      JSON.stringify({
        metadata: { total_size: 16 },
        weight_map: { a: "s1.safetensors", b: "s2.safetensors" },
      }),
    );
    const all = await readSafetensors(`${dir}/model.safetensors.index.json`);
    assert.deepEqual(all.tensors.get("a"), a);
    assert.deepEqual(all.tensors.get("b"), b);
    assert.deepEqual(all.metadata, { total_size: "16", part: "1" });
    const some = await readSafetensors(`${dir}/model.safetensors.index.json`, (n) => n === "b");
    assert.deepEqual([...some.tensors.keys()], ["b"]);
    await Deno.writeTextFile(
      `${dir}/bad.index.json`,
      JSON.stringify({ weight_map: { a: "s1.safetensors", c: "s1.safetensors" } }),
    );
    await assert.rejects(
      () => readSafetensors(`${dir}/bad.index.json`),
      /tensor 'c' is not in its shard s1.safetensors/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hfBertName() maps gamma/beta and strips the bert. prefix as Hugging Face does", () => {
  assert.equal(
    hfBertName("bert.embeddings.LayerNorm.gamma"),
    "embeddings.LayerNorm.weight",
  );
  assert.equal(
    hfBertName("encoder.layer.3.output.LayerNorm.beta"),
    "encoder.layer.3.output.LayerNorm.bias",
  );
  assert.equal(hfBertName("bert.pooler.dense.weight"), "pooler.dense.weight");
  assert.equal(hfBertName("cls.predictions.bias"), "cls.predictions.bias");
  const m = normalizeBertNames(
    new Map([["bert.embeddings.LayerNorm.gamma", { shape: [1], data: new Float32Array(1) }]]),
    "bert.",
  );
  assert.deepEqual([...m.keys()], ["bert.embeddings.LayerNorm.weight"]);
  // WebShop's choice model: the encoder moves under the prefix, the head keeps its names.
  const one = { shape: [1], data: new Float32Array(1) };
  const choice = normalizeBertNames(
    new Map([
      ["embeddings.LayerNorm.beta", one],
      ["bert.pooler.dense.bias", one],
      ["attn.weight", one],
      ["linear_1.bias", one],
      ["cls.predictions.transform.LayerNorm.gamma", one],
    ]),
    "bert.",
  );
  assert.deepEqual([...choice.keys()], [
    "bert.embeddings.LayerNorm.bias",
    "bert.pooler.dense.bias",
    "attn.weight",
    "linear_1.bias",
    "cls.predictions.transform.LayerNorm.weight",
  ]);
  assertThrows(
    () =>
      normalizeBertNames(
        new Map([
          ["bert.x.gamma", { shape: [1], data: new Float32Array(1) }],
          ["x.weight", { shape: [1], data: new Float32Array(1) }],
        ]),
      ),
    TensorFileError,
    "both map to 'x.weight'",
  );
});

Deno.test("compareTensorNames() reports missing, unexpected and misshapen tensors by name", () => {
  const got = new Map([
    ["a", { shape: [2, 3] }],
    ["b", { shape: [4] }],
    ["extra", { shape: [1] }],
  ]);
  const expected = [
    { name: "a", shape: [2, 3] },
    { name: "b", shape: [5] },
    { name: "c", shape: [1] },
  ];
  const r = compareTensorNames(got, expected);
  assert.deepEqual(r.missing, ["c"]);
  assert.deepEqual(r.unexpected, ["extra"]);
  assert.deepEqual(r.mismatched, [{ name: "b", got: [4], expected: [5] }]);
  assert.equal(
    formatTensorReport(r),
    "missing 1: c\nwrong shape 1: b [4] (expected [5])\nunexpected 1: extra",
  );
  assertThrows(() => assertTensorNames(got, expected, "m.st"), TensorFileError, "missing 1: c");
  assert.deepEqual(assertTensorNames(got, expected.slice(0, 1), "m.st").unexpected, ["b", "extra"]);
  assertThrows(
    () => assertTensorNames(got, expected.slice(0, 1), "m.st", false),
    TensorFileError,
    "unexpected 2: b, extra",
  );
});

Deno.test("the tiny fixture's model.safetensors equals its pytorch_model.bin after renaming", async () => {
  const st = await readSafetensors(`${FIXTURE}model.safetensors`);
  const pt = normalizeBertNames(await readPth(`${FIXTURE}pytorch_model.bin`), "bert.");
  const config = JSON.parse(await Deno.readTextFile(`${FIXTURE}config.json`));
  const expected = bertTensorNames({
    vocabSize: config.vocab_size,
    hiddenSize: config.hidden_size,
    numLayers: config.num_hidden_layers,
    intermediateSize: config.intermediate_size,
    maxPositions: config.max_position_embeddings,
    typeVocabSize: config.type_vocab_size,
    pooler: true,
  }, "bert.");
  const a = normalizeBertNames(st.tensors, "bert.");
  assert.deepEqual(compareTensorNames(a, expected).unexpected, ["bert.embeddings.position_ids"]);
  const r = compareTensorNames(pt, expected);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.mismatched, []);
  assert.deepEqual(r.unexpected.sort(), ["cls.predictions.bias", "cls.seq_relationship.weight"]);
  for (const e of expected) assert.deepEqual(pt.get(e.name), a.get(e.name), e.name);
});

Deno.test("encodeNpy() writes a NumPy 1.0 header that parseNpy() and NumPy's layout agree on", () => {
  const data = Float32Array.from([1, -2.5, 3, 4, 5, 6]);
  const bytes = encodeNpy([2, 3], data);
  const hlen = new DataView(bytes.buffer).getUint16(8, true);
  assert.equal((10 + hlen) % 64, 0);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + hlen));
  assert.ok(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
  assert.ok(header.endsWith("\n"));
  assert.deepEqual(parseNpy(bytes), { shape: [2, 3], data });
  assert.deepEqual(parseNpy(encodeNpy([4], data.subarray(0, 4))).shape, [4]);
  assertThrows(() => encodeNpy([4], data), TensorFileError, "needs 4 values, got 6");
  assertThrows(() => parseNpy(new Uint8Array(16), "x.npy"), TensorFileError, "x.npy: not a .npy");
});
