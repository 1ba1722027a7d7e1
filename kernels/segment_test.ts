import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { numericGrad, randn, rng } from "../testing/numeric.ts";
import {
  gatherBackwardCpu,
  gatherForwardCpu,
  maskedMeanBackwardCpu,
  maskedMeanForwardCpu,
  nllLossBackwardCpu,
  nllLossForwardCpu,
  segmentLogSoftmaxBackwardCpu,
  segmentLogSoftmaxForwardCpu,
} from "./cpu/segment.ts";
import { type Gpu, GpuError } from "./device.ts";
import {
  gatherBackward,
  gatherForward,
  maskedMeanBackward,
  maskedMeanForward,
  nllLossBackward,
  nllLossForward,
  segmentLogSoftmaxBackward,
  segmentLogSoftmaxForward,
  warmSegmentKernels,
} from "./segment.ts";
import { type Tensor, tensor } from "./tensor.ts";

const FWD = { atol: 1e-5, rtol: 1e-5 };
const GRAD = { atol: 1e-4, rtol: 1e-3 };

/** Offsets of segments with these sizes. */
function offsetsOf(sizes: number[]): Uint32Array {
  const o = new Uint32Array(sizes.length + 1);
  sizes.forEach((k, i) => o[i + 1] = o[i] + k);
  return o;
}

/** Random segment sizes in [0, max], with sizes 1 and an empty tail mixed in. */
function randomSizes(S: number, max: number, seed: number): number[] {
  const r = rng(seed);
  const sizes = Array.from({ length: S }, () => Math.floor(r() * (max + 1)));
  if (S > 2) sizes[1] = 1;
  if (S > 3) sizes[S - 1] = 0;
  return sizes;
}

/** A target inside each non-empty segment (0 for empty ones; callers skip those). */
function randomTargets(sizes: number[], seed: number): Uint32Array {
  const r = rng(seed);
  return Uint32Array.from(sizes, (k) => Math.floor(r() * k));
}

function u32(gpu: Gpu, data: ArrayLike<number>, label: string): Tensor<"u32"> {
  return tensor(gpu, [data.length], label, data, "u32");
}

async function runRead(gpu: Gpu, out: Tensor, fn: Parameters<Gpu["run"]>[1]) {
  gpu.run("segment test", fn);
  return await out.read();
}

gpuTest(
  "segmentLogSoftmaxForward() and Backward() match the CPU on ragged segments",
  async (gpu) => {
    // Seed 5: long segments of widely spread scores, so the online max grows and rescales often.
    const cases = [[1, 7, 1], [5, 1, 2], [300, 20, 3], [1000, 3, 4], [40, 70, 5]];
    for (const [S, max, seed] of cases) {
      const sizes = randomSizes(S, max, seed);
      const offsets = offsetsOf(sizes);
      const N = offsets[S];
      const xd = randn(N, seed + 10, seed === 5 ? 40 : 3), gd = randn(N, seed + 20);
      const x = tensor(gpu, [N], "x", xd), dOut = tensor(gpu, [N], "dOut", gd);
      const off = u32(gpu, offsets, "offsets");
      const out = tensor(gpu, [N], "out"), dX = tensor(gpu, [N], "dX");
      gpu.run("log-softmax", (b) => {
        segmentLogSoftmaxForward(b, out, x, off, { S, N });
        segmentLogSoftmaxBackward(b, dX, dOut, out, off, { S, N });
      });
      const outG = await out.read(), dXG = await dX.read();
      const outC = new Float32Array(N), dXC = new Float32Array(N);
      segmentLogSoftmaxForwardCpu(outC, xd, offsets, S);
      segmentLogSoftmaxBackwardCpu(dXC, gd, outC, offsets, S);
      assertClose(outG, outC, FWD, `log-softmax forward S=${S}`);
      assertClose(dXG, dXC, FWD, `log-softmax backward S=${S}`);
    }
  },
);

