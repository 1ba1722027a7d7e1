/**
 * BERT (Hugging Face compatible weights and tokenizer) and WebShop's choice model on the compute
 * core: configs, forward and backward, a float64 CPU reference, safetensors / PyTorch readers,
 * the tokenizer with WebShop's special tokens, a WordPiece builder and atomic checkpoints.
 *
 * @module
 */

export * from "./config.ts";
export * from "./init.ts";
export * from "./bert.ts";
export * from "./choice_model.ts";
export * from "./reference.ts";
export * from "./safetensors.ts";
export * from "./pth.ts";
export * from "./tokenizer.ts";
export * from "./wordpiece.ts";
export * from "./resize.ts";
export * from "./checkpoint.ts";
