import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { dot, numericGrad, randn, rng } from "../testing/numeric.ts";
import { GpuError } from "./device.ts";
import { tensor } from "./tensor.ts";
import { embeddingBackward, embeddingForward } from "./embedding.ts";
import { embeddingBackwardCpu, embeddingForwardCpu } from "./cpu/embedding.ts";

const TOL = { atol: 1e-5, rtol: 1e-5 };

function ids(n: number, V: number, seed: number): Uint32Array {
  const r = rng(seed);
  // Small V and a bias to id 0 (padding) make many repeats, as real batches have.
  return Uint32Array.from({ length: n }, () => (r() < 0.3 ? 0 : Math.floor(r() * V)));
}

// [B, T, C, V, P, K]: scalar rows (C = 1, 13, 70), vec4 rows (C = 12), vec4 rows read 16
// channels per invocation by the dWte kernel (C = 32, 48), more than four token types (K = 6).
const EMBEDDING_CASES = [
  [1, 1, 1, 1, 1, 1],
  [3, 7, 13, 11, 9, 2],
  [2, 33, 70, 50, 40, 3],
  [2, 5, 12, 9, 6, 2],
  [2, 9, 32, 7, 12, 6],
  [3, 4, 48, 5, 4, 5],
];

gpuTest("embeddingForward() and embeddingBackward() match the CPU reference", async (gpu) => {
  for (
    const [B, T, C, V, P, K] of EMBEDDING_CASES
  ) {
    const N = B * T;
    const idv = ids(N, V, N), tyv = ids(N, K, N + 1);
    const wteV = randn(V * C, 1), wpeV = randn(P * C, 2), wttV = randn(K * C, 3);
    const gs = randn(N * C, 4);
    const g0 = [randn(V * C, 5), randn(P * C, 6), randn(K * C, 7)];
    const idT = tensor(gpu, [B, T], "ids", idv, "u32"),
      tyT = tensor(gpu, [B, T], "types", tyv, "u32");
    const wte = tensor(gpu, [V, C], "wte", wteV), wpe = tensor(gpu, [P, C], "wpe", wpeV);
    const wtt = tensor(gpu, [K, C], "wtt", wttV), dOut = tensor(gpu, [N, C], "dOut", gs);
    const out = tensor(gpu, [N, C], "out");
    const dWte = tensor(gpu, [V, C], "dWte", g0[0]), dWpe = tensor(gpu, [P, C], "dWpe", g0[1]);
    const dWtt = tensor(gpu, [K, C], "dWtt", g0[2]);
    gpu.run("embedding", (b) => {
      embeddingForward(b, out, idT, tyT, wte, wpe, wtt, { B, T, C });
      embeddingBackward(b, dWte, dWpe, dWtt, dOut, idT, tyT, { B, T, C, V });
    });
    const eo = new Float32Array(N * C);
    embeddingForwardCpu(eo, idv, tyv, wteV, wpeV, wttV, B, T, C);
    assertClose(await out.read(), eo, { atol: 1e-6, rtol: 1e-6 }, `embedding out ${B}x${T}x${C}`);
    const [e0, e1, e2] = g0.map((g) => Float32Array.from(g));
    embeddingBackwardCpu(e0, e1, e2, gs, idv, tyv, B, T, C);
    assertClose(await dWte.read(), e0, TOL, `dWte (+=) ${B}x${T}x${C}`);
    assertClose(await dWpe.read(), e1, TOL, `dWpe (+=) ${B}x${T}x${C}`);
    assertClose(await dWtt.read(), e2, TOL, `dWtt (+=) ${B}x${T}x${C}`);
  }
});

