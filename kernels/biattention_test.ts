import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { numericGrad, randn } from "../testing/numeric.ts";
import {
  biattentionBackward,
  biattentionBuffers,
  type BiAttentionDims,
  biattentionForward,
  warmBiAttentionKernels,
  writeBiAttentionIndex,
} from "./biattention.ts";
import { biattentionBackwardCpu, biattentionForwardCpu, stateOfSizes } from "./cpu/biattention.ts";
import { GpuError } from "./device.ts";
import { tensor } from "./tensor.ts";

function problem(
  sizes: number[],
  Ta: number,
  Tm: number,
  C: number,
  memLens: number[],
  seed: number,
) {
  const S = sizes.length, A = sizes.reduce((x, y) => x + y, 0);
  const mask = new Float32Array(S * Tm);
  memLens.forEach((n, s) => mask.fill(1, s * Tm, s * Tm + n));
  return {
    d: { A, S, Ta, Tm, C } as BiAttentionDims,
    x: randn(A * Ta * C, seed),
    mem: randn(S * Tm * C, seed + 1),
    mask,
    wIn: randn(C, seed + 2, 0.5),
    wMem: randn(C, seed + 3, 0.5),
    scale: randn(C, seed + 4, 0.5),
    dOut: randn(A * Ta * 4 * C, seed + 5),
    stateOf: stateOfSizes(sizes),
  };
}

for (const kernel of ["auto", "register", "shared"] as const) {
  gpuTest(
    `biattentionForward()/Backward() match the CPU reference off the tile sizes (${kernel})`,
    async (gpu) => {
      if (kernel === "auto") warmBiAttentionKernels(gpu);
      const warmed = gpu.pipelineCount;
      for (
        const [sizes, Ta, Tm, C, memLens] of [
          [[3, 2], 5, 7, 12, [7, 4]],
          [[1, 4, 2], 17, 19, 33, [19, 1, 10]],
        ] as [number[], number, number, number, number[]][]
      ) {
        const p = problem(sizes, Ta, Tm, C, memLens, 42 + Ta);
        p.d.kernel = kernel;
        const { A, S } = p.d;
        const bufs = biattentionBuffers(gpu, { A: A + 1, S: S + 1, Ta, Tm: Tm + 2, C });
        writeBiAttentionIndex(bufs, sizes);
        const t = (data: ArrayLike<number>, name: string) => tensor(gpu, [data.length], name, data);
        const x = t(p.x, "x"), mem = t(p.mem, "mem"), mask = t(p.mask, "mask");
        const wIn = t(p.wIn, "wIn"), wMem = t(p.wMem, "wMem"), scale = t(p.scale, "scale");
        const dOut = t(p.dOut, "dOut");
        const out = tensor(gpu, [A, Ta, 4 * C], "out");
        const dX = tensor(gpu, [A, Ta, C], "dX"), dMem = tensor(gpu, [S, Tm, C], "dMem");
        const init = randn(C, 9);
        const dWIn = t(init, "dWIn"), dWMem = t(init, "dWMem"), dScale = t(init, "dScale");
        gpu.run("biattn test", (b) => {
          biattentionForward(b, out, bufs, x, mem, mask, wIn, wMem, scale, p.d);
          biattentionBackward(
            b,
            dX,
            dMem,
            dWIn,
            dWMem,
            dScale,
            dOut,
            bufs,
            x,
            mem,
            wIn,
            wMem,
            scale,
            p.d,
          );
        });
        const ref = biattentionForwardCpu(
          p.x,
          p.mem,
          p.mask,
          p.stateOf,
          p.wIn,
          p.wMem,
          p.scale,
          p.d,
        );
        const g = {
          dWIn: Float64Array.from(init),
          dWMem: Float64Array.from(init),
          dScale: Float64Array.from(init),
        };
        const back = biattentionBackwardCpu(
          p.dOut,
          ref.saved,
          p.x,
          p.mem,
          p.stateOf,
          p.wIn,
          p.wMem,
          p.scale,
          g,
          p.d,
        );
        const label = `sizes=[${sizes}] Ta=${Ta} Tm=${Tm} C=${C}`;
        const fwd = { atol: 2e-4, rtol: 2e-4 }, bwd = { atol: 2e-3, rtol: 2e-3 };
        assertClose(await out.read(), ref.out, fwd, `out ${label}`);
        assertClose(await dX.read(), back.dX, bwd, `dX ${label}`);
        assertClose(await dMem.read(), back.dMem, bwd, `dMem ${label}`);
        assertClose(await dWIn.read(), g.dWIn, bwd, `dWIn ${label}`);
        assertClose(await dWMem.read(), g.dWMem, bwd, `dWMem ${label}`);
        assertClose(await dScale.read(), g.dScale, bwd, `dScale ${label}`);
      }
      if (kernel === "auto" && gpu.pipelineCount !== warmed) {
        throw new Error("a launcher compiled a pipeline after warm-up");
      }
    },
  );
}

Deno.test("biattentionBackwardCpu() matches central differences", () => {
  const p = problem([2, 1], 3, 4, 5, [4, 2], 7);
  const x = Float64Array.from(p.x), mem = Float64Array.from(p.mem);
  const wIn = Float64Array.from(p.wIn), wMem = Float64Array.from(p.wMem);
  const scale = Float64Array.from(p.scale);
  const f = () => {
    const { out } = biattentionForwardCpu(x, mem, p.mask, p.stateOf, wIn, wMem, scale, p.d);
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i] * p.dOut[i];
    return s;
  };
  const { saved } = biattentionForwardCpu(x, mem, p.mask, p.stateOf, wIn, wMem, scale, p.d);
  const C = p.d.C;
  const g = { dWIn: new Float64Array(C), dWMem: new Float64Array(C), dScale: new Float64Array(C) };
  const back = biattentionBackwardCpu(p.dOut, saved, x, mem, p.stateOf, wIn, wMem, scale, g, p.d);
  const tol = { atol: 1e-6, rtol: 1e-5 };
  assertClose(back.dX, numericGrad(f, x), tol, "dX");
  assertClose(back.dMem, numericGrad(f, mem), tol, "dMem");
  assertClose(g.dWIn, numericGrad(f, wIn), tol, "dWIn");
  assertClose(g.dWMem, numericGrad(f, wMem), tol, "dWMem");
  assertClose(g.dScale, numericGrad(f, scale), tol, "dScale");
});

gpuTest("writeBiAttentionIndex() rejects more actions than the buffers hold", (gpu) => {
  const bufs = biattentionBuffers(gpu, { A: 3, S: 2, Ta: 2, Tm: 2, C: 4 });
  assertThrows(() => writeBiAttentionIndex(bufs, [2, 2]), GpuError, "4 actions in 2 states");
});
