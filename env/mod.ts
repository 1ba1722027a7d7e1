/**
 * The WebShop environment (Yao et al., 2022) in TypeScript: loaders for the real data formats
 * with WebShop's cleaning rules, goals and splits, BM25 search, the page state machine with
 * `text_rich` / `text` observations, actions, WebShop's exact reward, the seeded synthetic
 * catalog (the zero-download default), the scripted expert and il_trajs demonstrations.
 *
 * @module
 */

export * from "./types.ts";
export * from "./loaders.ts";
export * from "./goals.ts";
export * from "./normalize.ts";
export * from "./fuzz.ts";
export * from "./reward.ts";
export * from "./search.ts";
export * from "./pages.ts";
export * from "./actions.ts";
export * from "./webshop_env.ts";
export * from "./policies.ts";
export * from "./catalog.ts";
export * from "./synthetic.ts";
export * from "./expert.ts";
export * from "./demos.ts";
// The Python helpers that were public before they moved to the private _python.ts.
export {
  pyDictRepr,
  pyFloatStr,
  pyJsonDumps,
  pyJsonString,
  PyRandom,
  pyStr,
  pyStrip,
  pyStrPair,
} from "./_python.ts";