gpuTest("segmentLogSoftmaxForward() of k equal scores is -ln k", async (gpu) => {
  const sizes = [1, 2, 5, 37];
  const offsets = offsetsOf(sizes);
  const N = offsets[sizes.length];
  const x = tensor(gpu, [N], "x", new Float32Array(N).fill(4.25));
  const out = tensor(gpu, [N], "out");
  const got = await runRead(
    gpu,
    out,
    (b) =>
      segmentLogSoftmaxForward(b, out, x, u32(gpu, offsets, "offsets"), { S: sizes.length, N }),
  );
  const expected = sizes.flatMap((k) => Array(k).fill(-Math.log(k)));
  assertClose(got, expected, FWD, "log-softmax of equal scores");
});

gpuTest("segmentLogSoftmaxBackward() matches float64 central differences", async (gpu) => {
  const sizes = [3, 1, 0, 4];
  const offsets = offsetsOf(sizes), S = sizes.length, N = offsets[S];
  const x64 = Float64Array.from(randn(N, 5));
  const w = randn(N, 6);
  const f = () => {
    const o = new Float64Array(N);
    segmentLogSoftmaxForwardCpu(o, x64, offsets, S);
    return o.reduce((acc, v, i) => acc + v * w[i], 0);
  };
  const expected = numericGrad(f, x64);
  const x = tensor(gpu, [N], "x", x64), out = tensor(gpu, [N], "out"), dX = tensor(gpu, [N], "dX");
  const off = u32(gpu, offsets, "offsets");
  const got = await runRead(gpu, dX, (b) => {
    segmentLogSoftmaxForward(b, out, x, off, { S, N });
    segmentLogSoftmaxBackward(b, dX, tensor(gpu, [N], "w", w), out, off, { S, N });
  });
  assertClose(got, expected, GRAD, "log-softmax dX vs central differences");
});

gpuTest("maskedMeanForward() and Backward() match the CPU, empty rows give 0", async (gpu) => {
  // C = 64 and 4 take the vec4 kernels, the others the scalar ones.
  const cases = [[5, 7, 33, 1], [16, 64, 77, 2], [1, 1, 1, 3], [6, 9, 64, 4], [3, 5, 4, 5]];
  for (const [R, T, C, seed] of cases) {
    const r = rng(seed);
    const maskD = Float32Array.from({ length: R * T }, () => r() < 0.6 ? 1 : 0);
    maskD.fill(0, 0, T); // row 0 fully masked: the mean must be 0, not NaN
    const xd = randn(R * T * C, seed + 1), gd = randn(R * C, seed + 2);
    const x = tensor(gpu, [R, T, C], "x", xd), mask = tensor(gpu, [R, T], "mask", maskD);
    const out = tensor(gpu, [R, C], "out"), dX = tensor(gpu, [R, T, C], "dX");
    gpu.run("masked mean", (b) => {
      maskedMeanForward(b, out, x, mask, { R, T, C });
      maskedMeanBackward(b, dX, tensor(gpu, [R, C], "dOut", gd), mask, { R, T, C });
    });
    const outC = new Float32Array(R * C), dXC = new Float32Array(R * T * C);
    maskedMeanForwardCpu(outC, xd, maskD, R, T, C);
    maskedMeanBackwardCpu(dXC, gd, maskD, R, T, C);
    assertClose(await out.read(), outC, FWD, `masked mean forward ${R}x${T}x${C}`);
    assertClose(await dX.read(), dXC, FWD, `masked mean backward ${R}x${T}x${C}`);
  }
});

gpuTest("maskedMeanForward() ignores NaN in masked-out tokens", async (gpu) => {
  const x = tensor(gpu, [1, 3, 2], "x", [1, 2, 3, 4, NaN, Infinity]);
  const mask = tensor(gpu, [1, 3], "mask", [1, 1, 0]);
  const out = tensor(gpu, [1, 2], "out");
  const got = await runRead(
    gpu,
    out,
    (b) => maskedMeanForward(b, out, x, mask, { R: 1, T: 3, C: 2 }),
  );
  assertClose(got, [2, 3], FWD, "masked mean with NaN padding");
  // The same through the vec4 kernel (C = 4).
  const x4 = tensor(gpu, [1, 3, 4], "x4", [1, 2, 3, 4, 3, 4, 5, 6, NaN, Infinity, NaN, -Infinity]);
  const out4 = tensor(gpu, [1, 4], "out4");
  const got4 = await runRead(
    gpu,
    out4,
    (b) => maskedMeanForward(b, out4, x4, mask, { R: 1, T: 3, C: 4 }),
  );
  assertClose(got4, [2, 3, 4, 5], FWD, "masked mean (vec4) with NaN padding");
});

