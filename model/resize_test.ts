import { assertThrows } from "../testing/assert.ts";
import assert from "node:assert/strict";
import { normalInit } from "./init.ts";
import {
  cholesky,
  MEAN_RESIZE_EPSILON,
  resizeTokenEmbeddings,
  rowMeanCovariance,
} from "./resize.ts";

Deno.test("cholesky() factors a hand-computed matrix and rejects an indefinite one", () => {
  // [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]]
  const l = cholesky(Float64Array.from([4, 2, 2, 3]), 2)!;
  assert.deepEqual([...l].map((x) => +x.toFixed(12)), [2, 0, 1, +Math.SQRT2.toFixed(12)]);
  assert.equal(cholesky(Float64Array.from([1, 2, 2, 1]), 2), null);
  assert.equal(cholesky(Float64Array.from([1, 1, 1, 1]), 2), null); // singular
});

Deno.test("rowMeanCovariance() matches a hand computation", () => {
  // Rows (1, 2), (3, 6): mean (2, 4); centred (-1, -2), (1, 2); cov = [[1, 2], [2, 4]].
  const { mean, cov } = rowMeanCovariance(Float32Array.from([1, 2, 3, 6]), 2, 2);
  assert.deepEqual([...mean], [2, 4]);
  assert.deepEqual([...cov], [1, 2, 2, 4]);
});

Deno.test("resizeTokenEmbeddings() copies old rows and shrinks by truncation", () => {
  const w = { shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  const s = resizeTokenEmbeddings(w, 2);
  assert.deepEqual(s, { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) });
  const g = resizeTokenEmbeddings(w, 5, { init: "normal", std: 0.02, seed: 3 });
  assert.deepEqual([...g.data.subarray(0, 6)], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(g.data.subarray(6), normalInit(4, 0.02, 3));
  assertThrows(() => resizeTokenEmbeddings({ shape: [6], data: w.data }, 8), RangeError, "(V, C)");
  assertThrows(() => resizeTokenEmbeddings(w, 0), RangeError, "newRows");
});

Deno.test("resizeTokenEmbeddings() mean init: new rows are the mean when the covariance is singular", () => {
  // Two rows in 3-D: rank-1 covariance, not positive definite -> Hugging Face uses the mean.
  const w = { shape: [2, 3], data: Float32Array.from([1, 0, 2, 3, 4, -2]) };
  const r = resizeTokenEmbeddings(w, 4);
  assert.deepEqual([...r.data.subarray(6)], [2, 2, 0, 2, 2, 0]);
});

Deno.test("resizeTokenEmbeddings() mean init samples N(mean, 1e-9·cov) (empirical moments)", () => {
  const V = 400, C = 3, added = 6000;
  // Correlated old rows: x = A z + m with a fixed A, so cov has off-diagonal terms.
  const z = normalInit(V * C, 1, 11);
  const A = [2, 0, 0, 1, 1, 0, -1, 0.5, 0.3];
  const m = [5, -3, 0.5];
  const data = new Float32Array(V * C);
  for (let r = 0; r < V; r++) {
    for (let i = 0; i < C; i++) {
      let s = m[i];
      for (let k = 0; k < C; k++) s += A[i * C + k] * z[r * C + k];
      data[r * C + i] = s;
    }
  }
  const { mean, cov } = rowMeanCovariance(data, V, C);
  const out = resizeTokenEmbeddings({ shape: [V, C], data }, V + added, { seed: 5 });
  assert.deepEqual(out.data.subarray(0, V * C), data);
  const fresh = out.data.subarray(V * C);
  // The new rows sit within float32 rounding of the mean: the spread (√1e-9·σ ≈ 6e-5) is tiny,
  // so measure moments on (x - mean) in float64 from the float32 values.
  const emp = rowMeanCovariance(
    Float32Array.from(fresh, (x, i) => (x - mean[i % C]) / Math.sqrt(MEAN_RESIZE_EPSILON)),
    added,
    C,
  );
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) {
      const want = cov[i * C + j], got = emp.cov[i * C + j];
      const scale = Math.sqrt(cov[i * C + i] * cov[j * C + j]);
      // float32 storage of values near |mean| ≤ 5 quantises by ~5e-7 ≈ 0.016σ·√1e-9 units.
      assert.ok(Math.abs(got - want) < 0.08 * scale, `cov[${i},${j}] ${got} vs ${want}`);
    }
    assert.ok(Math.abs(emp.mean[i]) < 0.1 * Math.sqrt(cov[i * C + i]), `mean[${i}]`);
  }
});

Deno.test("resizeTokenEmbeddings() cheap rank test agrees with the exact one", () => {
  const V = 50, C = 4;
  const data = normalInit(V * C, 1, 2);
  const exact = resizeTokenEmbeddings({ shape: [V, C], data }, V + 2, { seed: 1 });
  const cheap = resizeTokenEmbeddings({ shape: [V, C], data }, V + 2, {
    seed: 1,
    exactCheckLimit: 0,
  });
  // Same draw (z), same mean: only float64 summation order differs.
  for (let i = V * C; i < (V + 2) * C; i++) {
    assert.ok(Math.abs(exact.data[i] - cheap.data[i]) < 1e-7);
  }
  assert.notDeepEqual([...cheap.data.subarray(V * C, V * C + C)], [
    ...cheap.data.subarray(V * C + C),
  ]);
  // A constant column makes Σ singular: both paths fall back to the mean.
  const flat = Float32Array.from(data, (v, i) => (i % C === 2 ? 0.5 : v));
  for (const exactCheckLimit of [0, Infinity]) {
    const r = resizeTokenEmbeddings({ shape: [V, C], data: flat }, V + 1, { exactCheckLimit });
    const mean = rowMeanCovariance(flat, V, C).mean;
    assert.deepEqual([...r.data.subarray(V * C)], [...mean].map(Math.fround));
  }
});
