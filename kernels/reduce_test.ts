import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { numericGrad, randn } from "../testing/numeric.ts";
import {
  clipByGlobalNormCpu,
  globalNormCpu,
  hasNonFiniteCpu,
  meanCpu,
  rowMaxBackwardCpu,
  rowMaxForwardCpu,
  sumCpu,
} from "./cpu/reduce.ts";
import { type Gpu, GpuError } from "./device.ts";
import {
  clipByGlobalNorm,
  globalNormForward,
  globalNormScratchSize,
  meanForward,
  nonFiniteFlag,
  rowMaxBackward,
  rowMaxForward,
  sumForward,
  warmReduceKernels,
} from "./reduce.ts";
import { type Tensor, tensor } from "./tensor.ts";

/** |got - exact| must be within float32 rounding of a sum of these magnitudes. */
function assertSumClose(got: number, exact: number, absSum: number, label: string): void {
  const tol = 2e-6 * absSum + 1e-6;
  if (!(Math.abs(got - exact) <= tol)) {
    throw new Error(`${label}: got ${got}, expected ${exact} (diff ${got - exact}, tol ${tol})`);
  }
}

async function scalar(gpu: Gpu, out: Tensor, fn: Parameters<Gpu["run"]>[1]): Promise<number> {
  gpu.run("reduce test", fn);
  return (await out.read())[0];
}

gpuTest("sumForward() and meanForward() match a float64 sum, deterministically", async (gpu) => {
  // 5_000_003 needs more than the 256 partials' minimum slices: the grid-stride path.
  for (const n of [1, 1000, 16385, 300_001, 5_000_003]) {
    const data = randn(n, n, 2);
    const x = tensor(gpu, [n], "x", data), out = tensor(gpu, [2], "out");
    const exact = sumCpu(data), absSum = sumCpu(data.map(Math.abs));
    const got = await scalar(gpu, out, (b) => sumForward(b, out, x));
    assertSumClose(got, exact, absSum, `sum n=${n}`);
    const again = await scalar(gpu, out, (b) => sumForward(b, out, x));
    if (again !== got) throw new Error(`sum n=${n} not deterministic: ${got} then ${again}`);
    const mean = await scalar(gpu, out, (b) => meanForward(b, out, x));
    assertSumClose(mean, meanCpu(data), absSum / n, `mean n=${n}`);
    x.destroy();
  }
});

gpuTest("sumForward() sums a prefix; of 0 elements is 0, meanForward() is NaN", async (gpu) => {
  const x = tensor(gpu, [5], "x", [1, 2, 3, 4, 100]), out = tensor(gpu, [1], "out", [7]);
  if (await scalar(gpu, out, (b) => sumForward(b, out, x, 4)) !== 10) throw new Error("prefix");
  if (await scalar(gpu, out, (b) => sumForward(b, out, x, 0)) !== 0) throw new Error("sum of 0");
  const m = await scalar(gpu, out, (b) => meanForward(b, out, x, 0));
  if (!Number.isNaN(m)) throw new Error(`mean of 0 elements is ${m}, expected NaN`);
});

gpuTest("rowMaxForward() and Backward() match the CPU, ties go to the first index", async (gpu) => {
  for (const [N, L] of [[1, 1], [1000, 7], [3, 300]]) {
    const data = randn(N * L, N + L);
    // Rounded values make ties common.
    for (let i = 0; i < data.length; i++) data[i] = Math.round(data[i] * 2);
    const gd = randn(N, 3);
    const x = tensor(gpu, [N, L], "x", data), out = tensor(gpu, [N], "out");
    const argmax = tensor(gpu, [N], "argmax", undefined, "u32");
    const dX = tensor(gpu, [N, L], "dX", new Float32Array(N * L).fill(5));
    gpu.run("row max", (b) => {
      rowMaxForward(b, out, argmax, x, { N, L });
      rowMaxBackward(b, dX, tensor(gpu, [N], "dOut", gd), argmax, { N, L });
    });
    const outC = new Float32Array(N), argC = new Uint32Array(N), dXC = new Float32Array(N * L);
    rowMaxForwardCpu(outC, argC, data, N, L);
    rowMaxBackwardCpu(dXC, gd, argC, N, L);
    const exact = { atol: 0, rtol: 0 };
    assertClose(await out.read(), outC, exact, `row max ${N}x${L}`);
    assertClose(await argmax.read(), argC, exact, `row argmax ${N}x${L}`);
    assertClose(await dX.read(), dXC, exact, `row max backward ${N}x${L}`);
  }
});