gpuTest("maskedMeanBackward() matches float64 central differences", async (gpu) => {
  const R = 2, T = 3, C = 2;
  const maskD = [1, 0, 1, 1, 1, 1];
  const x64 = Float64Array.from(randn(R * T * C, 7));
  const w = randn(R * C, 8);
  const f = () => {
    const o = new Float64Array(R * C);
    maskedMeanForwardCpu(o, x64, maskD, R, T, C);
    return o.reduce((acc, v, i) => acc + v * w[i], 0);
  };
  const expected = numericGrad(f, x64);
  const dX = tensor(gpu, [R, T, C], "dX");
  const got = await runRead(
    gpu,
    dX,
    (b) =>
      maskedMeanBackward(b, dX, tensor(gpu, [R, C], "w", w), tensor(gpu, [R, T], "m", maskD), {
        R,
        T,
        C,
      }),
  );
  assertClose(got, expected, GRAD, "masked mean dX vs central differences");
});

gpuTest("gatherForward() and Backward() match the CPU on many segments", async (gpu) => {
  const sizes = randomSizes(500, 9, 11).map((k) => Math.max(k, 1));
  const S = sizes.length, offsets = offsetsOf(sizes), N = offsets[S];
  const targets = randomTargets(sizes, 12);
  const xd = randn(N, 13), gd = randn(S, 14);
  const off = u32(gpu, offsets, "offsets"), tg = u32(gpu, targets, "targets");
  const out = tensor(gpu, [S], "out"), dX = tensor(gpu, [N], "dX", new Float32Array(N).fill(7));
  gpu.run("gather", (b) => {
    gatherForward(b, out, tensor(gpu, [N], "x", xd), off, tg, { S });
    gatherBackward(b, dX, tensor(gpu, [S], "dOut", gd), off, tg, { S, N });
  });
  const outC = new Float32Array(S), dXC = new Float32Array(N);
  gatherForwardCpu(outC, xd, offsets, targets, S);
  gatherBackwardCpu(dXC, gd, offsets, targets, S, N);
  assertClose(await out.read(), outC, { atol: 0, rtol: 0 }, "gather forward");
  assertClose(await dX.read(), dXC, { atol: 0, rtol: 0 }, "gather backward (stale 7s cleared)");
});

gpuTest("gatherBackward() skips empty segments and matches central differences", async (gpu) => {
  const sizes = [2, 0, 0, 3, 1];
  const S = sizes.length, offsets = offsetsOf(sizes), N = offsets[S];
  // Empty segments have no valid target; the backward must still place the others right.
  const targets = [1, 0, 0, 2, 0];
  const dOut = [0.5, 0, 0, -2, 3];
  const dX = tensor(gpu, [N], "dX");
  const got = await runRead(
    gpu,
    dX,
    (b) =>
      gatherBackward(
        b,
        dX,
        tensor(gpu, [S], "dOut", dOut),
        u32(gpu, offsets, "o"),
        u32(gpu, targets, "t"),
        { S, N },
      ),
  );
  assertClose(got, [0, 0.5, 0, 0, -2, 3], { atol: 0, rtol: 0 }, "gather backward by hand");
  // Central differences of sum_s w[s] * gather(x)[s] over the non-empty segments.
  const keep = [0, 3, 4];
  const x64 = Float64Array.from(randn(N, 15));
  const f = () => keep.reduce((acc, s) => acc + dOut[s] * x64[offsets[s] + targets[s]], 0);
  assertClose(got, numericGrad(f, x64), GRAD, "gather dX vs central differences");
});

gpuTest("gatherForward() writes NaN for a target outside its segment", async (gpu) => {
  const out = tensor(gpu, [2], "out");
  const got = await runRead(
    gpu,
    out,
    (b) =>
      gatherForward(
        b,
        out,
        tensor(gpu, [4], "x", [1, 2, 3, 4]),
        u32(gpu, [0, 2, 4], "o"),
        u32(gpu, [1, 2], "t"),
        { S: 2 },
      ),
  );
  if (got[0] !== 2 || !Number.isNaN(got[1])) throw new Error(`expected [2, NaN], got [${got}]`);
});

