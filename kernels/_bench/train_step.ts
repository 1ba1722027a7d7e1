/**
 * Benchmark cases of the training-side kernels: AdamW at BERT-base tensor sizes, global norm,
 * clipping and the non-finite check over a BERT layer, sum, row max, and the segment ops of the
 * choice model at WebShop-like batch sizes. All are memory-bound, so each case gives `bytes`:
 * the bytes one run must read and write at least (what GB/s is computed from).
 *
 * @module
 */

import { AdamW, adamwStep } from "../adamw.ts";
import { adamwStepCpu } from "../cpu/adamw.ts";
import {
  clipByGlobalNormCpu,
  globalNormCpu,
  hasNonFiniteCpu,
  rowMaxForwardCpu,
  sumCpu,
} from "../cpu/reduce.ts";
import {
  maskedMeanBackwardCpu,
  maskedMeanForwardCpu,
  nllLossForwardCpu,
  segmentLogSoftmaxBackwardCpu,
  segmentLogSoftmaxForwardCpu,
} from "../cpu/segment.ts";
import type { Gpu } from "../device.ts";
import {
  clipByGlobalNorm,
  globalNormForward,
  globalNormScratchSize,
  nonFiniteFlag,
  rowMaxForward,
  sumForward,
} from "../reduce.ts";
import {
  maskedMeanBackward,
  maskedMeanForward,
  nllLossForward,
  segmentLogSoftmaxBackward,
  segmentLogSoftmaxForward,
} from "../segment.ts";
import { type Tensor, tensor } from "../tensor.ts";
import { values } from "./values.ts";
import type { BenchCase } from "./types.ts";

/** Shapes of the parameters of one BERT-base encoder layer (Hugging Face order). */
const BERT_LAYER: [string, number[]][] = [
  ["attention.self.query.weight", [768, 768]],
  ["attention.self.query.bias", [768]],
  ["attention.self.key.weight", [768, 768]],
  ["attention.self.key.bias", [768]],
  ["attention.self.value.weight", [768, 768]],
  ["attention.self.value.bias", [768]],
  ["attention.output.dense.weight", [768, 768]],
  ["attention.output.dense.bias", [768]],
  ["attention.output.LayerNorm.weight", [768]],
  ["attention.output.LayerNorm.bias", [768]],
  ["intermediate.dense.weight", [3072, 768]],
  ["intermediate.dense.bias", [3072]],
  ["output.dense.weight", [768, 3072]],
  ["output.dense.bias", [768]],
  ["output.LayerNorm.weight", [768]],
  ["output.LayerNorm.bias", [768]],
];
const BERT_LAYER_NUMEL = BERT_LAYER.reduce((acc, [, s]) => acc + s[0] * (s[1] ?? 1), 0);

function layerTensors(gpu: Gpu, seed: number): { data: Float32Array[]; ts: Tensor[] } {
  const data = BERT_LAYER.map(([, s], i) => values(s[0] * (s[1] ?? 1), seed + i));
  const ts = BERT_LAYER.map(([name, s], i) => tensor(gpu, s, name, data[i]));
  return { data, ts };
}

function destroyAll(ts: Tensor[]): void {
  for (const t of ts) t.destroy();
}

/** AdamW on one tensor: reads grad, param, m, v and writes param, m, v (28 bytes/element). */
function adamwCase(rows: number, cols: number, what: string): BenchCase {
  const n = rows * cols;
  return {
    op: "adamw",
    shape: `${rows}x${cols} ${what}`,
    bytes: 28 * n,
    setup(gpu) {
      const g = values(n, 1), p0 = values(n, 2);
      const param = tensor(gpu, [rows, cols], "param", p0),
        grad = tensor(gpu, [rows, cols], "g", g);
      const m = tensor(gpu, [rows, cols], "m"), v = tensor(gpu, [rows, cols], "v");
      const pc = Float32Array.from(p0), mc = new Float32Array(n), vc = new Float32Array(n);
      const h = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
      return {
        run: (b) => adamwStep(b, param, grad, m, v, h),
        cpu: () => adamwStepCpu(pc, g, mc, vc, h),
        destroy: () => destroyAll([param, grad, m, v]),
      };
    },
  };
}

/** Segments of the NLL case: enough that the loss reads megabytes. */
const NLL_SEGMENTS = 262144;

/** Sizes of `S` segments of 1 to `max` actions (deterministic). */
function segmentOffsets(S: number, max: number): Uint32Array {
  const o = new Uint32Array(S + 1);
  for (let s = 0; s < S; s++) o[s + 1] = o[s] + 1 + ((s * 7919) % max);
  return o;
}

