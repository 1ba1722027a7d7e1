/**
 * The data an evaluation needs: the catalog with its goals and search index (by default the
 * embedded default the trainers use, the cached synthetic catalog of `MAIN_DATA`) and, when a
 * checkpoint is evaluated, the tokenizer it was trained with (the same cached vocabulary).
 *
 * @module
 */

import type { LoadedCatalog } from "../env/catalog.ts";
import type { SearchEngine } from "../env/search.ts";
import type { WebShopEnvConfig } from "../env/webshop_env.ts";
import type { BertTokenizer } from "../model/tokenizer.ts";
import { type DataConfig, prepareCatalog, prepareTokenizer } from "../train/data.ts";
import { MAIN_DATA } from "../train/defaults.ts";

/** The data fields an evaluation reads (the trainers' `DataConfig` without demonstrations). */
export type EvalDataConfig = Pick<
  DataConfig,
  "catalog" | "products" | "catalogSeed" | "tokenizer" | "vocabSize" | "rewardMode" | "cacheDir"
>;

/** The trainers' embedded default: what `train:dpo` with no flags trains on. */
export const EVAL_DATA: EvalDataConfig = {
  catalog: MAIN_DATA.catalog,
  products: MAIN_DATA.products,
  catalogSeed: MAIN_DATA.catalogSeed,
  tokenizer: MAIN_DATA.tokenizer,
  vocabSize: MAIN_DATA.vocabSize,
  rewardMode: MAIN_DATA.rewardMode,
  cacheDir: MAIN_DATA.cacheDir,
};

/** The data, loaded. */
export interface EvalData {
  config: EvalDataConfig;
  catalog: LoadedCatalog;
  engine: SearchEngine;
  catalogDir: string;
  /** Null when no checkpoint needs one. */
  tokenizer: BertTokenizer | null;
  tokenizerPath: string | null;
}

/** Makes (when absent) and loads the catalog, and the tokenizer when `tokenizer` is asked for. */
export async function loadEvalData(
  cfg: EvalDataConfig,
  opts: { tokenizer: boolean; say?: (line: string) => void },
): Promise<EvalData> {
  const say = opts.say ?? console.log;
  const { catalog, engine, catalogDir } = await prepareCatalog(cfg, say);
  const tok = opts.tokenizer ? await prepareTokenizer(cfg, catalog, catalogDir, say) : null;
  return {
    config: cfg,
    catalog,
    engine,
    catalogDir,
    tokenizer: tok?.tokenizer ?? null,
    tokenizerPath: tok?.tokenizerPath ?? null,
  };
}

/** The env settings every evaluation episode uses (WebShop's step limit unless given). */
export function evalEnvConfig(
  data: EvalData,
  stepLimit = 100,
): Omit<WebShopEnvConfig, "catalog" | "split" | "seed"> & { catalog: SearchEngine } {
  return {
    catalog: data.engine,
    goals: data.catalog.goals,
    rewardMode: data.config.rewardMode,
    goalQueryMap: data.catalog.goalQueryMap,
    stepLimit,
  };
}
