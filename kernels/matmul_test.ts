import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { numericGrad, randn } from "../testing/numeric.ts";
import { type Gpu, GpuError } from "./device.ts";
import {
  biasBackward,
  linearBackward,
  linearForward,
  matmul,
  type MatmulKernel,
  type MatmulOptions,
  matmulWith,
} from "./matmul.ts";
import {
  biasBackwardCpu,
  linearBackwardCpu,
  linearForwardCpu,
  matmulCpu,
  type MatmulCpuOptions,
} from "./cpu/matmul.ts";
import { tensor } from "./tensor.ts";

const KERNELS: MatmulKernel[] = ["naive", "register", "texture", "shared"];
const FORMS = [[false, false], [false, true], [true, false], [true, true]] as const;

/** Elements each operand needs for `o` (dense unless strided or batched). */
function extents(o: MatmulOptions): { a: number; b: number; out: number } {
  const { m, k, n } = o;
  const ta = o.transA ?? false, tb = o.transB ?? false;
  const lda = o.lda ?? (ta ? m : k), ldb = o.ldb ?? (tb ? k : n), ldo = o.ldo ?? n;
  const bt = o.batch ?? { outer: 1, inner: 1, a: [0, 0], b: [0, 0], out: [0, 0] };
  const last = (off: [number, number], rows: number, cols: number, ld: number) =>
    (bt.outer - 1) * off[0] + (bt.inner - 1) * off[1] + (rows - 1) * ld + cols;
  return {
    a: last(bt.a, ta ? k : m, ta ? m : k, lda),
    b: last(bt.b, tb ? n : k, tb ? k : n, ldb),
    out: last(bt.out, m, n, ldo),
  };
}

/** Runs `kernel` on random inputs for `o` (plus `withBias`) and compares with matmulCpu. */
async function checkAgainstCpu(
  gpu: Gpu,
  kernel: MatmulKernel,
  o: MatmulOptions,
  withBias: boolean,
  seed: number,
): Promise<void> {
  const ext = extents(o);
  const aData = randn(ext.a, seed), bData = randn(ext.b, seed + 1);
  const outData = randn(ext.out, seed + 2), biasData = randn(o.n, seed + 3);
  const a = tensor(gpu, [ext.a], "a", aData), b = tensor(gpu, [ext.b], "b", bData);
  const out = tensor(gpu, [ext.out], "out", outData);
  const bias = withBias ? tensor(gpu, [o.n], "bias", biasData) : undefined;
  gpu.run("matmul test", (bt) => matmulWith(bt, kernel, out, a, b, { ...o, bias }));
  const expected = Float32Array.from(outData);
  const cpuOpts: MatmulCpuOptions = { ...o, bias: withBias ? biasData : null };
  matmulCpu(expected, aData, bData, cpuOpts);
  const label = `${kernel} ${JSON.stringify({ ...o, bias: withBias })}`;
  assertClose(await out.read(), expected, { atol: 2e-5 * Math.sqrt(o.k) * 4, rtol: 1e-4 }, label);
  for (const t of [a, b, out, bias]) t?.destroy();
}

Deno.test("matmulCpu() matches a hand-computed product in every storage order", () => {
  // A (2,3) = [[1,2,3],[4,5,6]], B (3,2) = [[1,0],[0,1],[2,-1]] → A·B = [[7,-1],[16,-1]]
  const a = Float32Array.of(1, 2, 3, 4, 5, 6), at = Float32Array.of(1, 4, 2, 5, 3, 6);
  const b = Float32Array.of(1, 0, 0, 1, 2, -1), bt = Float32Array.of(1, 0, 2, 0, 1, -1);
  const want = [7, -1, 16, -1];
  for (const [ta, tb] of FORMS) {
    const out = new Float32Array(4);
    matmulCpu(out, ta ? at : a, tb ? bt : b, { m: 2, k: 3, n: 2, transA: ta, transB: tb });
    assertClose(out, want, { atol: 0, rtol: 0 }, `transA=${ta} transB=${tb}`);
  }
  // alpha, bias, accumulate: out = 1 + 2·A·B + bias
  const out = new Float32Array(4).fill(1);
  matmulCpu(out, a, b, {
    m: 2,
    k: 3,
    n: 2,
    alpha: 2,
    bias: Float32Array.of(10, 20),
    accumulate: true,
  });
  assertClose(out, [25, 19, 43, 19], { atol: 0, rtol: 0 }, "alpha/bias/accumulate");
});

