/**
 * CPU references of the matmul family (see ../matmul.ts for the math and the layouts). Plain
 * loops in float32 storage with float64 sums; the benchmark times them against the GPU kernels.
 *
 * @module
 */

import type { MatmulOptions } from "../matmul.ts";

/** {@linkcode MatmulOptions} for {@linkcode matmulCpu}: the bias is a Float32Array. */
export type MatmulCpuOptions = Omit<MatmulOptions, "bias"> & { bias?: Float32Array | null };

/**
 * out = alpha * op(A)·op(B) (+ bias), or out += that with `accumulate`; the same options, strides
 * and batching as {@linkcode matmul}. op(A) is (M,K), op(B) is (K,N), out rows have stride ldo.
 */
export function matmulCpu(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  o: MatmulCpuOptions,
): void {
  const { m, k, n } = o;
  const transA = o.transA ?? false, transB = o.transB ?? false;
  const lda = o.lda ?? (transA ? m : k), ldb = o.ldb ?? (transB ? k : n), ldo = o.ldo ?? n;
  const alpha = o.alpha ?? 1;
  const bt = o.batch ?? { outer: 1, inner: 1, a: [0, 0], b: [0, 0], out: [0, 0] };
  const row = new Float64Array(n);
  for (let z = 0; z < bt.outer * bt.inner; z++) {
    const zo = Math.floor(z / bt.inner), zi = z % bt.inner;
    const aOff = zo * bt.a[0] + zi * bt.a[1];
    const bOff = zo * bt.b[0] + zi * bt.b[1];
    const oOff = zo * bt.out[0] + zi * bt.out[1];
    for (let i = 0; i < m; i++) {
      row.fill(0);
      if (!transB) {
        // i-k-j order: the inner loop walks a row of B contiguously.
        for (let kk = 0; kk < k; kk++) {
          const av = transA ? a[aOff + kk * lda + i] : a[aOff + i * lda + kk];
          if (av === 0) continue;
          const br = bOff + kk * ldb;
          for (let j = 0; j < n; j++) row[j] += av * b[br + j];
        }
      } else {
        // B stored (N,K): each output is a dot product of two contiguous rows.
        for (let j = 0; j < n; j++) {
          const br = bOff + j * ldb;
          let s = 0;
          if (transA) { for (let kk = 0; kk < k; kk++) s += a[aOff + kk * lda + i] * b[br + kk]; }
          else {
            const ar = aOff + i * lda;
            for (let kk = 0; kk < k; kk++) s += a[ar + kk] * b[br + kk];
          }
          row[j] = s;
        }
      }
      const or = oOff + i * ldo;
      for (let j = 0; j < n; j++) {
        const v = alpha * row[j] + (o.bias ? o.bias[j] : 0);
        out[or + j] = o.accumulate ? out[or + j] + v : v;
      }
    }
  }
}

/** y (rows,outF) = x (rows,inF) · wᵀ + bias, with w stored (outF,inF) as in PyTorch. */
export function linearForwardCpu(
  y: Float32Array,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  rows: number,
  inF: number,
  outF: number,
): void {
  matmulCpu(y, x, w, { m: rows, k: inF, n: outF, transB: true, bias });
}

/** dX = dY·W (assigned); dW += dYᵀ·X; dBias += column sums of dY. dX or dBias may be null. */
export function linearBackwardCpu(
  dX: Float32Array | null,
  dW: Float32Array,
  dBias: Float32Array | null,
  dY: Float32Array,
  x: Float32Array,
  w: Float32Array,
  rows: number,
  inF: number,
  outF: number,
): void {
  if (dX) matmulCpu(dX, dY, w, { m: rows, k: outF, n: inF });
  matmulCpu(dW, dY, x, { m: outF, k: rows, n: inF, transA: true, accumulate: true });
  if (dBias) biasBackwardCpu(dBias, dY, rows, outF);
}

/** dBias (n) += sum over rows of dOut (rows,n). */
export function biasBackwardCpu(
  dBias: Float32Array,
  dOut: Float32Array,
  rows: number,
  n: number,
): void {
  const s = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) s[j] += dOut[r * n + j];
  }
  for (let j = 0; j < n; j++) dBias[j] += s[j];
}
