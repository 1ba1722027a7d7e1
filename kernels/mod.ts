/**
 * The WebGPU compute core: device and pipeline cache, tensors, and the WGSL kernels (forward and
 * backward) of BERT and WebShop's choice model, plus AdamW. Each kernel has a plain TypeScript
 * reference in `cpu/`, exported from `kernels/cpu/mod.ts`.
 *
 * @module
 */

export * from "./device.ts";
export * from "./tensor.ts";
export * from "../base/random.ts";
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