gpuTest("nllLossForward() of a uniform distribution over k actions is ln k", async (gpu) => {
  const sizes = [4, 4, 4];
  const S = 3, offsets = offsetsOf(sizes), N = 12;
  const logp = tensor(gpu, [N], "logp"), loss = tensor(gpu, [1], "loss");
  const got = await runRead(gpu, loss, (b) => {
    segmentLogSoftmaxForward(
      b,
      logp,
      tensor(gpu, [N], "x", new Float32Array(N)),
      u32(gpu, offsets, "o"),
      {
        S,
        N,
      },
    );
    nllLossForward(b, loss, logp, u32(gpu, offsets, "o2"), u32(gpu, [0, 3, 1], "t"), { S });
  });
  assertClose(got, [Math.log(4)], FWD, "NLL of uniform over 4");
});

gpuTest("nllLossForward() and Backward() match the CPU, weighted and not", async (gpu) => {
  // 700 segments: one workgroup writes the loss; 30000: per-workgroup partials, then a final sum.
  for (const count of [700, 30000]) await nllMatchesCpu(gpu, count);
});

async function nllMatchesCpu(gpu: Gpu, count: number): Promise<void> {
  const sizes = randomSizes(count, 12, 21).map((k) => Math.max(k, 1));
  const S = sizes.length, offsets = offsetsOf(sizes), N = offsets[S];
  const targets = randomTargets(sizes, 22);
  const logpD = randn(N, 23), wD = randn(S, 24);
  const logp = tensor(gpu, [N], "logp", logpD), weights = tensor(gpu, [S], "w", wD);
  const off = u32(gpu, offsets, "o"), tg = u32(gpu, targets, "t");
  const dLoss = tensor(gpu, [1], "dLoss", [0.75]);
  for (const weighted of [false, true]) {
    const w = weighted ? weights : undefined;
    const loss = tensor(gpu, [1], "loss"), dX = tensor(gpu, [N], "dX");
    gpu.run("nll", (b) => {
      nllLossForward(b, loss, logp, off, tg, { S, weights: w });
      nllLossBackward(b, dX, dLoss, off, tg, { S, N, weights: w });
    });
    const lossC = nllLossForwardCpu(logpD, offsets, targets, S, weighted ? wD : undefined);
    const dXC = new Float32Array(N);
    nllLossBackwardCpu(dXC, 0.75, offsets, targets, S, N, weighted ? wD : undefined);
    assertClose(await loss.read(), [lossC], FWD, `nll forward S=${S} weighted=${weighted}`);
    assertClose(await dX.read(), dXC, { atol: 1e-7, rtol: 1e-6 }, `nll backward w=${weighted}`);
  }
}

gpuTest("nllLossBackward() after log-softmax matches float64 central differences", async (gpu) => {
  const sizes = [3, 1, 4];
  const S = 3, offsets = offsetsOf(sizes), N = 8;
  const targets = [2, 0, 1], wD = [1.5, -0.5, 2];
  const x64 = Float64Array.from(randn(N, 31));
  const f = () => {
    const lp = new Float64Array(N);
    segmentLogSoftmaxForwardCpu(lp, x64, offsets, S);
    return nllLossForwardCpu(lp, offsets, targets, S, wD);
  };
  const expected = numericGrad(f, x64);
  const off = u32(gpu, offsets, "o"), tg = u32(gpu, targets, "t");
  const logp = tensor(gpu, [N], "logp"), dLogp = tensor(gpu, [N], "dLogp");
  const dX = tensor(gpu, [N], "dX"), loss = tensor(gpu, [1], "loss");
  const weights = tensor(gpu, [S], "w", wD);
  const got = await runRead(gpu, dX, (b) => {
    segmentLogSoftmaxForward(b, logp, tensor(gpu, [N], "x", x64), off, { S, N });
    nllLossForward(b, loss, logp, off, tg, { S, weights });
    nllLossBackward(b, dLogp, tensor(gpu, [1], "one", [1]), off, tg, { S, N, weights });
    segmentLogSoftmaxBackward(b, dX, dLogp, logp, off, { S, N });
  });
  assertClose(got, expected, GRAD, "log-softmax + NLL dX vs central differences");
  assertClose(await loss.read(), [f()], FWD, "weighted NLL loss");
});

