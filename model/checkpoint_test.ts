import { assertRejects, assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import type { HostTensor } from "../kernels/tensor.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  loadHfBert,
  saveCheckpoint,
} from "./checkpoint.ts";
import { readSafetensors, TensorFileError, writeSafetensors } from "./safetensors.ts";

const t = (shape: number[], ...v: number[]): HostTensor => ({ shape, data: Float32Array.from(v) });

function sample(): Checkpoint {
  return {
    kind: "choice",
    config: { model: { hiddenSize: 2 }, lr: 2e-5 },
    tokenizer: "sha256:abc+webshop",
    step: 1200,
    tensors: new Map([["w", t([2, 2], 1, 2, 3, 4)], ["b", t([2], -1, 0.5)]]),
    optimizer: {
      step: 1199,
      m: new Map([["w", t([2, 2], 0.1, 0.2, 0.3, 0.4)], ["b", t([2], 0, 1)]]),
      v: new Map([["w", t([2, 2], 1, 1, 1, 1)], ["b", t([2], 2, 2)]]),
    },
    extra: { run: "il-1" },
  };
}

const EXPECTED = [{ name: "w", shape: [2, 2] }, { name: "b", shape: [2] }];

Deno.test("saveCheckpoint()/loadCheckpoint() round-trip weights, optimizer state and metadata", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ckpt.safetensors`;
    await saveCheckpoint(path, sample());
    const back = await loadCheckpoint(path, {
      expected: EXPECTED,
      kind: "choice",
      tokenizer: "sha256:abc+webshop",
    });
    assert.deepEqual(back, sample());
    // Plain safetensors: names and metadata are readable by any reader.
    const raw = await readSafetensors(path);
    assert.deepEqual([...raw.tensors.keys()].sort(), [
      "b",
      "optimizer.m.b",
      "optimizer.m.w",
      "optimizer.v.b",
      "optimizer.v.w",
      "w",
    ]);
    assert.equal(raw.metadata.format, CHECKPOINT_FORMAT);
    assert.equal(raw.metadata.step, "1200");
    assert.equal(raw.metadata["optimizer.step"], "1199");
    // Overwriting replaces atomically and leaves no temporary file behind.
    const next = { ...sample(), step: 1300, optimizer: undefined };
    await saveCheckpoint(path, next);
    const again = await loadCheckpoint(path);
    assert.equal(again.step, 1300);
    assert.equal(again.optimizer, undefined);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["ckpt.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadCheckpoint() names what does not match the model", () => {
  const bytes = encodeCheckpoint(sample());
  assertThrows(
    () => decodeCheckpoint(bytes, "c.st", { expected: [{ name: "w", shape: [2, 3] }] }),
    TensorFileError,
    "c.st: tensors do not match the model\nwrong shape 1: w [2,2] (expected [2,3])\nunexpected 1: b",
  );
  assertThrows(
    () => decodeCheckpoint(bytes, "c.st", { expected: [...EXPECTED, { name: "q", shape: [1] }] }),
    TensorFileError,
    "missing 1: q",
  );
  assertThrows(
    () => decodeCheckpoint(bytes, "c.st", { kind: "bert" }),
    TensorFileError,
    "a 'choice' checkpoint, expected 'bert'",
  );
  assertThrows(
    () => decodeCheckpoint(bytes, "c.st", { tokenizer: "sha256:other" }),
    TensorFileError,
    "made with tokenizer sha256:abc+webshop",
  );
});

Deno.test("encodeCheckpoint() rejects optimizer state that does not fit the weights", () => {
  const bad = sample();
  bad.optimizer!.m.set("zz", t([1], 0));
  assertThrows(() => encodeCheckpoint(bad), TensorFileError, "optimizer state for unknown 'zz'");
  const bad2 = sample();
  bad2.optimizer!.v.set("b", t([3], 0, 0, 0));
  assertThrows(() => encodeCheckpoint(bad2), TensorFileError, "optimizer.v.b has shape [3]");
  const bad3 = sample();
  bad3.tensors.set("optimizer.x", t([1], 0));
  assertThrows(() => encodeCheckpoint(bad3), TensorFileError, "reserved prefix");
});

Deno.test("saveCheckpoint() fails cleanly and loadCheckpoint() refuses foreign files", async () => {
  await assertRejects(
    () => saveCheckpoint("/nonexistent-dir/x.safetensors", sample()),
    TensorFileError,
    "/nonexistent-dir/x.safetensors: cannot write checkpoint",
  );
  const dir = await Deno.makeTempDir();
  try {
    await writeSafetensors(`${dir}/plain.safetensors`, new Map([["w", t([1], 1)]]));
    await assertRejects(
      () => loadCheckpoint(`${dir}/plain.safetensors`),
      TensorFileError,
      "format 'undefined' is not a webshop-rl/checkpoint/1 checkpoint",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadHfBert() reads the tiny fixture from safetensors or pytorch_model.bin alike", async () => {
  const fixture = new URL("../tests/fixtures/bert_tiny/", import.meta.url).pathname;
  const a = await loadHfBert(fixture);
  assert.equal(a.source, `${fixture.replace(/\/$/, "")}/model.safetensors`);
  assert.equal(a.config.hiddenSize, 64);
  assert.equal(a.weights.size, 5 + 16 * 2 + 2);
  assert.deepEqual(a.unused, ["bert.embeddings.position_ids"]);
  assert.deepEqual(a.initialised, []);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${fixture}config.json`, `${dir}/config.json`);
    await assertRejects(() => loadHfBert(dir), TensorFileError, "no weights (looked for");
    await Deno.copyFile(`${fixture}pytorch_model.bin`, `${dir}/pytorch_model.bin`);
    const b = await loadHfBert(dir, "");
    assert.ok(b.source.endsWith("pytorch_model.bin"));
    assert.deepEqual(b.unused.sort(), ["cls.predictions.bias", "cls.seq_relationship.weight"]);
    for (const [k, v] of a.weights) assert.deepEqual(b.weights.get(k.slice(5)), v, k);
    // Without the pooler the model still loads (zeros, as a fresh head); other gaps are errors.
    const st = new Map(a.weights);
    st.delete("bert.pooler.dense.weight");
    await writeSafetensors(`${dir}/model.safetensors`, st);
    const c = await loadHfBert(dir);
    assert.deepEqual(c.initialised, ["bert.pooler.dense.weight"]);
    st.delete("bert.encoder.layer.1.output.dense.bias");
    await writeSafetensors(`${dir}/model.safetensors`, st);
    await assertRejects(
      () => loadHfBert(dir),
      TensorFileError,
      "model.safetensors: tensors do not match the model\nmissing 1: bert.encoder.layer.1.output.dense.bias",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
