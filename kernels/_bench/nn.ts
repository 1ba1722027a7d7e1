/**
 * Benchmark cases of BERT's neural-network kernels at BERT-base shapes: N = 512 token rows of
 * C = 768 channels (intermediate 3072), attention with H = 12 heads of D = 64 at T = 128 and 512.
 * Memory-bound cases give `bytes`, the least one run must read and write, so GB/s compares with
 * the copy kernel's; attention gives `flops` (its five matmuls dominate).
 *
 * @module
 */

import type { Batch, Gpu } from "../device.ts";
import { type Tensor, tensor } from "../tensor.ts";
import {
  geluBackward,
  geluForward,
  leakyReluForward,
  reluForward,
  tanhBackward,
  tanhForward,
} from "../activation.ts";
import { attentionBackward, attentionForward, attentionScratchSize } from "../attention.ts";
import { dropoutForward } from "../dropout.ts";
import { embeddingBackward, embeddingForward } from "../embedding.ts";
import { layernormBackward, layernormForward } from "../layernorm.ts";
import { addInto, residualForward } from "../residual.ts";
import { softmaxBackward, softmaxForward } from "../softmax.ts";
import {
  geluBackwardCpu,
  geluForwardCpu,
  leakyReluForwardCpu,
  reluForwardCpu,
  tanhBackwardCpu,
  tanhForwardCpu,
} from "../cpu/activation.ts";
import { attentionBackwardCpu, attentionForwardCpu } from "../cpu/attention.ts";
import { dropoutForwardCpu } from "../cpu/dropout.ts";
import { embeddingBackwardCpu, embeddingForwardCpu } from "../cpu/embedding.ts";
import { layernormBackwardCpu, layernormForwardCpu } from "../cpu/layernorm.ts";
import { addIntoCpu, residualForwardCpu } from "../cpu/residual.ts";
import { softmaxBackwardCpu, softmaxForwardCpu } from "../cpu/softmax.ts";
import { values } from "./values.ts";
import type { BenchCase } from "./types.ts";

/** Tensors of `n` seeded values each, freed together. */
function pool(gpu: Gpu) {
  const all: Tensor[] = [];
  return {
    make(shape: number[], label: string, data?: ArrayLike<number>, dtype?: "u32"): Tensor {
      const t = dtype ? tensor(gpu, shape, label, data, dtype) : tensor(gpu, shape, label, data);
      all.push(t);
      return t;
    },
    destroy: () => all.forEach((t) => t.destroy()),
  };
}

const N = 512, C = 768, I = 3072, F = 4;

function elementwise(
  op: string,
  n: number,
  arrays: number,
  run: (gpu: Gpu, ts: Tensor[]) => (b: Batch) => void,
  cpu: (xs: Float32Array[]) => void,
): BenchCase {
  return {
    op,
    shape: `${n / I}x${I}`,
    bytes: arrays * n * F,
    setup(gpu) {
      const p = pool(gpu);
      const xs = Array.from({ length: arrays }, (_, i) => values(n, 10 + i));
      const ts = xs.map((x, i) => p.make([n], `${op} ${i}`, x));
      return { run: run(gpu, ts), cpu: () => cpu(xs), destroy: p.destroy };
    },
  };
}

const nI = N * I;

function embeddingCase(backward: boolean): BenchCase {
  const B = 4, T = 128, V = 30522, P = 512, K = 2, n = B * T;
  const ids = Uint32Array.from(
    { length: n },
    (_, i) => (i * 7919) % 2000 + (i % 5 === 0 ? 0 : 100),
  );
  const types = Uint32Array.from({ length: n }, (_, i) => (i % T) > T / 2 ? 1 : 0);
  const unique = new Set(ids).size;
  return {
    op: "embedding",
    shape: `${B}x${T}x${C} V=${V} ${backward ? "backward" : "forward"}`,
    // forward: three gathered rows read, one written; backward: dOut read, touched rows updated.
    bytes: backward
      ? (n * C + 2 * (unique + T + K) * C) * F + 2 * n * 4
      : 4 * n * C * F + 2 * n * 4,
    setup(gpu) {
      const p = pool(gpu);
      const wteV = values(V * C, 1), wpeV = values(P * C, 2), wttV = values(K * C, 3);
      const gV = values(n * C, 4);
      const idT = p.make([B, T], "ids", ids, "u32"), tyT = p.make([B, T], "types", types, "u32");
      const wte = p.make([V, C], "wte", wteV), wpe = p.make([P, C], "wpe", wpeV);
      const wtt = p.make([K, C], "wtt", wttV), out = p.make([n, C], "out");
      const dOut = p.make([n, C], "dOut", gV);
      const out64 = new Float32Array(n * C);
      return {
        run: (b) =>
          backward
            ? embeddingBackward(b, wte, wpe, wtt, dOut, idT, tyT, { B, T, C, V })
            : embeddingForward(b, out, idT, tyT, wte, wpe, wtt, { B, T, C }),
        cpu: () =>
          backward
            ? embeddingBackwardCpu(wteV, wpeV, wttV, gV, ids, types, B, T, C)
            : embeddingForwardCpu(out64, ids, types, wteV, wpeV, wttV, B, T, C),
        destroy: p.destroy,
      };
    },
  };
}

