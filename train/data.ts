/**
 * The data a trainer needs, made or found: a catalog with goals (the seeded synthetic catalog,
 * written under `runs/cache/` in WebShop's file formats when absent, or a WebShop data folder), a
 * tokenizer (a WordPiece vocabulary learned from the catalog's text, cached, or a Hugging Face
 * `tokenizer.json` / BERT folder), and demonstrations (scripted expert episodes on training
 * goals, cached as il_trajs jsonl, or a user's il_trajs file).
 *
 * @module
 */

import { generateDemonstrations, loadDemonstrations, writeDemonstrations } from "../env/demos.ts";
import { EXPERT_ACCEPTS, type ExpertAccept, ExpertPolicy } from "../env/expert.ts";
import type { RewardMode } from "../env/reward.ts";
import { SearchEngine } from "../env/search.ts";
import { type LoadedCatalog, openCatalog } from "../env/catalog.ts";
import { generateSyntheticCatalog, writeSyntheticCatalog } from "../env/synthetic.ts";
import type { RawIlTrajectory } from "../env/types.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import { BertTokenizer } from "../model/tokenizer.ts";
import { buildWordPiece } from "../model/wordpiece.ts";
import { writeAtomically } from "../base/atomic.ts";

/** Where the data comes from. */
export interface DataConfig {
  /** "synthetic" (default) or a WebShop data folder. */
  catalog: string;
  /** Synthetic catalog size (products, lookalikes included). */
  products: number;
  /** Seed of the synthetic catalog. */
  catalogSeed: number;
  /** An il_trajs jsonl file, or "expert" for scripted demonstrations on training goals. */
  demos: string;
  /** Scripted demonstrations to make on training goals (the first ones of the split). */
  numDemos: number;
  /** Scripted demonstrations on eval goals, for held-out action accuracy. */
  evalDemos: number;
  /**
   * What the scripted expert buys (`demos: "expert"`): "target", the goal's own product
   * (default), or "fit", the first product on a results page that earns reward 1.
   */
  expertAccept?: ExpertAccept;
  /**
   * Share of the scripted expert's episodes with a detour, as human demonstrators take them (a
   * vague first search, a look at a lookalike and back, Description / Features views, a trip to
   * the next page): 0.5 by default, 0 for direct demonstrations.
   */
  expertImperfectRate?: number;
  /** A tokenizer.json or BERT folder, or "wordpiece" to learn one from the catalog. */
  tokenizer: string;
  /** Size of a learned WordPiece vocabulary (before WebShop's four tokens). */
  vocabSize: number;
  /** Reward variant of the env (and of recorded demonstrations). */
  rewardMode: RewardMode;
  /** Folder of cached synthetic data. */
  cacheDir: string;
}

/** The data, loaded. */
export interface TrainData {
  catalog: LoadedCatalog;
  engine: SearchEngine;
  tokenizer: BertTokenizer;
  tokenizerPath: string;
  demos: RawIlTrajectory[];
  demosPath: string;
  /** Lines of the demonstrations file that could not be used. */
  badDemoLines: number;
  /** Catalog folder actually read. */
  catalogDir: string;
}

