/**
 * A case of the kernel benchmark (`deno task bench:kernels`): one op at one shape. The harness
 * times `run` on the GPU (median of several submits) and `cpu` (the plain TypeScript reference at
 * the same shape) in the same process, and prints GFLOP/s or GB/s and the ratio.
 *
 * @module
 */

import type { Batch, Gpu } from "../device.ts";

/** What a case's setup returns: its launches and the CPU reference at the same shape. */
export interface BenchInstance {
  /** Records one run of the op. */
  run(batch: Batch): void;
  /** Runs the plain TypeScript reference once at the same shape. */
  cpu?(): void;
  /** Frees the case's buffers. */
  destroy?(): void;
}

/** One op at one shape. */
export interface BenchCase {
  /** Op name, e.g. `matmul`. */
  op: string;
  /** Shape and variant, e.g. `512x768x768 A·Bᵀ`. */
  shape: string;
  /** Floating-point operations of one run (for GFLOP/s), when compute-bound. */
  flops?: number;
  /** Bytes read plus written by one run (for GB/s), when memory-bound. */
  bytes?: number;
  /** Allocates inputs and returns the instance. */
  setup(gpu: Gpu): BenchInstance;
}