gpuTest("segment ops reject bad shapes and dtypes before dispatch", (gpu) => {
  const b = gpu.batch("bad shapes");
  const x = tensor(gpu, [10], "x"), out = tensor(gpu, [10], "out");
  const off = u32(gpu, [0, 4, 10], "offsets"), offF = tensor(gpu, [3], "offsetsF32");
  assertThrows(
    () => segmentLogSoftmaxForward(b, out, x, off, { S: 2, N: 11 }),
    GpuError,
    "segmentLogSoftmaxForward: x 'x' [10] holds 10 elements, needs 11",
  );
  assertThrows(
    () => segmentLogSoftmaxForward(b, out, x, off, { S: 3, N: 10 }),
    GpuError,
    "offsets 'offsets' [3] holds 3 elements, needs 4",
  );
  assertThrows(
    () => segmentLogSoftmaxBackward(b, out, x, x, offF, { S: 2, N: 10 }),
    GpuError,
    "offsets 'offsetsF32' is f32, expected u32",
  );
  assertThrows(
    () => maskedMeanForward(b, out, x, tensor(gpu, [2, 5], "mask"), { R: 2, T: 5, C: 2 }),
    GpuError,
    "maskedMeanForward: x 'x' [10] holds 10 elements, needs 20",
  );
  assertThrows(
    () => maskedMeanBackward(b, x, out, x, { R: 2, T: 2.5, C: 2 }),
    GpuError,
    "maskedMeanBackward: size T = 2.5",
  );
  assertThrows(
    () => gatherForward(b, out, x, off, u32(gpu, [0], "t"), { S: 2 }),
    GpuError,
    "gatherForward: targets 't' [1] holds 1 elements, needs 2",
  );
  assertThrows(
    () => nllLossForward(b, out, x, off, u32(gpu, [0, 0], "t"), { S: 0 }),
    GpuError,
    "nllLossForward: S = 0",
  );
  assertThrows(
    () =>
      nllLossBackward(b, out, x, off, u32(gpu, [0, 0], "t"), { S: 2, N: 10, weights: x.view([1]) }),
    GpuError,
    "nllLossBackward: weights 'x' [1] holds 1 elements, needs 2",
  );
  assertThrows(
    () => segmentLogSoftmaxForward(b, x, x, off, { S: 2, N: 10 }),
    GpuError,
    "segmentLogSoftmaxForward: 'x' and 'x' share a buffer",
  );
  b.submit();
});

gpuTest("warmSegmentKernels() compiles every variant the launchers use", async (gpu) => {
  warmSegmentKernels(gpu);
  const before = gpu.pipelineCount;
  const sizes = [2, 3];
  const S = 2, N = 5;
  const off = u32(gpu, offsetsOf(sizes), "o"), tg = u32(gpu, [1, 2], "t");
  const x = tensor(gpu, [N], "x", randn(N, 1)), y = tensor(gpu, [N], "y");
  const z = tensor(gpu, [N], "z"), w = tensor(gpu, [S], "w", [1, 2]);
  const one = tensor(gpu, [1], "one", [1]), loss = tensor(gpu, [1], "loss");
  gpu.run("all segment ops", (b) => {
    segmentLogSoftmaxForward(b, y, x, off, { S, N });
    segmentLogSoftmaxBackward(b, z, x, y, off, { S, N });
    maskedMeanForward(b, y, x, z, { R: 1, T: 5, C: 1 });
    maskedMeanBackward(b, y, x, z, { R: 1, T: 5, C: 1 });
    gatherForward(b, w, x, off, tg, { S });
    gatherBackward(b, y, w, off, tg, { S, N });
    for (const weights of [undefined, w]) {
      nllLossForward(b, loss, x, off, tg, { S, weights });
      nllLossBackward(b, y, one, off, tg, { S, N, weights });
    }
  });
  await gpu.sync();
  if (gpu.pipelineCount !== before) {
    throw new Error(`launchers compiled ${gpu.pipelineCount - before} pipelines after warm-up`);
  }
});