gpuTest("rowMaxForward() by hand: ties, -Infinity rows and NaN", async (gpu) => {
  const data = [1, 3, 3, -Infinity, -Infinity, -Infinity, 2, NaN, 9];
  const x = tensor(gpu, [3, 3], "x", data), out = tensor(gpu, [3], "out");
  const argmax = tensor(gpu, [3], "argmax", undefined, "u32");
  gpu.run("row max", (b) => rowMaxForward(b, out, argmax, x, { N: 3, L: 3 }));
  const o = await out.read(), a = await argmax.read();
  const ok = o[0] === 3 && a[0] === 1 && o[1] === -Infinity && a[1] === 0 && Number.isNaN(o[2]) &&
    a[2] === 1;
  if (!ok) throw new Error(`row max by hand: out [${o}], argmax [${a}]`);
});

gpuTest("rowMaxBackward() matches float64 central differences", async (gpu) => {
  const N = 3, L = 4;
  const x64 = Float64Array.from(randn(N * L, 41));
  const w = randn(N, 42);
  const f = () => {
    const o = new Float64Array(N), a = new Uint32Array(N);
    rowMaxForwardCpu(o, a, x64, N, L);
    return o.reduce((acc, v, i) => acc + v * w[i], 0);
  };
  const expected = numericGrad(f, x64);
  const out = tensor(gpu, [N], "out"), argmax = tensor(gpu, [N], "argmax", undefined, "u32");
  const dX = tensor(gpu, [N, L], "dX");
  gpu.run("row max grad", (b) => {
    rowMaxForward(b, out, argmax, tensor(gpu, [N, L], "x", x64), { N, L });
    rowMaxBackward(b, dX, tensor(gpu, [N], "w", w), argmax, { N, L });
  });
  assertClose(await dX.read(), expected, { atol: 1e-4, rtol: 1e-3 }, "row max dX vs differences");
});

function gradSet(gpu: Gpu, sizes: number[], seed: number, scale = 1) {
  const data = sizes.map((n, i) => randn(n, seed + i, scale));
  const ts = data.map((d, i) => tensor(gpu, [d.length], `g${i}`, d));
  return { data, ts };
}

gpuTest("globalNormForward() matches float64 over many odd-sized tensors", async (gpu) => {
  const { data, ts } = gradSet(gpu, [1, 3, 768, 16385, 2 * 16384 + 5, 200_003, 7], 50);
  const scratch = tensor(gpu, [globalNormScratchSize(ts)], "scratch");
  const norm = tensor(gpu, [1], "norm");
  const got = await scalar(gpu, norm, (b) => globalNormForward(b, norm, scratch, ts));
  const exact = globalNormCpu(data);
  assertClose([got], [exact], { atol: 0, rtol: 2e-6 }, "global norm");
  const again = await scalar(gpu, norm, (b) => globalNormForward(b, norm, scratch, ts));
  if (again !== got) throw new Error(`global norm not deterministic: ${got} then ${again}`);
});

gpuTest("clipByGlobalNorm() leaves norm maxNorm, or changes nothing below it", async (gpu) => {
  const sizes = [5, 1000, 70_001];
  const { data, ts } = gradSet(gpu, sizes, 60, 0.1);
  const scratch = tensor(gpu, [globalNormScratchSize(ts)], "scratch");
  const norm = tensor(gpu, [1], "norm"), after = tensor(gpu, [1], "after");
  const before = globalNormCpu(data);
  const maxNorm = before / 3;
  gpu.run("clip", (b) => {
    globalNormForward(b, norm, scratch, ts);
    clipByGlobalNorm(b, ts, norm, maxNorm);
    globalNormForward(b, after, scratch, ts);
  });
  assertClose(await after.read(), [maxNorm], { atol: 0, rtol: 1e-5 }, "norm after clipping");
  const expected = data.map((d) => Float32Array.from(d));
  clipByGlobalNormCpu(expected, (await norm.read())[0], maxNorm);
  for (const [i, t] of ts.entries()) {
    assertClose(await t.read(), expected[i], { atol: 1e-8, rtol: 1e-6 }, `clipped g${i}`);
  }
  // Below the threshold the factor is min(1, ...) = 1: values stay bit-identical.
  const snapshot = await ts[1].read();
  gpu.run("no clip", (b) => {
    globalNormForward(b, norm, scratch, ts);
    clipByGlobalNorm(b, ts, norm, 10 * before);
  });
  assertClose(await ts[1].read(), snapshot, { atol: 0, rtol: 0 }, "unclipped");
});

