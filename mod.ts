/**
 * webshop-rl: train and evaluate reinforcement-learning shopping agents (WebShop) on a WebGPU
 * compute core written in WGSL, run by Deno.
 *
 * - `kernels/`: the compute core (device, tensors, WGSL kernels forward and backward, AdamW);
 * - `model/`: BERT and WebShop's choice model, weights, tokenizer, checkpoints;
 * - `env/`: the WebShop environment, its exact reward and the synthetic catalog;
 * - `base/`: layer-free pieces every layer uses (the atomic writer, the seeded generator).
 *
 * @module
 */

export * from "./kernels/mod.ts";
export * from "./model/mod.ts";
export * from "./env/mod.ts";
