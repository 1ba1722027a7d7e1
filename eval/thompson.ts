/**
 * Thompson-sampling comparison of agents, as Feng (2024) evaluates them: every agent is an arm
 * with a Beta(1, 1) prior; each rollout draws once from every arm's posterior, plays the arm
 * with the largest draw on a goal drawn uniformly from the split, and updates that arm with the
 * episode's success (reward = 1) or, with `arm: "score"`, with a Bernoulli(score) draw. Several
 * runs, each with its own seed, show how much the outcome varies.
 *
 * The runs proceed together in rounds: each live run draws `batch` arms from its current
 * posteriors (batched Thompson sampling: the batch's updates come after it), then every episode
 * of every run plays at once on its own env, one `act()` per policy per decision step (one model
 * submit for all of that agent's live episodes), and the outcomes update the posteriors in
 * rollout order. Everything random is seeded: a run's arm and goal draws by its seed, the envs'
 * draws by theirs, so a configuration replays exactly.
 *
 * @example
 * ```ts
 * const result = await runThompson(
 *   [{ label: "oracle", source: "oracle", policy: new OracleAgent() },
 *    { label: "random", source: "random", policy: new RandomAgent(0) }],
 *   { env: { catalog: engine, goals }, runs: 5, rollouts: 1000 },
 * );
 * ```
 *
 * @module
 */

import seedrandom from "seedrandom";
import type { AgentPolicy } from "../agent/policy.ts";
import { makeEnvs, rolloutEpisodes } from "../agent/rollout.ts";
import type { SearchEngine } from "../env/search.ts";
import type { Product } from "../env/types.ts";
import { goalIndicesForSplit, type GoalSplit } from "../env/goals.ts";
import type { WebShopEnvConfig } from "../env/webshop_env.ts";
import { writeAtomically } from "../base/atomic.ts";
import { betaCredible, sampleBeta } from "./beta.ts";
import { meanStd } from "./spread.ts";

/** One agent of the comparison. */
export interface ThompsonArm {
  /** Name in tables and records (unique). */
  label: string;
  /** Where it came from: a checkpoint path, "random" or "oracle". */
  source: string;
  policy: AgentPolicy;
}

/** What updates an arm's posterior: success (reward = 1) or a Bernoulli(score) draw. */
export type ThompsonArmReward = "success" | "score";