gpuTest("nonFiniteFlag() catches NaN, +Inf and -Inf anywhere and stays set", async (gpu) => {
  const n = 100_003;
  const flag = tensor(gpu, [1], "flag", undefined, "u32");
  const clean = gradSet(gpu, [n, 17], 70);
  const check = async (ts: Tensor[]) => {
    gpu.run("flag", (b) => {
      b.clear(flag);
      nonFiniteFlag(b, flag, ts);
    });
    return (await flag.read())[0];
  };
  if (await check(clean.ts) !== 0) throw new Error("flag set on finite data");
  if (hasNonFiniteCpu(clean.data)) throw new Error("CPU reference flags finite data");
  for (const [bad, at] of [[NaN, n - 1], [Infinity, 0], [-Infinity, 12345]]) {
    const d = Float32Array.from(clean.data[0]);
    d[at] = bad;
    const t = tensor(gpu, [n], "bad", d);
    if (await check([clean.ts[1], t]) !== 1) throw new Error(`missed ${bad} at ${at}`);
    if (!hasNonFiniteCpu([d])) throw new Error(`CPU reference missed ${bad}`);
    t.destroy();
  }
  // Sticky: a later clean check without clearing keeps the flag.
  gpu.run("flag sticky", (b) => {
    nonFiniteFlag(b, flag, [tensor(gpu, [1], "nan", [NaN])]);
    nonFiniteFlag(b, flag, clean.ts);
  });
  if ((await flag.read())[0] !== 1) throw new Error("flag was cleared by a clean check");
});

gpuTest("reductions reject bad shapes and dtypes before dispatch", (gpu) => {
  const b = gpu.batch("bad shapes");
  const x = tensor(gpu, [10], "x"), out = tensor(gpu, [1], "out");
  const u = tensor(gpu, [10], "u", undefined, "u32");
  assertThrows(() => sumForward(b, out, x, 11), GpuError, "sumForward: x 'x' [10] holds 10");
  assertThrows(() => meanForward(b, out, x, -1), GpuError, "meanForward: n = -1");
  assertThrows(
    () => rowMaxForward(b, x, u, x, { N: 3, L: 4 }),
    GpuError,
    "rowMaxForward: x 'x' [10] holds 10 elements, needs 12",
  );
  assertThrows(
    () => rowMaxForward(b, x, x, x, { N: 2, L: 5 }),
    GpuError,
    "rowMaxForward: argmax 'x' is f32, expected u32",
  );
  assertThrows(() => rowMaxBackward(b, x, x, u, { N: 2, L: 0 }), GpuError, "L = 0");
  assertThrows(
    () => globalNormForward(b, out, tensor(gpu, [1], "scratch"), [x, x]),
    GpuError,
    "globalNormForward: scratch 'scratch' [1] holds 1 elements, needs 2",
  );
  assertThrows(() => globalNormForward(b, out, x, [u]), GpuError, "tensor 0 'u' [10] is u32");
  assertThrows(() => clipByGlobalNorm(b, [x], out, 0), GpuError, "clipByGlobalNorm: maxNorm = 0");
  assertThrows(() => nonFiniteFlag(b, out, [x]), GpuError, "nonFiniteFlag: flag 'out' is f32");
  assertThrows(() => nonFiniteFlag(b, u, []), GpuError, "nonFiniteFlag: no tensors given");
  b.submit();
});

gpuTest("warmReduceKernels() compiles every variant the launchers use", async (gpu) => {
  warmReduceKernels(gpu);
  const before = gpu.pipelineCount;
  const x = tensor(gpu, [6], "x", randn(6, 1)), y = tensor(gpu, [6], "y");
  const one = tensor(gpu, [1], "one", [1]), arg = tensor(gpu, [2], "arg", undefined, "u32");
  const scratch = tensor(gpu, [globalNormScratchSize([x, y])], "scratch");
  gpu.run("all reductions", (b) => {
    sumForward(b, one, x);
    meanForward(b, one, x);
    rowMaxForward(b, y, arg, x, { N: 2, L: 3 });
    rowMaxBackward(b, y, x, arg, { N: 2, L: 3 });
    globalNormForward(b, one, scratch, [x, y]);
    clipByGlobalNorm(b, [x, y], one, 1);
    nonFiniteFlag(b, arg, [x, y]);
  });
  await gpu.sync();
  if (gpu.pipelineCount !== before) {
    throw new Error(`launchers compiled ${gpu.pipelineCount - before} pipelines after warm-up`);
  }
});
