import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { dot, numericGrad, randn } from "../testing/numeric.ts";
import { GpuError } from "./device.ts";
import { tensor } from "./tensor.ts";
import {
  addInto,
  residualBackward,
  residualForward,
  scaleBackward,
  scaleForward,
} from "./residual.ts";
import {
  addIntoCpu,
  residualBackwardCpu,
  residualForwardCpu,
  scaleForwardCpu,
} from "./cpu/residual.ts";

const TOL = { atol: 1e-6, rtol: 1e-6 };

gpuTest("residual, scale and addInto match the CPU reference", async (gpu) => {
  for (const n of [1, 1029]) {
    const as = randn(n, 1), bs = randn(n, 2), gs = randn(n, 3), ds = randn(n, 4);
    const a = tensor(gpu, [n], "a", as), b = tensor(gpu, [n], "b", bs);
    const g = tensor(gpu, [n], "dOut", gs), dst = tensor(gpu, [n], "dst", ds);
    const out = tensor(gpu, [n], "out"), s = tensor(gpu, [n], "s");
    const dA = tensor(gpu, [n], "dA"), dB = tensor(gpu, [n], "dB"), dX = tensor(gpu, [n], "dX");
    gpu.run("residual", (bt) => {
      residualForward(bt, out, a, b, n, { scaleA: 0.5, scaleB: -2 });
      scaleForward(bt, s, a, n, 3);
      residualBackward(bt, dA, dB, g, n, { scaleA: 0.5, scaleB: -2 });
      scaleBackward(bt, dX, g, n, 3);
      addInto(bt, dst, g, n, 0.25);
    });
    const e = new Float32Array(n), eA = new Float32Array(n), eB = new Float32Array(n);
    residualForwardCpu(e, as, bs, n, 0.5, -2);
    assertClose(await out.read(), e, TOL, `residual n=${n}`);
    scaleForwardCpu(e, as, n, 3);
    assertClose(await s.read(), e, TOL, `scale n=${n}`);
    residualBackwardCpu(eA, eB, gs, n, 0.5, -2);
    assertClose(await dA.read(), eA, TOL, `dA n=${n}`);
    assertClose(await dB.read(), eB, TOL, `dB n=${n}`);
    scaleForwardCpu(e, gs, n, 3);
    assertClose(await dX.read(), e, TOL, `scale backward n=${n}`);
    const ed = Float32Array.from(ds);
    addIntoCpu(ed, gs, n, 0.25);
    assertClose(await dst.read(), ed, TOL, `addInto n=${n}`);
  }
});

gpuTest("residualBackward() writes only the gradients asked for", async (gpu) => {
  const g = tensor(gpu, [3], "dOut", [1, 2, 3]), dB = tensor(gpu, [3], "dB");
  gpu.run("one side", (b) => residualBackward(b, null, dB, g, 3, { scaleB: 2 }));
  assertClose(await dB.read(), [2, 4, 6], { atol: 0, rtol: 0 }, "dB only");
});

Deno.test("residualBackwardCpu() matches float64 central differences", () => {
  const n = 6, a = Float64Array.from(randn(n, 1)), b = Float64Array.from(randn(n, 2));
  const w = Float64Array.from(randn(n, 3)), out = new Float64Array(n);
  const f = () => {
    residualForwardCpu(out, a, b, n, 0.7, 1.3);
    return dot(out, w);
  };
  const dA = new Float64Array(n), dB = new Float64Array(n);
  residualBackwardCpu(dA, dB, w, n, 0.7, 1.3);
  assertClose(dA, numericGrad(f, a), { atol: 1e-8, rtol: 1e-7 }, "dA");
  assertClose(dB, numericGrad(f, b), { atol: 1e-8, rtol: 1e-7 }, "dB");
});

gpuTest("residual ops reject short and aliased tensors before dispatch", (gpu) => {
  const x = tensor(gpu, [8], "x"), y = tensor(gpu, [4], "y");
  const b = gpu.batch("bad");
  assertThrows(() => residualForward(b, x, y, x, 8), GpuError, "residualForward: a 'y' [4]");
  assertThrows(() => residualForward(b, x, x, x, 8), GpuError, "aliases");
  assertThrows(() => addInto(b, y, y, 4), GpuError, "addInto: dst 'y' [4] aliases src");
  b.submit();
});
