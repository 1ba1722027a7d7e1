import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { dot, numericGrad, randn } from "../testing/numeric.ts";
import { type Gpu, GpuError } from "./device.ts";
import { tensor } from "./tensor.ts";
import {
  attentionBackward,
  type AttentionDims,
  attentionForward,
  attentionScratchSize,
} from "./attention.ts";
import {
  attentionBackwardCpu,
  type AttentionDimsCpu,
  attentionForwardCpu,
} from "./cpu/attention.ts";

const FWD = { atol: 1e-5, rtol: 1e-4 };
const GRAD = { atol: 5e-5, rtol: 1e-3 };

function paddingMask(B: number, T: number): Float32Array {
  // Sequence b keeps its first T - b tokens (at least one), the rest are padding.
  const m = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = Math.max(1, T - b); t < T; t++) m[b * T + t] = -10000;
  }
  return m;
}

async function check(gpu: Gpu, dims: AttentionDimsCpu & Pick<AttentionDims, "matmul" | "lanes">) {
  const { B, T, H, D } = dims, C = H * D, n = B * T * C, np = B * H * T * T;
  const qs = randn(n, 1), ks = randn(n, 2), vs = randn(n, 3), gs = randn(n, 4);
  const ms = paddingMask(B, T);
  const q = tensor(gpu, [B, T, C], "q", qs), k = tensor(gpu, [B, T, C], "k", ks);
  const v = tensor(gpu, [B, T, C], "v", vs), dOut = tensor(gpu, [B, T, C], "dOut", gs);
  const mask = tensor(gpu, [B, T], "mask", ms);
  const out = tensor(gpu, [B, T, C], "out"), probs = tensor(gpu, [B, H, T, T], "probs");
  const scratch = tensor(gpu, [attentionScratchSize(dims)], "scratch");
  const dQ = tensor(gpu, [B, T, C], "dQ"), dK = tensor(gpu, [B, T, C], "dK");
  const dV = tensor(gpu, [B, T, C], "dV");
  gpu.run("attention", (b) => {
    attentionForward(b, out, probs, q, k, v, mask, dims);
    attentionBackward(b, dQ, dK, dV, dOut, probs, q, k, v, scratch, dims);
  });
  const eo = new Float32Array(n), ep = new Float32Array(np);
  attentionForwardCpu(eo, ep, qs, ks, vs, ms, dims);
  const label = `B=${B} T=${T} H=${H} D=${D} p=${dims.dropoutP ?? 0}`;
  assertClose(await probs.read(), ep, FWD, `attention probs ${label}`);
  assertClose(await out.read(), eo, FWD, `attention out ${label}`);
  const eq = new Float32Array(n), ek = new Float32Array(n), ev = new Float32Array(n);
  attentionBackwardCpu(eq, ek, ev, gs, ep, qs, ks, vs, dims);
  assertClose(await dQ.read(), eq, GRAD, `attention dQ ${label}`);
  assertClose(await dK.read(), ek, GRAD, `attention dK ${label}`);
  assertClose(await dV.read(), ev, GRAD, `attention dV ${label}`);
}

// The library matmul's register kernels compile for tens of seconds each on a CPU rasteriser
// when T and D are multiples of 4, so those shapes run on attention's own matmul here (the
// library kernels are tested in matmul_test.ts); the library path is checked at other shapes,
// which exercises the same stride mapping.
gpuTest(
  "attentionForward() and attentionBackward() match the CPU reference (library matmul)",
  async (gpu) => {
    await check(gpu, { B: 1, T: 1, H: 1, D: 1 });
    await check(gpu, { B: 2, T: 7, H: 3, D: 5 });
    await check(gpu, { B: 3, T: 37, H: 2, D: 6, dropoutP: 0.2, seed: 42 });
  },
);

for (const lanes of [1, 32]) {
  gpuTest(
    `attentionForward() and attentionBackward() match the CPU reference (own matmul, lanes ${lanes})`,
    async (gpu) => {
      const own = { matmul: "own", lanes } as const;
      await check(gpu, { B: 2, T: 7, H: 3, D: 5, ...own });
      // T and D multiples of 4: the vec4 matmuls and softmax.
      await check(gpu, { B: 2, T: 12, H: 2, D: 4, ...own });
      await check(gpu, { B: 2, T: 16, H: 3, D: 8, dropoutP: 0.3, seed: 7, ...own });
    },
  );
}

