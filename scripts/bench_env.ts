/**
 * Environment benchmark: env steps/s of the random and oracle policies (searches, page
 * rendering and rewards included) on synthetic catalogs of 1k and 100k products, generation,
 * cleaning and indexing time and memory per catalog, and rewards/s.
 *
 *   deno task bench:env [--sizes 1000,100000] [--seconds 2] [--repeats 5]
 *
 * Each throughput is the median of `--repeats` timed windows of about `--seconds` each, after a
 * warm-up window. Each figure is appended to runs/bench/env.jsonl (or --out) as soon as it is
 * measured (one JSON object for rewards/s, then one per catalog size), so a stopped run keeps
 * what it measured.
 *
 * @module
 */

import { OraclePolicy, type Policy, RandomPolicy, runEpisode } from "../env/policies.ts";
import { DEFAULT_REWARD_MODE, getReward } from "../env/reward.ts";
import { SearchEngine } from "../env/search.ts";
import { loadCatalogFromDir } from "../env/loaders.ts";
import {
  catalogFromSynthetic,
  generateSyntheticCatalog,
  type SyntheticCatalog,
  writeSyntheticCatalog,
} from "../env/synthetic.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import {
  MAX_SYNTHETIC_PRODUCTS,
  openJsonLines,
  parseFlags,
  progressText,
  runMain,
  usageError,
} from "./_cli.ts";

const USAGE = `usage: deno task bench:env [options]
  --sizes <list>     catalog sizes, comma-separated (default 1000,100000)
  --seconds <s>      length of one timed window (default 2)
  --repeats <n>      timed windows per figure; the median is reported (default 5)
  --out <file>       results file, appended to (default runs/bench/env.jsonl; the task may
                     write only under runs/)
  --debug            stack traces on errors
  --help             this text`;

function fail(msg: string): never {
  return usageError("bench:env", USAGE, msg);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs whole episodes for about `seconds`; returns env steps per second. */
function stepsPerSecond(
  env: WebShopEnv,
  policy: Policy,
  seconds: number,
  next: () => number,
): number {
  let steps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) steps += runEpisode(env, policy, next()).steps;
  return steps / ((performance.now() - t0) / 1000);
}

const mib = (b: number) => b / (1 << 20);

interface SizeResult {
  products: number;
  goals: number;
  /** Synthetic generation (not part of loading). */
  generateSeconds: number;
  /** Reading WebShop's files, cleaning, goals. */
  loadSeconds: number;
  indexSeconds: number;
  loadIndexSeconds: number;
  rssMiB: number;
  heapUsedMiB: number;
  randomStepsPerSecond: number;
  oracleStepsPerSecond: number;
  searchesPerSecond: number;
  oracleScore: number;
  randomScore: number;
}

async function benchSize(
  n: number,
  seconds: number,
  repeats: number,
  workDir: string,
): Promise<SizeResult> {
  console.log(`catalog of ${n} synthetic products ...`);
  let t = performance.now();
  let raw: SyntheticCatalog | null = generateSyntheticCatalog({ numProducts: n, seed: 0 });
  const generateSeconds = (performance.now() - t) / 1000;
  // Load as a user would: WebShop's files on disk through the loader, then index.
  const dir = `${workDir}/synthetic_${n}`;
  // This bench's own cache of the files: rewritten each run (the writer wants a new folder).
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await writeSyntheticCatalog(dir, raw);
  raw = null;
  t = performance.now();
  const cat = await loadCatalogFromDir(dir, { goals: "human" });
  const cleanSeconds = (performance.now() - t) / 1000;
  const engine = new SearchEngine(cat.products);
  const indexSeconds = engine.indexMs / 1000;
  const mem = Deno.memoryUsage();
  await Deno.remove(dir, { recursive: true });
  console.log(
    `  generated ${generateSeconds.toFixed(2)} s; loaded from files ${
      cleanSeconds.toFixed(2)
    } s, ` +
      `indexed (${engine.backend}) ${indexSeconds.toFixed(2)} s, rss ${
        mib(mem.rss).toFixed(0)
      } MiB`,
  );

  const goals = cat.goals!;
  // Uncached BM25 searches (the env caches repeated queries; first ones pay this).
  const queries = goals.slice(0, 400).map((g) => g.instruction_text.toLowerCase());
  const qps: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let k = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 500) {
      engine.rank(queries[(r * 131 + k++) % queries.length]);
    }
    qps.push(k / ((performance.now() - t0) / 1000));
  }
  console.log(`  uncached searches: ${median(qps).toFixed(0)}/s`);
  const results: Record<string, { sps: number[]; score: number }> = {};
  for (const name of ["random", "oracle"]) {
    const env = new WebShopEnv({ catalog: engine, goals, seed: 1 });
    const policy: Policy = name === "oracle" ? new OraclePolicy() : new RandomPolicy(1);
    let g = 0;
    const next = () => g++ % goals.length;
    stepsPerSecond(env, policy, Math.min(1, seconds), next); // warm-up: JIT, caches, models
    const sps: number[] = [];
    for (let r = 0; r < repeats; r++) sps.push(stepsPerSecond(env, policy, seconds, next));
    // Score on a fixed goal set, apart from the timing.
    let sum = 0;
    const m = Math.min(200, goals.length);
    for (let i = 0; i < m; i++) sum += runEpisode(env, policy, i).reward;
    results[name] = { sps, score: 100 * sum / m };
    console.log(
      `  ${name}: ${median(sps).toFixed(0)} steps/s (windows ${
        sps.map((x) => x.toFixed(0)).join(", ")
      })`,
    );
  }
  return {
    products: cat.products.length,
    goals: goals.length,
    generateSeconds,
    loadSeconds: cleanSeconds,
    indexSeconds,
    loadIndexSeconds: cleanSeconds + indexSeconds,
    rssMiB: mib(mem.rss),
    heapUsedMiB: mib(mem.heapUsed),
    randomStepsPerSecond: median(results.random.sps),
    oracleStepsPerSecond: median(results.oracle.sps),
    searchesPerSecond: median(qps),
    randomScore: results.random.score,
    oracleScore: results.oracle.score,
  };
}