/** Settings of {@linkcode runThompson}. */
export interface ThompsonOptions {
  /** The env every episode plays in (split and seed are set here). */
  env: Omit<WebShopEnvConfig, "catalog" | "split" | "seed"> & {
    catalog: readonly Product[] | SearchEngine;
  };
  /** Goals are drawn from this split (default "test"). */
  split?: GoalSplit;
  /** Independent runs (default 5). */
  runs?: number;
  /** Rollouts per run (default 1000). */
  rollouts?: number;
  /** Posterior update (default "success"). */
  arm?: ThompsonArmReward;
  /** Arms drawn per run before their updates (default 16). */
  batch?: number;
  /** Base seed (default 0): run r uses seed * 1000 + r. */
  seed?: number;
  /** Called for each rollout as its posterior update is made (runs interleave by rounds). */
  onRollout?: (r: ThompsonRollout) => void;
  /** Called after each round with the rollouts done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** One rollout, as `thompson_rollouts.jsonl` records it. */
export interface ThompsonRollout {
  run: number;
  /** Rollout index within the run (0-based). */
  t: number;
  /** Label of the arm played. */
  agent: string;
  /** Goal index played. */
  goal: number;
  /** The episode's reward ×100 (WebShop's scale). */
  score: number;
  /** Whether the reward was 1. */
  success: boolean;
  /** Every arm's posterior mean after this rollout's update. */
  posteriorMeans: Record<string, number>;
}

/** Per-arm statistics of one run. */
export interface ThompsonArmRun {
  pulls: number;
  /** Mean reward ×100 of the arm's pulls; null when it was never pulled. */
  meanScore: number | null;
  /** Share of the arm's pulls with reward 1; null when it was never pulled. */
  successRate: number | null;
  /** Mean of the arm's Beta posterior at the end of the run. */
  posteriorMean: number;
  /** Equal-tailed 95% credible interval of the posterior (exact Beta quantiles). */
  credible: [number, number];
}

/** Across-run summary of one statistic set (means over runs where the arm was pulled). */
export interface ThompsonArmSummary {
  pulls: number;
  meanScore: number | null;
  successRate: number | null;
  posteriorMean: number;
}

/** What {@linkcode runThompson} returns (and `runs/<name>/thompson.json` holds). */
export interface ThompsonResult {
  kind: "webshop-thompson";
  config: {
    agents: { label: string; source: string }[];
    runs: number;
    rollouts: number;
    split: GoalSplit;
    arm: ThompsonArmReward;
    batch: number;
    seed: number;
  };
  agents: {
    label: string;
    source: string;
    perRun: ThompsonArmRun[];
    /** Mean over runs. */
    mean: ThompsonArmSummary;
    /** Sample standard deviation over runs (n - 1; 0 for one run). */
    std: ThompsonArmSummary;
  }[];
  runs: {
    run: number;
    seed: number;
    pulls: Record<string, number>;
    /**
     * Cumulative regret after each rollout against the best arm in hindsight: the sum over
     * rollouts of (best arm's mean − played arm's mean), with each arm's mean its empirical
     * success rate (or mean score / 100 with `arm: "score"`) over its pulls in this run.
     */
    regret: number[];
    /** The pulled arm with the highest such mean. */
    bestArm: string;
  }[];
  /** Rollouts played in all. */
  rollouts: number;
  seconds: number;
  rolloutsPerSecond: number;
}

/**
 * Cumulative regret of a sequence of played arms against the best arm in hindsight, given each
 * arm's realised rewards; arms never played cannot be best.
 */
export function cumulativeRegret(
  played: readonly number[],
  rewards: readonly number[],
  numArms: number,
): { regret: number[]; best: number } {
  const sum = new Float64Array(numArms), n = new Float64Array(numArms);
  played.forEach((a, i) => {
    sum[a] += rewards[i];
    n[a]++;
  });
  const mu = Array.from(sum, (s, a) => (n[a] > 0 ? s / n[a] : -Infinity));
  let best = 0;
  for (let a = 1; a < numArms; a++) if (mu[a] > mu[best]) best = a;
  let acc = 0;
  const regret = played.map((a) => (acc += mu[best] - mu[a]));
  return { regret, best };
}

interface RunState {
  run: number;
  seed: number;
  rng: () => number;
  alpha: Float64Array;
  beta: Float64Array;
  t: number;
  played: number[];
  /** The reward an arm's mean is taken over: success (0/1) or score in [0, 1]. */
  realised: number[];
  pulls: Float64Array;
  successes: Float64Array;
  scoreSum: Float64Array;
}

/** Runs the comparison (see the module doc). */
export async function runThompson(
  arms: readonly ThompsonArm[],
  opts: ThompsonOptions,
): Promise<ThompsonResult> {
  const split = opts.split ?? "test";
  const R = opts.runs ?? 5, T = opts.rollouts ?? 1000, batch = opts.batch ?? 16;
  const arm = opts.arm ?? "success", seed = opts.seed ?? 0;
  if (arms.length < 1) throw new RangeError("runThompson: no arms");
  const labels = arms.map((a) => a.label);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) throw new RangeError(`runThompson: two agents are labelled "${dup}"`);
  for (const [k, v, max] of [["runs", R, 1000], ["rollouts", T, 1e9], ["batch", batch, 1e6]]) {
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > (max as number)) {
      throw new RangeError(`runThompson: ${k} must be an integer in [1, ${max}], got ${v}`);
    }
  }
  if (arm !== "success" && arm !== "score") {
    throw new RangeError(`runThompson: arm must be success or score, got ${arm}`);
  }
  if (!Number.isInteger(seed) || seed < 0) {
    throw new RangeError(`runThompson: seed must be a non-negative integer, got ${seed}`);
  }
  const goals = goalIndicesForSplit(opts.env.goals.length, split);
  if (goals.length === 0) throw new RangeError(`runThompson: the ${split} split has no goals`);
  const K = arms.length;
  const runs: RunState[] = Array.from({ length: R }, (_, r) => ({
    run: r,
    seed: seed * 1000 + r,
    rng: seedrandom.alea(`thompson:${seed * 1000 + r}`),
    alpha: new Float64Array(K).fill(1),
    beta: new Float64Array(K).fill(1),
    t: 0,
    played: [],
    realised: [],
    pulls: new Float64Array(K),
    successes: new Float64Array(K),
    scoreSum: new Float64Array(K),
  }));
  // One env per episode of a round: every episode of every run plays at once.
  const envs = makeEnvs(R * Math.min(batch, T), { ...opts.env, seed });
  const t0 = performance.now();
  let done = 0;
  while (runs.some((s) => s.t < T)) {
    // One round: each live run draws its batch of arms and goals from its posteriors.
    const jobs: { s: RunState; arm: number; goal: number }[] = [];
    for (const s of runs) {
      const n = Math.min(batch, T - s.t);
      for (let k = 0; k < n; k++) {
        let best = 0, bestDraw = -1;
        for (let a = 0; a < K; a++) {
          const d = sampleBeta(s.alpha[a], s.beta[a], s.rng);
          if (d > bestDraw) [best, bestDraw] = [a, d];
        }
        jobs.push({ s, arm: best, goal: goals[Math.floor(s.rng() * goals.length)] });
      }
    }
    const trajs = await rolloutEpisodes(
      envs,
      jobs.map((j) => ({ policy: arms[j.arm].policy, goal: j.goal })),
    );
    jobs.forEach((j, i) => {
      const { s } = j, reward = trajs[i].reward, success = reward === 1;
      const x = arm === "success" ? (success ? 1 : 0) : (s.rng() < reward ? 1 : 0);
      s.alpha[j.arm] += x;
      s.beta[j.arm] += 1 - x;
      s.played.push(j.arm);
      s.realised.push(arm === "success" ? (success ? 1 : 0) : reward);
      s.pulls[j.arm]++;
      if (success) s.successes[j.arm]++;
      s.scoreSum[j.arm] += reward;
      const posteriorMeans: Record<string, number> = {};
      labels.forEach((l, a) => posteriorMeans[l] = s.alpha[a] / (s.alpha[a] + s.beta[a]));
      opts.onRollout?.({
        run: s.run,
        t: s.t,
        agent: labels[j.arm],
        goal: j.goal,
        score: 100 * reward,
        success,
        posteriorMeans,
      });
      s.t++;
    });
    done += jobs.length;
    opts.onProgress?.(done, R * T);
  }
  const seconds = (performance.now() - t0) / 1000;

  const agents = arms.map((a, k) => {
    const perRun: ThompsonArmRun[] = runs.map((s) => {
      const pulls = s.pulls[k];
      return {
        pulls,
        meanScore: pulls > 0 ? 100 * s.scoreSum[k] / pulls : null,
        successRate: pulls > 0 ? s.successes[k] / pulls : null,
        posteriorMean: s.alpha[k] / (s.alpha[k] + s.beta[k]),
        credible: betaCredible(s.alpha[k], s.beta[k]),
      };
    });
    const stat = (f: (x: ThompsonArmRun) => number | null) =>
      meanStd(perRun.map(f).filter((x): x is number => x !== null));
    const pulls = stat((x) => x.pulls), score = stat((x) => x.meanScore);
    const succ = stat((x) => x.successRate), post = stat((x) => x.posteriorMean);
    return {
      label: a.label,
      source: a.source,
      perRun,
      mean: {
        pulls: pulls.mean!,
        meanScore: score.mean,
        successRate: succ.mean,
        posteriorMean: post.mean!,
      },
      std: {
        pulls: pulls.std!,
        meanScore: score.std,
        successRate: succ.std,
        posteriorMean: post.std!,
      },
    };
  });
  const runRecords = runs.map((s) => {
    const { regret, best } = cumulativeRegret(s.played, s.realised, K);
    const pulls: Record<string, number> = {};
    labels.forEach((l, a) => pulls[l] = s.pulls[a]);
    return { run: s.run, seed: s.seed, pulls, regret, bestArm: labels[best] };
  });
  return {
    kind: "webshop-thompson",
    config: {
      agents: arms.map((a) => ({ label: a.label, source: a.source })),
      runs: R,
      rollouts: T,
      split,
      arm,
      batch,
      seed,
    },
    agents,
    runs: runRecords,
    rollouts: R * T,
    seconds,
    rolloutsPerSecond: (R * T) / seconds,
  };
}

