import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { dot, numericGrad, randn } from "../testing/numeric.ts";
import { GpuError } from "./device.ts";
import { tensor } from "./tensor.ts";
import { layernormBackward, layernormForward } from "./layernorm.ts";
import { layernormBackwardCpu, layernormForwardCpu } from "./cpu/layernorm.ts";

const FWD = { atol: 2e-5, rtol: 1e-5 };
const GRAD = { atol: 1e-4, rtol: 1e-4 };

for (const lanes of [1, 32]) {
  gpuTest(
    `layernormForward() and layernormBackward() match the CPU reference (lanes ${lanes})`,
    async (gpu) => {
      for (const [N, C] of [[1, 1], [5, 37], [3, 770], [4, 64]]) {
        // An offset of 100 checks the shifted variance (a plain E[x²] - E[x]² would lose digits).
        const xs = randn(N * C, C, 2).map((v) => v + 100), gs = randn(N * C, 2 * C);
        const gam = randn(C, 3), bet = randn(C, 4), dg0 = randn(C, 5), db0 = randn(C, 6);
        const x = tensor(gpu, [N, C], "x", xs), dOut = tensor(gpu, [N, C], "dOut", gs);
        const gamma = tensor(gpu, [C], "gamma", gam), beta = tensor(gpu, [C], "beta", bet);
        const out = tensor(gpu, [N, C], "out"), dX = tensor(gpu, [N, C], "dX");
        const mean = tensor(gpu, [N], "mean"), rstd = tensor(gpu, [N], "rstd");
        const dGamma = tensor(gpu, [C], "dGamma", dg0), dBeta = tensor(gpu, [C], "dBeta", db0);
        gpu.run("layernorm", (b) => {
          layernormForward(b, out, mean, rstd, x, gamma, beta, { N, C, eps: 1e-5, lanes });
          layernormBackward(b, dX, dGamma, dBeta, dOut, x, mean, rstd, gamma, { N, C, lanes });
        });
        const eo = new Float32Array(N * C), em = new Float32Array(N), er = new Float32Array(N);
        layernormForwardCpu(eo, em, er, xs, gam, bet, N, C, 1e-5);
        assertClose(await out.read(), eo, FWD, `layernorm out N=${N} C=${C}`);
        assertClose(await mean.read(), em, FWD, `layernorm mean N=${N} C=${C}`);
        assertClose(await rstd.read(), er, { atol: 1e-5, rtol: 1e-4 }, `rstd N=${N} C=${C}`);
        const edx = new Float32Array(N * C), edg = Float32Array.from(dg0);
        const edb = Float32Array.from(db0);
        layernormBackwardCpu(edx, edg, edb, gs, xs, em, er, gam, N, C);
        assertClose(await dX.read(), edx, GRAD, `layernorm dX N=${N} C=${C}`);
        assertClose(await dGamma.read(), edg, GRAD, `layernorm dGamma (+=) N=${N} C=${C}`);
        assertClose(await dBeta.read(), edb, GRAD, `layernorm dBeta (+=) N=${N} C=${C}`);
      }
    },
  );
}

Deno.test("layernormBackwardCpu() matches float64 central differences", () => {
  const N = 3, C = 5, eps = 1e-5;
  const x = Float64Array.from(randn(N * C, 1)), w = Float64Array.from(randn(N * C, 2));
  const gamma = Float64Array.from(randn(C, 3)), beta = Float64Array.from(randn(C, 4));
  const out = new Float64Array(N * C), mean = new Float64Array(N), rstd = new Float64Array(N);
  const f = () => {
    layernormForwardCpu(out, mean, rstd, x, gamma, beta, N, C, eps);
    return dot(out, w);
  };
  const nx = numericGrad(f, x), ng = numericGrad(f, gamma), nb = numericGrad(f, beta);
  f();
  const dX = new Float64Array(N * C), dG = new Float64Array(C), dB = new Float64Array(C);
  layernormBackwardCpu(dX, dG, dB, w, x, mean, rstd, gamma, N, C);
  const tol = { atol: 1e-7, rtol: 1e-6 };
  assertClose(dX, nx, tol, "layernorm dX");
  assertClose(dG, ng, tol, "layernorm dGamma");
  assertClose(dB, nb, tol, "layernorm dBeta");
});

gpuTest("layernorm rejects mismatched shapes and aliasing before dispatch", (gpu) => {
  const x = tensor(gpu, [4, 8], "x"), g = tensor(gpu, [8], "gamma"), s = tensor(gpu, [4], "s");
  const short = tensor(gpu, [3], "short"), out = tensor(gpu, [4, 8], "out");
  const b = gpu.batch("bad");
  assertThrows(
    () => layernormForward(b, out, short, s, x, g, g, { N: 4, C: 8 }),
    GpuError,
    "layernormForward: mean 'short' [3] holds 3 elements, needs 4",
  );
  assertThrows(
    () => layernormForward(b, x, s, s, x, g, g, { N: 4, C: 8 }),
    GpuError,
    "aliases",
  );
  assertThrows(
    () => layernormBackward(b, out, g, short, x, x, s, s, g, { N: 4, C: 8 }),
    GpuError,
    "layernormBackward: dBeta 'short' [3]",
  );
  b.submit();
});