gpuTest("attention dropout drops about p of the probabilities and is seeded", async (gpu) => {
  // With v = one-hot rows, out[i, j] = dropout(P)[i, j]: the dropped fraction is visible.
  const B = 1, T = 64, H = 1, D = 64, C = 64, p = 0.3;
  const eye = new Float32Array(T * C);
  for (let t = 0; t < T; t++) eye[t * C + t] = 1;
  const zeros = new Float32Array(T * C);
  const q = tensor(gpu, [B, T, C], "q", zeros), v = tensor(gpu, [B, T, C], "v", eye);
  const mask = tensor(gpu, [B, T], "mask");
  const outs: Float32Array[] = [];
  for (const seed of [5, 5, 6]) {
    const out = tensor(gpu, [B, T, C], "out"), probs = tensor(gpu, [B, H, T, T], "probs");
    const dims = { B, T, H, D, dropoutP: p, seed, matmul: "own" } as const; // aligned: see above
    gpu.run("drop", (b) => attentionForward(b, out, probs, q, q, v, mask, dims));
    outs.push(await out.read());
  }
  const dropped = outs[0].filter((x) => x === 0).length / (T * T);
  if (Math.abs(dropped - p) > 0.03) throw new Error(`dropped ${dropped}, expected about ${p}`);
  // Uniform probabilities 1/T scaled by 1/(1-p) where kept.
  const kept = outs[0].find((x) => x !== 0)!;
  assertClose([kept], [1 / T / (1 - p)], { atol: 1e-6, rtol: 1e-5 }, "kept value");
  assertClose(outs[1], outs[0], { atol: 0, rtol: 0 }, "same seed");
  if (outs[2].every((x, i) => x === outs[0][i])) throw new Error("seeds 5 and 6 gave one mask");
});

Deno.test("attentionBackwardCpu() matches float64 central differences (with dropout)", () => {
  const dims = { B: 2, T: 3, H: 2, D: 2, dropoutP: 0.3, seed: 3 };
  const { B, T, H, D } = dims, C = H * D, n = B * T * C;
  const q = Float64Array.from(randn(n, 1)), k = Float64Array.from(randn(n, 2));
  const v = Float64Array.from(randn(n, 3)), w = Float64Array.from(randn(n, 4));
  const mask = Float64Array.from(paddingMask(B, T));
  const out = new Float64Array(n), probs = new Float64Array(B * H * T * T);
  const f = () => {
    attentionForwardCpu(out, probs, q, k, v, mask, dims);
    return dot(out, w);
  };
  const nq = numericGrad(f, q), nk = numericGrad(f, k), nv = numericGrad(f, v);
  f();
  const dQ = new Float64Array(n), dK = new Float64Array(n), dV = new Float64Array(n);
  attentionBackwardCpu(dQ, dK, dV, w, probs, q, k, v, dims);
  const tol = { atol: 1e-7, rtol: 1e-6 };
  assertClose(dQ, nq, tol, "attention dQ");
  assertClose(dK, nk, tol, "attention dK");
  assertClose(dV, nv, tol, "attention dV");
});

gpuTest("attention rejects mismatched shapes before dispatch", (gpu) => {
  const dims = { B: 1, T: 4, H: 2, D: 3 };
  const x = tensor(gpu, [1, 4, 6], "x"), probs = tensor(gpu, [1, 2, 4, 4], "probs");
  const small = tensor(gpu, [1, 2, 4, 3], "small"), mask = tensor(gpu, [1, 4], "mask");
  const y = tensor(gpu, [1, 4, 6], "y");
  const b = gpu.batch("bad");
  assertThrows(
    () => attentionForward(b, y, small, x, x, x, mask, dims),
    GpuError,
    "attentionForward: probs 'small' [1, 2, 4, 3] holds 24 elements, needs 32",
  );
  assertThrows(
    () => attentionForward(b, y, probs, x, x, x, mask, { ...dims, dropoutP: 1 }),
    GpuError,
    "p = 1",
  );
  assertThrows(
    () => attentionBackward(b, y, y, y, x, probs, x, x, x, small, dims),
    GpuError,
    "scratch 'small'",
  );
  assertThrows(
    () => attentionBackward(b, y, y, x, x, probs, x, x, x, probs, dims),
    GpuError,
    "aliases",
  );
  b.submit();
});
