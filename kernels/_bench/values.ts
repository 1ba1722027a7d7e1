/**
 * Input data of the benchmark cases.
 *
 * @module
 */

/** Seeded uniform values in [-1, 1): cheap to make at tens of millions of elements. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a / 2147483648 - 1;
  }
  return out;
}