function layernormCase(backward: boolean): BenchCase {
  return {
    op: "layernorm",
    shape: `${N}x${C} ${backward ? "backward" : "forward"}`,
    bytes: backward ? (3 * N * C + 5 * C + 2 * N) * F : (2 * N * C + 2 * C + 2 * N) * F,
    setup(gpu) {
      const p = pool(gpu);
      const xV = values(N * C, 1), gV = values(N * C, 2), gam = values(C, 3), bet = values(C, 4);
      const x = p.make([N, C], "x", xV), dOut = p.make([N, C], "dOut", gV);
      const gamma = p.make([C], "gamma", gam), beta = p.make([C], "beta", bet);
      const out = p.make([N, C], "out"), mean = p.make([N], "mean"), rstd = p.make([N], "rstd");
      const dX = p.make([N, C], "dX"), dG = p.make([C], "dGamma"), dB = p.make([C], "dBeta");
      const o = new Float32Array(N * C), m = new Float32Array(N), r = new Float32Array(N);
      const dg = new Float32Array(C), db = new Float32Array(C);
      // The backward needs the forward's statistics.
      gpu.run("layernorm bench setup", (b) => {
        layernormForward(b, out, mean, rstd, x, gamma, beta, { N, C, eps: 1e-12 });
      });
      layernormForwardCpu(o, m, r, xV, gam, bet, N, C, 1e-12);
      return {
        run: (b) =>
          backward
            ? layernormBackward(b, dX, dG, dB, dOut, x, mean, rstd, gamma, { N, C })
            : layernormForward(b, out, mean, rstd, x, gamma, beta, { N, C, eps: 1e-12 }),
        cpu: () =>
          backward
            ? layernormBackwardCpu(o, dg, db, gV, xV, m, r, gam, N, C)
            : layernormForwardCpu(o, m, r, xV, gam, bet, N, C, 1e-12),
        destroy: p.destroy,
      };
    },
  };
}

function softmaxCase(backward: boolean): BenchCase {
  const B = 4, H = 12, T = 128, rows = B * H * T;
  return {
    op: "softmax",
    shape: `${rows}x${T} mask ${backward ? "backward" : "forward"}`,
    bytes: (backward ? 3 : 2) * rows * T * F + (backward ? 0 : B * T * F),
    setup(gpu) {
      const p = pool(gpu);
      const xV = values(rows * T, 1), gV = values(rows * T, 2);
      const mV = Float32Array.from({ length: B * T }, (_, i) => (i % T) > 100 ? -10000 : 0);
      const x = p.make([rows, T], "x", xV), g = p.make([rows, T], "dProbs", gV);
      const mask = p.make([B, T], "mask", mV), probs = p.make([rows, T], "probs");
      const dX = p.make([rows, T], "dX");
      const pc = new Float32Array(rows * T), dc = new Float32Array(rows * T);
      const dims = { N: rows, L: T, mask, maskRowsPer: H * T };
      gpu.run("softmax bench setup", (b) => softmaxForward(b, probs, x, dims));
      softmaxForwardCpu(pc, xV, rows, T, mV, H * T);
      return {
        run: (b) =>
          backward
            ? softmaxBackward(b, dX, g, probs, { N: rows, L: T })
            : softmaxForward(b, probs, x, dims),
        cpu: () =>
          backward
            ? softmaxBackwardCpu(dc, gV, pc, rows, T)
            : softmaxForwardCpu(pc, xV, rows, T, mV, H * T),
        destroy: p.destroy,
      };
    },
  };
}

