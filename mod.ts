/**
 * webshop-rl: train and evaluate reinforcement-learning shopping agents (WebShop) on a WebGPU
 * compute core written in WGSL, run by Deno.
 *
 * @module
 */

export * from "./kernels/mod.ts";