Deno.test("matmulCpu() batch offsets address the same matrices as separate calls", () => {
  // (B=2, T=3, H=2, d=4) interleaved heads: scores (B,H,T,T) = Q_bh · K_bhᵀ
  const B = 2, T = 3, H = 2, d = 4;
  const q = randn(B * T * H * d, 1), k = randn(B * T * H * d, 2);
  const out = new Float32Array(B * H * T * T);
  matmulCpu(out, q, k, {
    m: T,
    k: d,
    n: T,
    transB: true,
    lda: H * d,
    ldb: H * d,
    batch: { outer: B, inner: H, a: [T * H * d, d], b: [T * H * d, d], out: [H * T * T, T * T] },
  });
  for (let bb = 0; bb < B; bb++) {
    for (let h = 0; h < H; h++) {
      const qs = new Float32Array(T * d), ks = new Float32Array(T * d);
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < d; j++) {
          qs[t * d + j] = q[bb * T * H * d + t * H * d + h * d + j];
          ks[t * d + j] = k[bb * T * H * d + t * H * d + h * d + j];
        }
      }
      const want = new Float32Array(T * T);
      matmulCpu(want, qs, ks, { m: T, k: d, n: T, transB: true });
      const off = (bb * H + h) * T * T;
      assertClose(out.subarray(off, off + T * T), want, { atol: 1e-6, rtol: 1e-6 }, `b${bb}h${h}`);
    }
  }
});

gpuTest(
  "matmulWith() matches matmulCpu for every kernel, storage order and edge size",
  async (gpu) => {
    // Unaligned sizes hit the scalar, K-masked path; the aligned ones the vec4 path. 130 rows and
    // 260 columns span several texture-kernel panels (32 rows, 128 columns per workgroup).
    const sizes = [
      [1, 1, 1],
      [7, 13, 5],
      [33, 65, 17],
      [130, 70, 90],
      [68, 32, 40],
      [12, 13, 8],
      [36, 9, 260],
    ];
    let seed = 10;
    for (const kernel of KERNELS) {
      for (const [transA, transB] of FORMS) {
        for (const [m, k, n] of sizes) {
          await checkAgainstCpu(gpu, kernel, { m, k, n, transA, transB }, false, seed++);
        }
      }
    }
  },
);

gpuTest("matmulWith() applies bias, alpha, accumulate and row strides", async (gpu) => {
  let seed = 100;
  for (const kernel of KERNELS) {
    for (const [transA, transB] of FORMS) {
      // Odd strides force scalar loads; strides padded by 4 keep vec4 loads.
      const m = 36, k = 20, n = 24;
      const base = { m, k, n, transA, transB, alpha: 0.5, accumulate: true };
      const lda0 = transA ? m : k, ldb0 = transB ? k : n;
      await checkAgainstCpu(
        gpu,
        kernel,
        { ...base, lda: lda0 + 3, ldb: ldb0 + 5, ldo: n + 2 },
        true,
        seed++,
      );
      await checkAgainstCpu(gpu, kernel, { ...base, lda: lda0 + 4, ldb: ldb0 + 8 }, true, seed++);
    }
  }
});

gpuTest("matmulWith() runs strided batches of attention heads", async (gpu) => {
  // Q, K, V as (B, T, H, d) interleaved; scores (B, H, T, T) dense.
  const B = 2, T = 9, H = 3, d = 8;
  const qk: MatmulOptions = {
    m: T,
    k: d,
    n: T,
    transB: true,
    alpha: 1 / Math.sqrt(d),
    lda: H * d,
    ldb: H * d,
    batch: { outer: B, inner: H, a: [T * H * d, d], b: [T * H * d, d], out: [H * T * T, T * T] },
  };
  // P (B,H,T,T) · V (B,T,H,d) → y (B,T,H,d) written back interleaved.
  const pv: MatmulOptions = {
    m: T,
    k: T,
    n: d,
    ldb: H * d,
    ldo: H * d,
    batch: { outer: B, inner: H, a: [H * T * T, T * T], b: [T * H * d, d], out: [T * H * d, d] },
  };
  let seed = 200;
  for (const kernel of KERNELS) {
    await checkAgainstCpu(gpu, kernel, qk, false, seed++);
    await checkAgainstCpu(gpu, kernel, pv, false, seed++);
    await checkAgainstCpu(gpu, kernel, { ...pv, transA: true, accumulate: true }, false, seed++);
  }
});