/** getReward calls per second on purchases of the goal product with the goal's options. */
function rewardsPerSecond(seconds: number, repeats: number): number {
  const cat = catalogFromSynthetic(generateSyntheticCatalog({ numProducts: 1000, seed: 1 }), {
    goals: "synthetic",
  });
  const cases = cat.goals.map((g) => {
    const p = cat.byAsin.get(g.asin)!;
    return { p, g, options: { ...(g.goal_options as Record<string, string>) } };
  });
  let i = 0;
  const window = (s: number) => {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < s * 1000) {
      for (let k = 0; k < 100; k++) {
        const c = cases[i++ % cases.length];
        getReward(c.p, c.g, c.p.price, c.options);
      }
      n += 100;
    }
    return n / ((performance.now() - t0) / 1000);
  };
  window(Math.min(1, seconds));
  const xs: number[] = [];
  for (let r = 0; r < repeats; r++) xs.push(window(seconds));
  console.log(
    `rewards: ${median(xs).toFixed(0)}/s (windows ${xs.map((x) => x.toFixed(0)).join(", ")})`,
  );
  return median(xs);
}

async function main(): Promise<void> {
  const v = parseFlags("bench:env", USAGE, {
    sizes: { type: "string" },
    seconds: { type: "string" },
    repeats: { type: "string" },
    out: { type: "string" },
  });
  if (!v) return;
  const sizes = (v.sizes ?? "1000,100000").split(",").map((s) => Number(s.trim()));
  if (sizes.some((s) => !Number.isInteger(s) || s < 1 || s > MAX_SYNTHETIC_PRODUCTS)) {
    fail(`--sizes must list integers from 1 to ${MAX_SYNTHETIC_PRODUCTS}, got "${v.sizes}"`);
  }
  const seconds = Number(v.seconds ?? 2);
  if (!(seconds > 0)) fail(`--seconds must be a positive number, got "${v.seconds}"`);
  const repeats = Number(v.repeats ?? 5);
  if (!Number.isInteger(repeats) || repeats < 1) {
    fail(`--repeats must be a positive integer, got "${v.repeats}"`);
  }

  const path = v.out ?? "runs/bench/env.jsonl";
  const out = openJsonLines(path);
  const run = {
    bench: "env",
    time: new Date().toISOString(),
    deno: Deno.version.deno,
    rewardMode: DEFAULT_REWARD_MODE,
    seconds,
  };
  const t0 = performance.now();
  const rewards = rewardsPerSecond(seconds, repeats);
  out.write({ ...run, repeats, rewardsPerSecond: rewards });
  const bySize: SizeResult[] = [];
  const workDir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  for (const [i, n] of sizes.entries()) {
    const r = await benchSize(n, seconds, repeats, workDir);
    bySize.push(r);
    out.write({ ...run, repeats, size: r });
    // Larger catalogs take longer; the estimate is a floor when sizes grow.
    console.log(`  sizes ${progressText(i + 1, sizes.length, t0)}; appended to ${path}`);
  }
  out.close();

  console.log(`\nWebShop env benchmark (medians, one thread, reward mode ${DEFAULT_REWARD_MODE})`);
  const rows = [
    [
      "products",
      "goals",
      "generate s",
      "load s",
      "index s",
      "load+index s",
      "rss MiB",
      "random steps/s",
      "oracle steps/s",
      "searches/s",
      "oracle score",
    ],
    ...bySize.map((r) => [
      String(r.products),
      String(r.goals),
      r.generateSeconds.toFixed(2),
      r.loadSeconds.toFixed(2),
      r.indexSeconds.toFixed(2),
      r.loadIndexSeconds.toFixed(2),
      r.rssMiB.toFixed(0),
      r.randomStepsPerSecond.toFixed(0),
      r.oracleStepsPerSecond.toFixed(0),
      r.searchesPerSecond.toFixed(0),
      r.oracleScore.toFixed(2),
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((x, c) => x.padStart(widths[c])).join("  "));
  console.log(`rewards/s: ${rewards.toFixed(0)}`);
  console.log(`appended ${1 + bySize.length} results to ${path}`);
}

if (import.meta.main) await runMain("bench:env", main);
