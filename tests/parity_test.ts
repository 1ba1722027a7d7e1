/**
 * Parity of our BERT with an independent PyTorch implementation: the tiny random BERT of
 * tests/fixtures/bert_tiny (made by make_bert_parity.py, which writes the HF BertModel forward in
 * plain torch and stores float64 last hidden states for two inputs, one with padding). Weights
 * come through our safetensors and torch-zip readers; the GPU model, the float64 CPU reference
 * and the encode CLI are each compared with torch's numbers.
 */

import { assertClose } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import assert from "node:assert/strict";
import { requires, TORCH_FIXTURE } from "../testing/requires.ts";
import type { Gpu } from "../kernels/device.ts";
import { type HostTensor, tensor } from "../kernels/tensor.ts";
import { BertModel, bertParamSpecs } from "../model/bert.ts";
import { loadHfBert } from "../model/checkpoint.ts";
import { BERT_PRESETS, type BertConfig } from "../model/config.ts";
import { readPth } from "../model/pth.ts";
import { bertForwardRef, toF64 } from "../model/reference.ts";
import { bertTensorNames, normalizeBertNames, parseNpy } from "../model/safetensors.ts";

const FIXTURE = new URL("./fixtures/bert_tiny/", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

interface Case {
  name: string;
  B: number;
  T: number;
  ids: number[];
  type_ids: number[];
  mask: number[];
  hidden: number[];
  text?: string;
}

async function cases(): Promise<Case[]> {
  return JSON.parse(await Deno.readTextFile(`${FIXTURE}expected.json`)).cases;
}

/** Max abs error, max relative error over |expected| >= 0.1, and ‖a−e‖/‖e‖. */
function errors(a: ArrayLike<number>, e: ArrayLike<number>) {
  let abs = 0, rel = 0, num = 0, den = 0;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    abs = Math.max(abs, d);
    if (Math.abs(e[i]) >= 0.1) rel = Math.max(rel, d / Math.abs(e[i]));
    num += d * d;
    den += e[i] * e[i];
  }
  return { abs, rel, norm: Math.sqrt(num / den) };
}

const fmt = (x: { abs: number; rel: number; norm: number }) =>
  `max abs ${x.abs.toExponential(2)}, max rel ${x.rel.toExponential(2)}, ` +
  `norm rel ${x.norm.toExponential(2)}`;

async function gpuHidden(
  gpu: Gpu,
  config: BertConfig,
  weights: Map<string, HostTensor>,
  c: Case,
): Promise<Float32Array> {
  const bert = BertModel.create(gpu, config, weights);
  const ids = tensor(gpu, [c.B, c.T], "parity ids", c.ids, "u32");
  const typeIds = tensor(gpu, [c.B, c.T], "parity type ids", c.type_ids, "u32");
  const mask = tensor(gpu, [c.B, c.T], "parity mask", c.mask);
  const b = gpu.batch("parity");
  const hidden = bert.forward(b, ids, typeIds, mask, { B: c.B, T: c.T }, false);
  b.submit();
  const out = (await hidden.read()) as Float32Array; // sync point
  for (const t of [ids, typeIds, mask]) t.destroy();
  bert.destroy();
  return out.slice(0, c.B * c.T * config.hiddenSize);
}

Deno.test("bertTensorNames() agrees with BertModel's parameter specs", () => {
  const c = BERT_PRESETS.mini;
  const mine = bertTensorNames({
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numHiddenLayers,
    intermediateSize: c.intermediateSize,
    maxPositions: c.maxPositionEmbeddings,
    typeVocabSize: c.typeVocabSize,
    pooler: true,
  });
  const key = (xs: { name: string; shape: number[] }[]) =>
    xs.map((x) => `${x.name}:${x.shape}`).sort();
  assert.deepEqual(key(mine), key(bertParamSpecs(c)));
});

requires([TORCH_FIXTURE], {
  name: "bertForwardRef() (float64 CPU) matches the PyTorch fixture",
  fn: async () => {
    const hf = await loadHfBert(FIXTURE);
    const w = toF64(hf.weights);
    for (const c of await cases()) {
      const { hidden } = bertForwardRef(hf.config, w, c.ids, c.type_ids, c.mask, c.B, c.T);
      const e = errors(hidden, c.hidden);
      console.log(`f64 reference vs torch, ${c.name}: ${fmt(e)}`);
      assertClose(hidden, c.hidden, { atol: 1e-9, rtol: 1e-9 }, `reference ${c.name}`);
    }
  },
});

gpuTest(
  "BertModel.forward() matches the PyTorch fixture (safetensors and .bin weights)",
  async (gpu) => {
    const hf = await loadHfBert(FIXTURE);
    const fromBin = normalizeBertNames(await readPth(`${FIXTURE}pytorch_model.bin`), "bert.");
    for (const key of [...fromBin.keys()]) if (!hf.weights.has(key)) fromBin.delete(key);
    for (const c of await cases()) {
      for (
        const [label, weights] of [["safetensors", hf.weights], [
          "pytorch_model.bin",
          fromBin,
        ]] as const
      ) {
        const got = await gpuHidden(gpu, hf.config, weights, c);
        const e = errors(got, c.hidden);
        console.log(`GPU (${label}) vs torch, ${c.name}: ${fmt(e)}`);
        assertClose(got, c.hidden, { atol: 1e-4, rtol: 1e-4 }, `GPU ${label} ${c.name}`);
        assert.ok(e.norm < 1e-5, `norm rel error ${e.norm}`);
      }
    }
  },
  [TORCH_FIXTURE],
);

gpuTest("deno task encode reproduces the fixture's ids and hidden states", async () => {
  const c = (await cases())[1];
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/hidden.npy`;
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "--allow-write",
        "scripts/encode.ts",
        "--model",
        FIXTURE,
        "--text",
        c.text!,
        "--out",
        out,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(run.stdout);
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `encode failed:\n${stderr}`);
    assert.deepEqual(JSON.parse(stdout.trim().split("\n")[0]).ids, c.ids);
    const npy = parseNpy(await Deno.readFile(out), out);
    assert.deepEqual(npy.shape, [1, c.T, 64]);
    const e = errors(npy.data, c.hidden);
    console.log(`encode CLI vs torch: ${fmt(e)}`);
    assertClose(npy.data, c.hidden, { atol: 1e-4, rtol: 1e-4 }, "encode CLI");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}, [TORCH_FIXTURE]);

Deno.test("encode CLI prints usage on unknown flags", async () => {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-write", "scripts/encode.ts", "--bogus"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(run.code, 2);
  assert.match(new TextDecoder().decode(run.stderr), /usage: deno task encode/);
});
