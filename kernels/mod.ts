/**
 * The WebGPU compute core: device and pipeline cache, tensors, and the WGSL kernels (forward and
 * backward) of BERT and WebShop's choice model, each with a CPU reference in `cpu/`.
 *
 * @module
 */

export * from "./device.ts";
export * from "./tensor.ts";
export * from "./copy.ts";