function segmentCase(S: number, max: number, backward: boolean): BenchCase {
  const offsets = segmentOffsets(S, max);
  const N = offsets[S];
  return {
    op: backward ? "segmentLogSoftmaxBackward" : "segmentLogSoftmaxForward",
    shape: `S=${S} N=${N} (1..${max} actions)`,
    // forward: read x, write out; backward: read dOut and out, write dX (plus offsets)
    bytes: (backward ? 12 : 8) * N + 4 * (S + 1),
    setup(gpu) {
      const xd = values(N, 3), gd = values(N, 4);
      const x = tensor(gpu, [N], "x", xd), dOut = tensor(gpu, [N], "dOut", gd);
      const off = tensor(gpu, [S + 1], "offsets", offsets, "u32");
      const out = tensor(gpu, [N], "out"), dX = tensor(gpu, [N], "dX");
      const outC = new Float32Array(N), dXC = new Float32Array(N);
      segmentLogSoftmaxForwardCpu(outC, xd, offsets, S);
      gpu.run("bench setup", (b) => segmentLogSoftmaxForward(b, out, x, off, { S, N }));
      return {
        run: (b) =>
          backward
            ? segmentLogSoftmaxBackward(b, dX, dOut, out, off, { S, N })
            : segmentLogSoftmaxForward(b, out, x, off, { S, N }),
        cpu: () =>
          backward
            ? segmentLogSoftmaxBackwardCpu(dXC, gd, outC, offsets, S)
            : segmentLogSoftmaxForwardCpu(outC, xd, offsets, S),
        destroy: () => destroyAll([x, dOut, off, out, dX]),
      };
    },
  };
}

function maskedMeanCase(R: number, T: number, C: number, backward: boolean): BenchCase {
  return {
    op: backward ? "maskedMeanBackward" : "maskedMeanForward",
    shape: `R=${R} T=${T} C=${C}`,
    bytes: 4 * (R * T * C + R * T + R * C),
    setup(gpu) {
      const xd = values(R * T * C, 5), gd = values(R * C, 6);
      // Each row keeps a prefix of its tokens, as padded action texts do.
      const maskD = Float32Array.from(
        { length: R * T },
        (_, i) => (i % T) < 8 + (i * 13) % T ? 1 : 0,
      );
      const x = tensor(gpu, [R, T, C], "x", xd), mask = tensor(gpu, [R, T], "mask", maskD);
      const out = tensor(gpu, [R, C], "out", gd), dX = tensor(gpu, [R, T, C], "dX");
      const outC = new Float32Array(R * C), dXC = new Float32Array(R * T * C);
      return {
        run: (b) =>
          backward
            ? maskedMeanBackward(b, dX, out, mask, { R, T, C })
            : maskedMeanForward(b, out, x, mask, { R, T, C }),
        cpu: () =>
          backward
            ? maskedMeanBackwardCpu(dXC, gd, maskD, R, T, C)
            : maskedMeanForwardCpu(outC, xd, maskD, R, T, C),
        destroy: () => destroyAll([x, mask, out, dX]),
      };
    },
  };
}