gpuTest("embeddingBackward() is bit-identical across runs with repeated ids", async (gpu) => {
  const B = 4, T = 50, C = 24, V = 5, N = B * T;
  const idT = tensor(gpu, [B, T], "ids", ids(N, V, 3), "u32");
  const tyT = tensor(gpu, [B, T], "types", ids(N, 2, 4), "u32");
  const dOut = tensor(gpu, [N, C], "dOut", randn(N * C, 5, 10));
  const runs: Float32Array[] = [];
  for (let i = 0; i < 3; i++) {
    const dWte = tensor(gpu, [V, C], "dWte"), dWpe = tensor(gpu, [T, C], "dWpe");
    const dWtt = tensor(gpu, [2, C], "dWtt");
    gpu.run("embedding det", (b) => {
      embeddingBackward(b, dWte, dWpe, dWtt, dOut, idT, tyT, { B, T, C, V });
    });
    runs.push(await dWte.read());
  }
  assertClose(runs[1], runs[0], { atol: 0, rtol: 0 }, "run 2 vs run 1");
  assertClose(runs[2], runs[0], { atol: 0, rtol: 0 }, "run 3 vs run 1");
});

gpuTest("embeddingForward() writes NaN for an id out of range", async (gpu) => {
  const idT = tensor(gpu, [1, 2], "ids", [1, 9], "u32"),
    tyT = tensor(gpu, [1, 2], "t", [0, 0], "u32");
  const w = tensor(gpu, [2, 2], "w", [1, 2, 3, 4]), out = tensor(gpu, [2, 2], "out");
  gpu.run("bad id", (b) => embeddingForward(b, out, idT, tyT, w, w, w, { B: 1, T: 2, C: 2 }));
  const got = await out.read();
  assertClose(got.slice(0, 2), [3 + 1 + 1, 4 + 2 + 2], { atol: 0, rtol: 0 }, "good row");
  if (!Number.isNaN(got[2]) || !Number.isNaN(got[3])) throw new Error(`expected NaN, got ${got}`);
});

Deno.test("embeddingBackwardCpu() matches float64 central differences", () => {
  const B = 2, T = 3, C = 2, V = 4, K = 2, N = B * T;
  const idv = [0, 2, 2, 3, 0, 2], tyv = [0, 0, 1, 1, 0, 1];
  const wte = Float64Array.from(randn(V * C, 1)), wpe = Float64Array.from(randn(T * C, 2));
  const wtt = Float64Array.from(randn(K * C, 3)), w = Float64Array.from(randn(N * C, 4));
  const out = new Float64Array(N * C);
  const f = () => {
    embeddingForwardCpu(out, idv, tyv, wte, wpe, wtt, B, T, C);
    return dot(out, w);
  };
  const d = [new Float64Array(V * C), new Float64Array(T * C), new Float64Array(K * C)];
  embeddingBackwardCpu(d[0], d[1], d[2], w, idv, tyv, B, T, C);
  const tol = { atol: 1e-8, rtol: 1e-7 };
  assertClose(d[0], numericGrad(f, wte), tol, "dWte");
  assertClose(d[1], numericGrad(f, wpe), tol, "dWpe");
  assertClose(d[2], numericGrad(f, wtt), tol, "dWtt");
});

gpuTest("embedding rejects wrong dtypes and table shapes before dispatch", (gpu) => {
  const idF = tensor(gpu, [1, 4], "idsF"), idU = tensor(gpu, [1, 4], "ids", undefined, "u32");
  const w = tensor(gpu, [5, 8], "wte"), wpe = tensor(gpu, [3, 8], "wpe");
  const out = tensor(gpu, [4, 8], "out");
  const b = gpu.batch("bad");
  const dims = { B: 1, T: 4, C: 8 };
  assertThrows(
    () => embeddingForward(b, out, idF, idU, w, w, w, dims),
    GpuError,
    "ids 'idsF' is f32",
  );
  assertThrows(() => embeddingForward(b, out, idU, idU, w, wpe, w, dims), GpuError, "3 positions");
  assertThrows(
    () => embeddingForward(b, out, idU, idU, w, w, w, { ...dims, C: 4 }),
    GpuError,
    "wte 'wte' has shape [5, 8], expected [rows, 4]",
  );
  assertThrows(
    () => embeddingBackward(b, w, w, w, out, idU, idU, { ...dims, V: 6 }),
    GpuError,
    "V = 6",
  );
  b.submit();
});
