/**
 * The reference every model benchmark reports against, measured in the same run: one
 * 512×768×768 matmul (a BERT-base projection over a 512-token state), median of five submits
 * after a warm-up.
 *
 * @module
 */

import type { Gpu } from "../kernels/device.ts";
import { matmul } from "../kernels/matmul.ts";
import { tensor } from "../kernels/tensor.ts";

/** Median of a list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Times the reference matmul: milliseconds and GFLOP/s. */
export async function matmulReference(gpu: Gpu): Promise<{ ms: number; gflops: number }> {
  const m = 512, k = 768, n = 768;
  const a = tensor(gpu, [m, k], "bench a", new Float32Array(m * k).fill(0.01));
  const b = tensor(gpu, [k, n], "bench b", new Float32Array(k * n).fill(0.02));
  const out = tensor(gpu, [m, n], "bench out");
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    gpu.run("bench matmul", (bt) => matmul(bt, out, a, b, { m, k, n }));
    await gpu.sync("bench matmul");
    if (i > 0) times.push(performance.now() - t0);
  }
  for (const t of [a, b, out]) t.destroy();
  const ms = median(times);
  return { ms, gflops: (2 * m * k * n) / (ms * 1e6) };
}
