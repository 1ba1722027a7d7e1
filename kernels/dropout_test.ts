import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { dot, numericGrad, randn } from "../testing/numeric.ts";
import { GpuError } from "./device.ts";
import { tensor } from "./tensor.ts";
import { dropoutBackward, dropoutForward } from "./dropout.ts";
import { dropoutBackwardCpu, dropoutForwardCpu, pcgHash } from "./cpu/dropout.ts";

Deno.test("pcgHash() wraps its u32 arithmetic like an exact BigInt evaluation", () => {
  // pcg_hash of Jarzynski and Olano (JCGT 9(3), 2020), with the last product done in BigInt.
  const expected = [pcgHash(0), pcgHash(1), pcgHash(0xffffffff)];
  const state = (v: number) => (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const ref = (v: number) => {
    const s = state(v);
    const w = Number((BigInt((s >>> ((s >>> 28) + 4)) ^ s) * 277803737n) & 0xffffffffn);
    return ((w >>> 22) ^ w) >>> 0;
  };
  assertClose(expected, [ref(0), ref(1), ref(0xffffffff)], { atol: 0, rtol: 0 }, "pcgHash");
});

gpuTest(
  "dropoutForward() drops a fraction p, scales by 1/(1-p) and matches the CPU mask",
  async (gpu) => {
    const n = 40003;
    const xs = Float32Array.from({ length: n }, (_, i) => 1 + (i % 7));
    const x = tensor(gpu, [n], "x", xs);
    for (const p of [0.1, 0.5]) {
      const out = tensor(gpu, [n], "out");
      gpu.run("dropout", (b) => dropoutForward(b, out, x, n, { p, seed: 1234 }));
      const got = await out.read();
      const expected = new Float32Array(n);
      dropoutForwardCpu(expected, xs, n, p, 1234);
      assertClose(got, expected, { atol: 1e-6, rtol: 1e-6 }, `dropout p=${p}`);
      const dropped = got.filter((v) => v === 0).length / n;
      // Binomial standard deviation is at most 0.0025 here; allow 4 of them.
      if (Math.abs(dropped - p) > 0.01) throw new Error(`dropped ${dropped}, expected about ${p}`);
      const kept = got.findIndex((v) => v !== 0);
      assertClose([got[kept]], [xs[kept] / (1 - p)], { atol: 1e-6, rtol: 1e-6 }, "scale");
    }
  },
);

gpuTest(
  "dropout is deterministic for a seed, differs across seeds, and p=0 is identity",
  async (gpu) => {
    const n = 1025, xs = randn(n, 5);
    const x = tensor(gpu, [n], "x", xs);
    const a = tensor(gpu, [n], "a"), b = tensor(gpu, [n], "b"), c = tensor(gpu, [n], "c");
    const z = tensor(gpu, [n], "z");
    gpu.run("dropout seeds", (bt) => {
      dropoutForward(bt, a, x, n, { p: 0.3, seed: 7 });
      dropoutForward(bt, b, x, n, { p: 0.3, seed: 7 });
      dropoutForward(bt, c, x, n, { p: 0.3, seed: 8 });
      dropoutForward(bt, z, x, n, { p: 0, seed: 8 });
    });
    const [ra, rb, rc] = [await a.read(), await b.read(), await c.read()];
    assertClose(ra, rb, { atol: 0, rtol: 0 }, "same seed");
    const same = ra.filter((v, i) => (v === 0) === (rc[i] === 0)).length;
    if (same === n) throw new Error("seeds 7 and 8 gave the same mask");
    assertClose(await z.read(), xs, { atol: 0, rtol: 0 }, "p = 0");
  },
);

gpuTest("dropoutBackward() uses the forward's mask", async (gpu) => {
  const n = 999, xs = randn(n, 1), gs = randn(n, 2);
  const x = tensor(gpu, [n], "x", xs), g = tensor(gpu, [n], "dOut", gs);
  const out = tensor(gpu, [n], "out"), dX = tensor(gpu, [n], "dX");
  gpu.run("dropout backward", (b) => {
    dropoutForward(b, out, x, n, { p: 0.25, seed: 99 });
    dropoutBackward(b, dX, g, n, { p: 0.25, seed: 99 });
  });
  const o = await out.read(), d = await dX.read();
  for (let i = 0; i < n; i++) {
    if ((o[i] === 0) !== (d[i] === 0)) throw new Error(`mask differs at ${i}`);
  }
  const expected = new Float32Array(n);
  dropoutBackwardCpu(expected, gs, n, 0.25, 99);
  assertClose(d, expected, { atol: 1e-6, rtol: 1e-6 }, "dropout backward");
});

Deno.test("dropoutBackwardCpu() matches float64 central differences", () => {
  const n = 9, x = Float64Array.from(randn(n, 3)), w = Float64Array.from(randn(n, 4));
  const out = new Float64Array(n), dX = new Float64Array(n);
  const f = () => {
    dropoutForwardCpu(out, x, n, 0.4, 5);
    return dot(out, w);
  };
  const num = numericGrad(f, x);
  dropoutBackwardCpu(dX, w, n, 0.4, 5);
  assertClose(dX, num, { atol: 1e-7, rtol: 1e-6 }, "dropout dX");
});

gpuTest("dropout rejects bad p, seeds, short and aliased tensors", (gpu) => {
  const x = tensor(gpu, [8], "x"), out = tensor(gpu, [4], "out");
  const b = gpu.batch("bad");
  assertThrows(() => dropoutForward(b, out, x, 8, { p: 0.1, seed: 1 }), GpuError, "out 'out' [4]");
  assertThrows(() => dropoutForward(b, x, out, 4, { p: 1, seed: 1 }), GpuError, "p = 1");
  assertThrows(() => dropoutForward(b, x, out, 4, { p: 0.1, seed: -1 }), GpuError, "seed -1");
  assertThrows(() => dropoutBackward(b, x, x, 4, { p: 0.1, seed: 1 }), GpuError, "aliases");
  b.submit();
});
