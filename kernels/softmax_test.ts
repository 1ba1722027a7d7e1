import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { dot, numericGrad, randn } from "../testing/numeric.ts";
import { GpuError } from "./device.ts";
import { tensor } from "./tensor.ts";
import { softmaxBackward, softmaxForward } from "./softmax.ts";
import { softmaxBackwardCpu, softmaxForwardCpu } from "./cpu/softmax.ts";

const FWD = { atol: 1e-6, rtol: 1e-5 };
const GRAD = { atol: 1e-6, rtol: 1e-4 };

// lanes 1 is what CPU rasterisers run; 32 is the workgroup reduction GPUs run.
for (const lanes of [1, 32]) {
  gpuTest(
    `softmaxForward() and softmaxBackward() match the CPU reference (lanes ${lanes})`,
    async (gpu) => {
      for (const [N, L, per] of [[1, 1, 1], [7, 13, 3], [5, 300, 5]]) {
        const xs = randn(N * L, N + L, 3), gs = randn(N * L, 2 * L);
        const G = Math.ceil(N / per);
        const ms = Float32Array.from(randn(G * L, 3), (v) => v > 0.5 ? -10000 : 0);
        const x = tensor(gpu, [N, L], "x", xs), g = tensor(gpu, [N, L], "dProbs", gs);
        const mask = tensor(gpu, [G, L], "mask", ms);
        const probs = tensor(gpu, [N, L], "probs"), plain = tensor(gpu, [N, L], "plain");
        const dX = tensor(gpu, [N, L], "dX");
        gpu.run("softmax", (b) => {
          softmaxForward(b, probs, x, { N, L, mask, maskRowsPer: per, lanes });
          softmaxForward(b, plain, x, { N, L, lanes });
          softmaxBackward(b, dX, g, probs, { N, L, lanes });
        });
        const ep = new Float32Array(N * L), ed = new Float32Array(N * L);
        softmaxForwardCpu(ep, xs, N, L, ms, per);
        assertClose(await probs.read(), ep, FWD, `masked softmax N=${N} L=${L}`);
        softmaxBackwardCpu(ed, gs, ep, N, L);
        assertClose(await dX.read(), ed, GRAD, `softmax backward N=${N} L=${L}`);
        softmaxForwardCpu(ep, xs, N, L);
        assertClose(await plain.read(), ep, FWD, `softmax N=${N} L=${L}`);
      }
    },
  );
}

gpuTest(
  "softmaxForward() in place gives one-hot rows where all but one entry is masked",
  async (gpu) => {
    const N = 4, L = 37;
    const xs = randn(N * L, 9, 5);
    const ms = new Float32Array(N * L).fill(-10000);
    for (let r = 0; r < N; r++) ms[r * L + ((r * 11) % L)] = 0;
    const x = tensor(gpu, [N, L], "x", xs), mask = tensor(gpu, [N, L], "mask", ms);
    gpu.run("one-hot", (b) => softmaxForward(b, x, x, { N, L, mask }));
    const expected = new Float32Array(N * L);
    for (let r = 0; r < N; r++) expected[r * L + ((r * 11) % L)] = 1;
    assertClose(await x.read(), expected, { atol: 1e-7, rtol: 0 }, "one-hot rows");
  },
);

Deno.test("softmaxBackwardCpu() matches float64 central differences", () => {
  const N = 3, L = 5, per = 2;
  const x = Float64Array.from(randn(N * L, 1)), w = Float64Array.from(randn(N * L, 2));
  const mask = Float64Array.from(randn(2 * L, 3));
  const probs = new Float64Array(N * L), dX = new Float64Array(N * L);
  const f = () => {
    softmaxForwardCpu(probs, x, N, L, mask, per);
    return dot(probs, w);
  };
  const num = numericGrad(f, x);
  f();
  softmaxBackwardCpu(dX, w, probs, N, L);
  assertClose(dX, num, { atol: 1e-8, rtol: 1e-6 }, "softmax dX");
});

gpuTest("softmax rejects short tensors, bad maskRowsPer and aliasing before dispatch", (gpu) => {
  const x = tensor(gpu, [4, 8], "x"), p = tensor(gpu, [4, 4], "probs");
  const m = tensor(gpu, [1, 8], "mask");
  const b = gpu.batch("bad");
  assertThrows(() => softmaxForward(b, p, x, { N: 4, L: 8 }), GpuError, "softmaxForward: probs");
  assertThrows(
    () => softmaxForward(b, x, x, { N: 4, L: 8, mask: m, maskRowsPer: 2 }),
    GpuError,
    "mask 'mask' [1, 8] holds 8 elements, needs 16",
  );
  assertThrows(
    () => softmaxForward(b, x, x, { N: 4, L: 8, maskRowsPer: 0 }),
    GpuError,
    "maskRowsPer",
  );
  assertThrows(() => softmaxBackward(b, x, x, x, { N: 4, L: 8 }), GpuError, "aliases");
  b.submit();
});
