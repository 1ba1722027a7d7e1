/**
 * A catalog ready for the env: products, goals and splits, opened by name from the synthetic
 * generator or from a WebShop data folder.
 *
 * @module
 */

import type { GoalSplits } from "./goals.ts";
import { type Catalog, type CatalogDir, loadCatalogFromDir } from "./loaders.ts";
import { loadSyntheticCatalog, type SyntheticCatalogOptions } from "./synthetic.ts";
import type { Goal, RawGoalQueryMap } from "./types.ts";

/** A cleaned catalog with goals, from the synthetic generator or a WebShop data folder. */
export interface LoadedCatalog extends Catalog {
  goals: Goal[];
  goalKind: "human" | "synthetic";
  splits: GoalSplits;
  /** `human_goals.json` order (the split order), when known. */
  humanGoals?: string[];
  goalQueryMap?: RawGoalQueryMap;
  /** Where it came from: "synthetic" or the folder. */
  source: string;
}

/** Options of {@linkcode loadSyntheticCatalog} and {@linkcode openCatalog}. */
export interface OpenCatalogOptions extends SyntheticCatalogOptions {
  /** Which goals to build (default "human"; a folder without human instructions: synthetic). */
  goals?: "human" | "synthetic";
  /** Seed of price draws and price bounds in cleaning and goal building (default 233). */
  loadSeed?: number;
  /** A data folder: fail on the first invalid record (file, record, field) instead of counting. */
  strict?: boolean;
}

/**
 * Opens a catalog by name: "synthetic" generates one in memory (see `loadSyntheticCatalog`),
 * anything else is a WebShop data folder read with `loadCatalogFromDir`.
 */
export async function openCatalog(
  source: string,
  opts: OpenCatalogOptions = {},
): Promise<LoadedCatalog> {
  if (source === "synthetic") {
    const { raw: _raw, ...rest } = loadSyntheticCatalog(opts);
    return rest;
  }
  const dir: CatalogDir = await loadCatalogFromDir(source, {
    seed: opts.loadSeed,
    goals: opts.goals ?? "auto",
    strict: opts.strict,
  });
  if (!dir.goals || !dir.goalKind || !dir.splits) {
    throw new Error(
      `openCatalog: ${source} has no goals (needs items_human_ins.json, or instructions in ` +
        `items_ins_v2*.json)`,
    );
  }
  return {
    products: dir.products,
    byAsin: dir.byAsin,
    stats: dir.stats,
    goals: dir.goals,
    goalKind: dir.goalKind,
    splits: dir.splits,
    humanGoals: dir.humanGoals,
    goalQueryMap: dir.goalQueryMap,
    source,
  };
}