/** Cases exported to the kernel benchmark (`deno task bench:kernels`). */
export const cases: BenchCase[] = [
  adamwCase(30522, 768, "word embeddings"),
  adamwCase(768, 3072, "FFN weight"),
  {
    op: "AdamW.step",
    shape: `BERT-base layer (${BERT_LAYER.length} tensors, ${BERT_LAYER_NUMEL} params)`,
    bytes: 28 * BERT_LAYER_NUMEL,
    setup(gpu) {
      const p = layerTensors(gpu, 10), g = layerTensors(gpu, 40);
      const params = BERT_LAYER.map(([name], i) => ({ name, param: p.ts[i], grad: g.ts[i] }));
      const opt = new AdamW(gpu, params, { lr: 1e-4 });
      const ms = p.data.map((d) => new Float32Array(d.length));
      const vs = p.data.map((d) => new Float32Array(d.length));
      let t = 0;
      return {
        run: (b) => opt.step(b),
        cpu: () => {
          t++;
          p.data.forEach((d, i) =>
            adamwStepCpu(d, g.data[i], ms[i], vs[i], {
              lr: 1e-4,
              beta1: 0.9,
              beta2: 0.999,
              eps: 1e-8,
              weightDecay: 0.01,
              step: t,
            })
          );
        },
        destroy: () => {
          opt.destroy();
          destroyAll([...p.ts, ...g.ts]);
        },
      };
    },
  },
  {
    op: "globalNormForward",
    shape: `BERT-base layer (${BERT_LAYER.length} tensors, ${BERT_LAYER_NUMEL} params)`,
    bytes: 4 * BERT_LAYER_NUMEL,
    setup(gpu) {
      const g = layerTensors(gpu, 70);
      const scratch = tensor(gpu, [globalNormScratchSize(g.ts)], "scratch");
      const norm = tensor(gpu, [1], "norm");
      return {
        run: (b) => globalNormForward(b, norm, scratch, g.ts),
        cpu: () => globalNormCpu(g.data),
        destroy: () => destroyAll([...g.ts, scratch, norm]),
      };
    },
  },
  {
    op: "clipByGlobalNorm",
    shape: `BERT-base layer (${BERT_LAYER.length} tensors, ${BERT_LAYER_NUMEL} params)`,
    bytes: 8 * BERT_LAYER_NUMEL,
    setup(gpu) {
      const g = layerTensors(gpu, 90);
      // A norm far above maxNorm: every run scales (by a factor close to 1, so values stay sane).
      const norm = tensor(gpu, [1], "norm", [1.0000001]);
      return {
        run: (b) => clipByGlobalNorm(b, g.ts, norm, 1),
        cpu: () => clipByGlobalNormCpu(g.data, 1.0000001, 1),
        destroy: () => destroyAll([...g.ts, norm]),
      };
    },
  },
  {
    op: "nonFiniteFlag",
    shape: `BERT-base layer (${BERT_LAYER.length} tensors, ${BERT_LAYER_NUMEL} params)`,
    bytes: 4 * BERT_LAYER_NUMEL,
    setup(gpu) {
      const g = layerTensors(gpu, 110);
      const flag = tensor(gpu, [1], "flag", undefined, "u32");
      return {
        run: (b) => nonFiniteFlag(b, flag, g.ts),
        cpu: () => hasNonFiniteCpu(g.data),
        destroy: () => destroyAll([...g.ts, flag]),
      };
    },
  },
  {
    op: "sumForward",
    shape: "16M",
    bytes: 4 * (1 << 24),
    setup(gpu) {
      const n = 1 << 24;
      const data = values(n, 7);
      const x = tensor(gpu, [n], "x", data), out = tensor(gpu, [1], "out");
      return {
        run: (b) => sumForward(b, out, x),
        cpu: () => sumCpu(data),
        destroy: () => destroyAll([x, out]),
      };
    },
  },
  {
    op: "rowMaxForward",
    shape: "N=16384 L=128",
    bytes: 4 * 16384 * 128 + 8 * 16384,
    setup(gpu) {
      const N = 16384, L = 128;
      const data = values(N * L, 8);
      const x = tensor(gpu, [N, L], "x", data), out = tensor(gpu, [N], "out");
      const argmax = tensor(gpu, [N], "argmax", undefined, "u32");
      const outC = new Float32Array(N), argC = new Uint32Array(N);
      return {
        run: (b) => rowMaxForward(b, out, argmax, x, { N, L }),
        cpu: () => rowMaxForwardCpu(outC, argC, data, N, L),
        destroy: () => destroyAll([x, out, argmax]),
      };
    },
  },
  // Memory-bound cases move megabytes, as the copy reference does: at a few thousand elements
  // lavapipe's ~0.1 ms per dispatch, not bandwidth, sets their time.
  segmentCase(65536, 64, false),
  segmentCase(65536, 64, true),
  {
    op: "nllLossForward",
    shape: `S=${NLL_SEGMENTS} (1..64 actions)`,
    // offsets and targets are read in order; the picked log-probabilities lie ~130 bytes apart
    // (32.5 actions per state on average), so each pick brings in a 64-byte cache line of its own:
    // that line, not the 4 bytes used, is the memory traffic a pick costs.
    bytes: 4 * (2 * NLL_SEGMENTS + 1) + 64 * NLL_SEGMENTS,
    setup(gpu) {
      const S = NLL_SEGMENTS, offsets = segmentOffsets(S, 64), N = offsets[S];
      const targets = Uint32Array.from(
        { length: S },
        (_, s) => (s * 31) % (offsets[s + 1] - offsets[s]),
      );
      const logpD = values(N, 9);
      const logp = tensor(gpu, [N], "logp", logpD), loss = tensor(gpu, [1], "loss");
      const off = tensor(gpu, [S + 1], "offsets", offsets, "u32");
      const tg = tensor(gpu, [S], "targets", targets, "u32");
      return {
        run: (b) => nllLossForward(b, loss, logp, off, tg, { S }),
        cpu: () => nllLossForwardCpu(logpD, offsets, targets, S),
        destroy: () => destroyAll([logp, loss, off, tg]),
      };
    },
  },
  maskedMeanCase(64, 64, 768, false),
  maskedMeanCase(64, 64, 768, true),
];