gpuTest("matmulWith(texture) keeps each product's operands within one batch", async (gpu) => {
  // Three products in one pass share the pooled operand textures (same shapes, then a chain whose
  // second product reads the first's output): each pack must run after the previous product.
  const m = 20, k = 36, n = 28;
  const a1 = randn(m * k, 1), b1 = randn(k * n, 2), a2 = randn(m * k, 3), b2 = randn(n * k, 4);
  const b3 = randn(n * 12, 5);
  const ta1 = tensor(gpu, [m, k], "a1", a1), tb1 = tensor(gpu, [k, n], "b1", b1);
  const ta2 = tensor(gpu, [m, k], "a2", a2), tb2 = tensor(gpu, [n, k], "b2", b2);
  const tb3 = tensor(gpu, [n, 12], "b3", b3);
  const o1 = tensor(gpu, [m, n], "o1"), o2 = tensor(gpu, [m, n], "o2");
  const o3 = tensor(gpu, [m, 12], "o3");
  gpu.run("texture reuse", (bt) => {
    matmulWith(bt, "texture", o1, ta1, tb1, { m, k, n });
    matmulWith(bt, "texture", o2, ta2, tb2, { m, k, n, transB: true });
    matmulWith(bt, "texture", o3, o1, tb3, { m, k: n, n: 12 });
  });
  const e1 = new Float32Array(m * n), e2 = new Float32Array(m * n), e3 = new Float32Array(m * 12);
  matmulCpu(e1, a1, b1, { m, k, n });
  matmulCpu(e2, a2, b2, { m, k, n, transB: true });
  matmulCpu(e3, e1, b3, { m, k: n, n: 12 });
  const tol = { atol: 1e-4, rtol: 1e-4 };
  assertClose(await o1.read(), e1, tol, "first product");
  assertClose(await o2.read(), e2, tol, "second product, same texture shapes");
  assertClose(await o3.read(), e3, tol, "third product, reading the first's output");
  for (const t of [ta1, tb1, ta2, tb2, tb3, o1, o2, o3]) t.destroy();
});

gpuTest("linearForward() and linearBackward() match the CPU reference", async (gpu) => {
  for (const [rows, inF, outF] of [[5, 7, 3], [40, 32, 48]]) {
    const xd = randn(rows * inF, 1), wd = randn(outF * inF, 2), bd = randn(outF, 3);
    const dyd = randn(rows * outF, 4), dw0 = randn(outF * inF, 5), db0 = randn(outF, 6);
    const x = tensor(gpu, [rows, inF], "x", xd), w = tensor(gpu, [outF, inF], "w", wd);
    const b = tensor(gpu, [outF], "b", bd), y = tensor(gpu, [rows, outF], "y");
    const dy = tensor(gpu, [rows, outF], "dy", dyd), dx = tensor(gpu, [rows, inF], "dx");
    const dw = tensor(gpu, [outF, inF], "dw", dw0), db = tensor(gpu, [outF], "db", db0);
    gpu.run("linear", (bt) => {
      linearForward(bt, y, x, w, b, { rows, inF, outF });
      linearBackward(bt, dx, dw, db, dy, x, w, { rows, inF, outF });
    });
    const ye = new Float32Array(rows * outF), dxe = new Float32Array(rows * inF);
    const dwe = Float32Array.from(dw0), dbe = Float32Array.from(db0);
    linearForwardCpu(ye, xd, wd, bd, rows, inF, outF);
    linearBackwardCpu(dxe, dwe, dbe, dyd, xd, wd, rows, inF, outF);
    const tol = { atol: 1e-4, rtol: 1e-4 };
    const at = `${rows}x${inF}x${outF}`;
    assertClose(await y.read(), ye, tol, `y ${at}`);
    assertClose(await dx.read(), dxe, tol, `dX ${at}`);
    assertClose(await dw.read(), dwe, tol, `dW ${at}`);
    assertClose(await db.read(), dbe, tol, `dBias ${at}`);
  }
});