function attentionCase(B: number, T: number, backward: boolean, dropoutP = 0): BenchCase {
  const H = 12, D = 64, Cn = H * D, n = B * T * Cn;
  const dims = { B, T, H, D, dropoutP, seed: 1 };
  return {
    op: "attention",
    shape: `B=${B} T=${T} H=${H} D=${D}${dropoutP ? ` p=${dropoutP}` : ""} ${
      backward ? "backward" : "forward"
    }`,
    flops: (backward ? 8 : 4) * B * H * T * T * D,
    setup(gpu) {
      const p = pool(gpu);
      const qV = values(n, 1), kV = values(n, 2), vV = values(n, 3), gV = values(n, 4);
      const mV = new Float32Array(B * T);
      const q = p.make([B, T, Cn], "q", qV), k = p.make([B, T, Cn], "k", kV);
      const v = p.make([B, T, Cn], "v", vV), dOut = p.make([B, T, Cn], "dOut", gV);
      const mask = p.make([B, T], "mask", mV), out = p.make([B, T, Cn], "out");
      const probs = p.make([B, H, T, T], "probs");
      const scratch = p.make([attentionScratchSize(dims)], "scratch");
      const dQ = p.make([B, T, Cn], "dQ"), dK = p.make([B, T, Cn], "dK");
      const dV = p.make([B, T, Cn], "dV");
      const oc = new Float32Array(n), pc = new Float32Array(B * H * T * T);
      gpu.run("attention bench setup", (b) => attentionForward(b, out, probs, q, k, v, mask, dims));
      return {
        run: (b) =>
          backward
            ? attentionBackward(b, dQ, dK, dV, dOut, probs, q, k, v, scratch, dims)
            : attentionForward(b, out, probs, q, k, v, mask, dims),
        cpu: () => {
          if (backward) {
            const [a, c, d] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
            attentionBackwardCpu(a, c, d, gV, pc, qV, kV, vV, dims);
          } else attentionForwardCpu(oc, pc, qV, kV, vV, mV, dims);
        },
        destroy: p.destroy,
      };
    },
  };
}

/** The cases, in the order the harness prints them. */
export const cases: BenchCase[] = [
  embeddingCase(false),
  embeddingCase(true),
  layernormCase(false),
  layernormCase(true),
  elementwise(
    "gelu",
    nI,
    2,
    (_, [x, o]) => (b) => geluForward(b, o, x, nI),
    ([x, o]) => geluForwardCpu(o, x, nI),
  ),
  elementwise(
    "gelu_backward",
    nI,
    3,
    (_, [g, x, d]) => (b) => geluBackward(b, d, g, x, nI),
    ([g, x, d]) => geluBackwardCpu(d, g, x, nI),
  ),
  elementwise(
    "relu",
    nI,
    2,
    (_, [x, o]) => (b) => reluForward(b, o, x, nI),
    ([x, o]) => reluForwardCpu(o, x, nI),
  ),
  elementwise(
    "leaky_relu",
    nI,
    2,
    (_, [x, o]) => (b) => leakyReluForward(b, o, x, nI),
    ([x, o]) => leakyReluForwardCpu(o, x, nI),
  ),
  elementwise(
    "tanh",
    nI,
    2,
    (_, [x, o]) => (b) => tanhForward(b, o, x, nI),
    ([x, o]) => tanhForwardCpu(o, x, nI),
  ),
  elementwise(
    "tanh_backward",
    nI,
    3,
    (_, [g, y, d]) => (b) => tanhBackward(b, d, g, y, nI),
    ([g, y, d]) => tanhBackwardCpu(d, g, y, nI),
  ),
  elementwise(
    "dropout",
    nI,
    2,
    (_, [x, o]) => (b) => dropoutForward(b, o, x, nI, { p: 0.1, seed: 3 }),
    ([x, o]) => dropoutForwardCpu(o, x, nI, 0.1, 3),
  ),
  elementwise(
    "residual",
    nI,
    3,
    (_, [a, c, o]) => (b) => residualForward(b, o, a, c, nI),
    ([a, c, o]) => residualForwardCpu(o, a, c, nI),
  ),
  elementwise(
    "add_into",
    nI,
    3, // dst read and written, src read
    (_, [s, d]) => (b) => addInto(b, d, s, nI),
    ([s, d]) => addIntoCpu(d, s, nI),
  ),
  softmaxCase(false),
  softmaxCase(true),
  attentionCase(1, 128, false),
  attentionCase(4, 128, false),
  attentionCase(4, 128, true),
  attentionCase(4, 128, false, 0.1),
  attentionCase(1, 512, false),
  attentionCase(1, 512, true),
];