/**
 * Writes `<dir>/thompson.json` and `<dir>/thompson_rollouts.jsonl` (one line per rollout, in
 * the order given), each through a temporary file renamed into place. Returns the two paths.
 */
export async function saveThompson(
  dir: string,
  result: ThompsonResult,
  rollouts: readonly ThompsonRollout[],
): Promise<{ json: string; rollouts: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const json = `${dir}/thompson.json`, lines = `${dir}/thompson_rollouts.jsonl`;
  await writeAtomically(lines, rollouts.map((r) => JSON.stringify(r) + "\n"));
  await writeAtomically(json, [JSON.stringify(result, null, 2) + "\n"]);
  return { json, rollouts: lines };
}

function pm(m: number | null, s: number | null, scale = 1, digits = 1): string {
  if (m === null || s === null) return "—";
  return `${(scale * m).toFixed(digits)} ± ${(scale * s).toFixed(digits)}`;
}

/** The result as Markdown: one row per agent (mean ± std over runs), then one line per run. */
export function formatThompsonTable(r: ThompsonResult): string {
  const c = r.config;
  const rows = r.agents.map((a) => {
    const ci = a.perRun.map((p) => `[${p.credible.map((x) => (100 * x).toFixed(1)).join(", ")}]`);
    return `| ${a.label} | ${a.source} | ${pm(a.mean.pulls, a.std.pulls, 1, 1)} | ${
      pm(a.mean.meanScore, a.std.meanScore)
    } | ${pm(a.mean.successRate, a.std.successRate, 100)} | ${
      pm(a.mean.posteriorMean, a.std.posteriorMean, 100)
    } | ${ci.join(" ")} |`;
  });
  const runs = r.runs.map((x) =>
    `run ${x.run} (seed ${x.seed}): pulls ${
      Object.entries(x.pulls).map(([k, v]) => `${k} ${v}`).join(", ")
    }; best arm ${x.bestArm}; cumulative regret ${(x.regret.at(-1) ?? 0).toFixed(1)}`
  );
  return [
    `Thompson sampling: ${c.runs} runs x ${c.rollouts} rollouts on the ${c.split} goals ` +
    `(arm update: ${c.arm}, batch ${c.batch}, seed ${c.seed}); mean ± std over runs`,
    "",
    "| agent | source | pulls | score ×100 | success % | posterior mean % | 95% credible interval % per run |",
    "|---|---|---:|---:|---:|---:|---|",
    ...rows,
    "",
    ...runs,
    `${r.rollouts} rollouts in ${r.seconds.toFixed(1)} s: ${
      r.rolloutsPerSecond.toFixed(1)
    } rollouts/s`,
  ].join("\n");
}
