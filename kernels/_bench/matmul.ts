/**
 * Benchmark cases of the matmul family at BERT-base shapes: the three GEMMs of a layer with
 * N = 512 token rows (M,K,N) = (512,768,768), (512,768,3072), (512,3072,768), each as A·B, A·Bᵀ
 * and Aᵀ·B (plus A·Bᵀ of the first through the `register` kernel, for comparison); Linear forward
 * and backward 768 → 3072; and the copy kernel over 16M floats, the memory-bandwidth reference
 * memory-bound cases are compared with.
 *
 * CPU references of the big GEMMs run on a slice of the rows and report `cpuFraction` so the
 * harness scales their time (a full 512×768×3072 product takes seconds in TypeScript).
 *
 * @module
 */

import type { Gpu } from "../device.ts";
import { copyForward } from "../copy.ts";
import { copyCpu } from "../cpu/copy.ts";
import { linearBackward, linearForward, type MatmulKernel, matmulWith } from "../matmul.ts";
import { linearBackwardCpu, linearForwardCpu, matmulCpu } from "../cpu/matmul.ts";
import { type Tensor, tensor } from "../tensor.ts";
import { values } from "./values.ts";
import type { BenchCase, BenchInstance } from "./types.ts";

/** A {@linkcode BenchInstance} whose `cpu()` does only `cpuFraction` of the work. */
export interface ScaledBenchInstance extends BenchInstance {
  /** Fraction of the case's work one `cpu()` call does; the harness divides its time by it. */
  cpuFraction?: number;
}

/** Rows of the CPU slice: at most 64, so one CPU run stays well under a second. */
const CPU_ROWS = 64;

const FORMS = [
  { label: "A·B", transA: false, transB: false },
  { label: "A·Bᵀ", transA: false, transB: true },
  { label: "Aᵀ·B", transA: true, transB: false },
];

function matmulCase(
  m: number,
  k: number,
  n: number,
  form: (typeof FORMS)[number],
  kernel: MatmulKernel = "auto",
): BenchCase {
  return {
    op: kernel === "auto" ? "matmul" : `matmul(${kernel})`,
    shape: `${m}x${k}x${n} ${form.label}`,
    flops: 2 * m * k * n,
    setup(gpu: Gpu): ScaledBenchInstance {
      const ad = values(m * k, 1), bd = values(k * n, 2);
      const a = tensor(gpu, form.transA ? [k, m] : [m, k], "a", ad);
      const b = tensor(gpu, form.transB ? [n, k] : [k, n], "b", bd);
      const out = tensor(gpu, [m, n], "out");
      const o = { m, k, n, transA: form.transA, transB: form.transB };
      // The CPU slice: the first CPU_ROWS rows of out (lda keeps Aᵀ's full row stride).
      const rows = Math.min(m, CPU_ROWS);
      const cpuOut = new Float32Array(rows * n);
      const cpuO = { ...o, m: rows, lda: form.transA ? m : k };
      return {
        run: (batch) => matmulWith(batch, kernel, out, a, b, o),
        cpu: () => matmulCpu(cpuOut, ad, bd, cpuO),
        cpuFraction: rows / m,
        destroy: () => [a, b, out].forEach((t) => t.destroy()),
      };
    },
  };
}

function linearCases(rows: number, inF: number, outF: number): BenchCase[] {
  const shape = `${rows}x${inF}→${outF}`;
  const make = (gpu: Gpu) => {
    const xd = values(rows * inF, 3), wd = values(outF * inF, 4), bd = values(outF, 5);
    const dyd = values(rows * outF, 6);
    const ts: Record<string, Tensor> = {
      x: tensor(gpu, [rows, inF], "x", xd),
      w: tensor(gpu, [outF, inF], "w", wd),
      b: tensor(gpu, [outF], "b", bd),
      y: tensor(gpu, [rows, outF], "y"),
      dy: tensor(gpu, [rows, outF], "dy", dyd),
      dx: tensor(gpu, [rows, inF], "dx"),
      dw: tensor(gpu, [outF, inF], "dw"),
      db: tensor(gpu, [outF], "db"),
    };
    const r = Math.min(rows, CPU_ROWS);
    return { xd, wd, bd, dyd, ts, r, destroy: () => Object.values(ts).forEach((t) => t.destroy()) };
  };
  return [
    {
      op: "linearForward",
      shape,
      flops: 2 * rows * inF * outF,
      setup(gpu): ScaledBenchInstance {
        const { xd, wd, bd, ts, r, destroy } = make(gpu);
        const y = new Float32Array(r * outF);
        return {
          run: (batch) => linearForward(batch, ts.y, ts.x, ts.w, ts.b, { rows, inF, outF }),
          cpu: () => linearForwardCpu(y, xd, wd, bd, r, inF, outF),
          cpuFraction: r / rows,
          destroy,
        };
      },
    },
    {
      op: "linearBackward",
      shape,
      flops: 4 * rows * inF * outF + rows * outF,
      setup(gpu): ScaledBenchInstance {
        const { xd, wd, dyd, ts, r, destroy } = make(gpu);
        const dx = new Float32Array(r * inF), dw = new Float32Array(outF * inF);
        const db = new Float32Array(outF);
        return {
          run: (batch) =>
            linearBackward(batch, ts.dx, ts.dw, ts.db, ts.dy, ts.x, ts.w, { rows, inF, outF }),
          // The first r rows of x and dY: every term of the backward scales with rows.
          cpu: () => linearBackwardCpu(dx, dw, db, dyd, xd, wd, r, inF, outF),
          cpuFraction: r / rows,
          destroy,
        };
      },
    },
  ];
}

function copyCase(n: number): BenchCase {
  return {
    op: "copy",
    shape: `${n / (1 << 20)}M f32`,
    bytes: 2 * 4 * n,
    setup(gpu: Gpu): BenchInstance {
      const xd = values(n, 7);
      const x = tensor(gpu, [n], "x", xd), out = tensor(gpu, [n], "out");
      const cpuOut = new Float32Array(n);
      return {
        run: (batch) => copyForward(batch, out, x),
        cpu: () => copyCpu(cpuOut, xd),
        destroy: () => [x, out].forEach((t) => t.destroy()),
      };
    },
  };
}

/** The matmul family's cases, and the copy kernel as the bandwidth reference. */
export const cases: BenchCase[] = [
  copyCase(16 << 20),
  ...[[512, 768, 768], [512, 768, 3072], [512, 3072, 768]].flatMap(([m, k, n]) =>
    FORMS.map((f) => matmulCase(m, k, n, f))
  ),
  // The buffer-reading kernel `auto` picked on CPU rasterisers before the texture kernel.
  matmulCase(512, 768, 768, FORMS[1], "register"),
  ...linearCases(512, 768, 3072),
];
