/**
 * Plain TypeScript references of every kernel, the ground truth the GPU kernels are tested
 * against.
 *
 * @module
 */

export * from "./types.ts";
export * from "./copy.ts";
export * from "./matmul.ts";
export * from "./embedding.ts";
export * from "./layernorm.ts";
export * from "./activation.ts";
export * from "./softmax.ts";
export * from "./attention.ts";
export * from "./dropout.ts";
export * from "./residual.ts";
export * from "./segment.ts";
export * from "./reduce.ts";
export * from "./adamw.ts";
export * from "./biattention.ts";