gpuTest("biasBackward() accumulates column sums for any width", async (gpu) => {
  for (const [rows, n] of [[1, 1], [37, 6], [300, 64]]) {
    const d = randn(rows * n, rows), b0 = randn(n, n);
    const dOut = tensor(gpu, [rows, n], "dOut", d), dBias = tensor(gpu, [n], "dBias", b0);
    gpu.run("bias backward", (bt) => biasBackward(bt, dBias, dOut, rows, n));
    const want = Float32Array.from(b0);
    biasBackwardCpu(want, d, rows, n);
    assertClose(await dBias.read(), want, { atol: 1e-4, rtol: 1e-5 }, `rows=${rows} n=${n}`);
  }
});

gpuTest("linearBackward() matches float64 central differences", async (gpu) => {
  const rows = 3, inF = 4, outF = 5;
  const x = Float64Array.from(randn(rows * inF, 7)), w = Float64Array.from(randn(outF * inF, 8));
  const bias = Float64Array.from(randn(outF, 9)), g = randn(rows * outF, 10);
  // loss = Σ y ⊙ g with y = x·wᵀ + bias, so dY = g.
  const loss = () => {
    let s = 0;
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outF; o++) {
        let y = bias[o];
        for (let i = 0; i < inF; i++) y += x[r * inF + i] * w[o * inF + i];
        s += y * g[r * outF + o];
      }
    }
    return s;
  };
  const nx = numericGrad(loss, x), nw = numericGrad(loss, w), nb = numericGrad(loss, bias);
  const xt = tensor(gpu, [rows, inF], "x", x), wt = tensor(gpu, [outF, inF], "w", w);
  const dy = tensor(gpu, [rows, outF], "dy", g), dx = tensor(gpu, [rows, inF], "dx");
  const dw = tensor(gpu, [outF, inF], "dw"), db = tensor(gpu, [outF], "db");
  gpu.run("linear grad", (bt) => linearBackward(bt, dx, dw, db, dy, xt, wt, { rows, inF, outF }));
  const tol = { atol: 1e-4, rtol: 1e-4 };
  assertClose(await dx.read(), nx, tol, "dX vs central differences");
  assertClose(await dw.read(), nw, tol, "dW vs central differences");
  assertClose(await db.read(), nb, tol, "dBias vs central differences");
});

gpuTest("matmul() rejects bad shapes before any dispatch", (gpu) => {
  const a = tensor(gpu, [4, 6], "a"),
    b = tensor(gpu, [6, 5], "b"),
    out = tensor(gpu, [4, 5], "out");
  const bt = gpu.batch("bad shapes");
  const o = { m: 4, k: 6, n: 5 };
  assertThrows(() => matmul(bt, out, a, b, { ...o, k: 7 }), GpuError, "matmul: a 'a' [4, 6]");
  assertThrows(() => matmul(bt, out, a, b, { ...o, n: 6 }), GpuError, "(M,K,N)=(4,6,6) needs 36");
  assertThrows(() => matmul(bt, out, a, b, { ...o, transB: true, ldb: 7 }), GpuError, "needs 34");
  assertThrows(() => matmul(bt, out, a, b, { ...o, lda: 5 }), GpuError, "lda must be");
  assertThrows(() => matmul(bt, out, a, b, { ...o, m: 0 }), GpuError, "m must be");
  assertThrows(() => matmul(bt, a, a, b, o), GpuError, "shares its buffer");
  assertThrows(
    () => matmul(bt, out, a, b, { ...o, bias: tensor(gpu, [4], "bias") }),
    GpuError,
    "bias 'bias' [4] holds 4 elements, needs 5",
  );
  assertThrows(
    () =>
      matmul(bt, out, a, b, {
        ...o,
        batch: { outer: 2, inner: 1, a: [0, 0], b: [0, 0], out: [20, 0] },
      }),
    GpuError,
    "out 'out' [4, 5] holds 20 elements, (M,K,N)=(4,6,5) batch 2x1 needs 40",
  );
  const dW = tensor(gpu, [5, 6], "dW"), dY = tensor(gpu, [4, 5], "dY");
  assertThrows(
    () =>
      linearBackward(bt, null, dW, tensor(gpu, [3], "dBias"), dY, a, b, {
        rows: 4,
        inF: 6,
        outF: 5,
      }),
    GpuError,
    "linearBackward dBias: dBias 'dBias' [3] holds 3 elements, needs 5",
  );
  assertThrows(() => biasBackward(bt, dW, dY, 5, 5), GpuError, "dOut 'dY' [4, 5]");
  if (bt.dispatches !== 0) throw new Error(`${bt.dispatches} dispatches were recorded`);
  bt.submit();
});