/** Text of the catalog a vocabulary is learned from: titles, features, options, instructions. */
function* catalogText(c: LoadedCatalog): Iterable<string> {
  for (const p of c.products) {
    yield p.Title;
    for (const f of p.BulletPoints ?? []) yield f;
    if (p.Description) yield p.Description;
    for (const [k, vs] of Object.entries(p.options ?? {})) yield `${k} ${vs.join(" ")}`;
    if (p.category) yield p.category;
  }
  for (const g of c.goals) yield g.instruction_text;
  // Page furniture the observations always show.
  yield "instruction: back to search next > < prev description features reviews buy now " +
    "page total results price rating n.a. you have clicked webshop search";
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The catalog and its search index, made (the synthetic one, cached) or read from a folder. */
export async function prepareCatalog(
  cfg: Pick<DataConfig, "catalog" | "products" | "catalogSeed" | "cacheDir">,
  say: (line: string) => void = console.log,
): Promise<{ catalog: LoadedCatalog; engine: SearchEngine; catalogDir: string }> {
  let catalogDir = cfg.catalog;
  if (cfg.catalog === "synthetic") {
    catalogDir = `${cfg.cacheDir}/synthetic-p${cfg.products}-s${cfg.catalogSeed}`;
    if (!(await exists(`${catalogDir}/human_goals.json`))) {
      const t0 = performance.now();
      const raw = generateSyntheticCatalog({ numProducts: cfg.products, seed: cfg.catalogSeed });
      await writeSyntheticCatalog(catalogDir, raw);
      say(
        `data: wrote the synthetic catalog (${raw.products.length} products, ` +
          `${raw.humanGoals.length} goals) to ${catalogDir} in ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
  }
  const catalog = await openCatalog(catalogDir);
  return { catalog, engine: new SearchEngine(catalog.products), catalogDir };
}

/** The tokenizer: a WordPiece vocabulary learned from the catalog (cached), or a file/folder. */
export async function prepareTokenizer(
  cfg: Pick<DataConfig, "catalog" | "tokenizer" | "vocabSize" | "cacheDir">,
  catalog: LoadedCatalog,
  catalogDir: string,
  say: (line: string) => void = console.log,
): Promise<{ tokenizer: BertTokenizer; tokenizerPath: string }> {
  let tokenizerPath = cfg.tokenizer;
  if (cfg.tokenizer === "wordpiece") {
    const base = cfg.catalog === "synthetic" ? catalogDir : cfg.cacheDir;
    tokenizerPath = `${base}/tokenizer-wordpiece-${cfg.vocabSize}.json`;
    if (!(await exists(tokenizerPath))) {
      const t0 = performance.now();
      const json = buildWordPiece(catalogText(catalog), { vocabSize: cfg.vocabSize });
      await Deno.mkdir(base, { recursive: true });
      await writeAtomically(tokenizerPath, [JSON.stringify(json)]);
      say(
        `data: learned a ${cfg.vocabSize}-piece WordPiece vocabulary from the catalog in ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s (${tokenizerPath})`,
      );
    }
  }
  return { tokenizer: await BertTokenizer.load(tokenizerPath), tokenizerPath };
}

/** Makes (when absent) and loads everything a trainer needs. `say` reports what it built. */
export async function prepareData(
  cfg: DataConfig,
  say: (line: string) => void = console.log,
): Promise<TrainData> {
  const { catalog, engine, catalogDir } = await prepareCatalog(cfg, say);
  const { tokenizer, tokenizerPath } = await prepareTokenizer(cfg, catalog, catalogDir, say);

  let demosPath = cfg.demos;
  if (cfg.demos === "expert") {
    const accept = cfg.expertAccept ?? "target";
    if (!EXPERT_ACCEPTS.includes(accept)) {
      throw new Error(`data: expertAccept must be ${EXPERT_ACCEPTS.join(" or ")}, got "${accept}"`);
    }
    const imperfect = cfg.expertImperfectRate ?? 0.5;
    if (!(imperfect >= 0 && imperfect <= 1)) {
      throw new Error(`data: expertImperfectRate must be in [0, 1], got ${imperfect}`);
    }
    // The default expert's files keep their first names, so existing caches stay valid.
    const tag = (accept === "fit" ? "-fit" : "") + (imperfect === 0.5 ? "" : `-i${imperfect}`);
    demosPath =
      `${catalogDir}/il_trajs_expert${tag}-${cfg.numDemos}-${cfg.evalDemos}-${cfg.rewardMode}.jsonl`;
    if (cfg.catalog !== "synthetic") demosPath = `${cfg.cacheDir}/il_trajs_expert${tag}.jsonl`;
    if (!(await exists(demosPath))) {
      const t0 = performance.now();
      const env = new WebShopEnv({
        catalog: engine,
        goals: catalog.goals,
        rewardMode: cfg.rewardMode,
      });
      const train = goalIndicesForSplit(catalog.goals.length, "train");
      const evalGoals = goalIndicesForSplit(catalog.goals.length, "eval");
      if (train.length < cfg.numDemos || evalGoals.length < cfg.evalDemos) {
        throw new Error(
          `data: ${cfg.numDemos} training and ${cfg.evalDemos} eval demonstrations asked for, ` +
            `but the catalog has ${train.length} training and ${evalGoals.length} eval goals`,
        );
      }
      const demos = generateDemonstrations(
        env,
        new ExpertPolicy({ seed: 0, accept, imperfectRate: imperfect }),
        [...train.slice(0, cfg.numDemos), ...evalGoals.slice(0, cfg.evalDemos)],
      );
      await Deno.mkdir(demosPath.slice(0, demosPath.lastIndexOf("/")), { recursive: true });
      await writeDemonstrations(demosPath, demos);
      say(
        `data: recorded ${demos.length} scripted demonstrations on training goals in ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s (${demosPath})`,
      );
    }
  }
  const { trajectories, issues } = await loadDemonstrations(demosPath);
  if (issues.length > 0) {
    say(
      `data: ${issues.length} unusable line(s) in ${demosPath}, first: ${issues[0].file}:${
        issues[0].line
      }: ${issues[0].reason}`,
    );
  }
  return {
    catalog,
    engine,
    tokenizer,
    tokenizerPath,
    demos: trajectories,
    demosPath,
    badDemoLines: issues.length,
    catalogDir,
  };
}
