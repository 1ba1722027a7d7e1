/**
 * WebShop's standard evaluation: every goal of a list played once by a policy (greedy actions
 * for a model), reported as WebShop reports it: mean score ×100, success rate (reward = 1), mean
 * steps, the reward's components, a per-category breakdown, and the per-goal outcomes that
 * paired comparisons need. {@linkcode evaluateSeeds} repeats it over seeds (the env's draws, the
 * random agent's and sampling's) and reports the spread, as `deno task eval:greedy` prints it.
 *
 * @module
 */

import type { AgentPolicy } from "../agent/policy.ts";
import { makeEnvs, rollout, type Trajectory } from "../agent/rollout.ts";
import type { SearchEngine } from "../env/search.ts";
import type { Goal, Product } from "../env/types.ts";
import { goalIndicesForSplit, type GoalSplit } from "../env/goals.ts";
import { WebShopEnv, type WebShopEnvConfig } from "../env/webshop_env.ts";
import { meanStd } from "./spread.ts";

/** Mean reward components of the episodes that bought (WebShop's `r_*` keys). */
export interface RewardComponents {
  /** Share of the goal's attributes matched. */
  r_att: number;
  /** Share of the goal's options matched, over purchases whose goal has options. */
  r_option: number;
  /** Share of purchases within the price bound. */
  r_price: number;
  /** Mean type reward (1, 0.5, 0.1 or 0). */
  r_type: number;
}

/** Score and success of the episodes of one goal category. */
export interface CategoryResult {
  episodes: number;
  /** Mean reward ×100. */
  score: number;
  successRate: number;
}

/** Outcomes of one evaluation. */
export interface EvalResult {
  policy: string;
  episodes: number;
  /** Mean reward ×100. */
  score: number;
  /** Share of episodes with reward 1. */
  successRate: number;
  meanSteps: number;
  /** Means over the episodes that bought (0 where none did). */
  components: RewardComponents;
  /** By the goal's category (empty when the goals were not given). */
  categories: Record<string, CategoryResult>;
  /** Reward per goal, in the order of the goals. */
  rewards: number[];
  goals: number[];
  seconds: number;
}

/** Plays every goal once with `policy` on `envs` (all at once, up to the env count). */
export async function evaluate(
  envs: readonly WebShopEnv[],
  policy: AgentPolicy,
  goals: readonly number[],
  opts: { onEpisode?: (t: Trajectory, done: number, total: number) => void } = {},
): Promise<EvalResult> {
  const t0 = performance.now();
  const trajs = await rollout(envs, policy, goals, { onEpisode: opts.onEpisode });
  return summarize(policy.name, trajs, (performance.now() - t0) / 1000, envs[0]?.goals);
}

/** Mean of `xs` (0 for none). */
function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

/**
 * The summary of finished trajectories. Reward components are averaged over the episodes that
 * bought, each over those where WebShop's breakdown has the key (`r_option` is absent for a goal
 * without options; `r_price`, a boolean, counts as 0 or 1); `goals` gives the categories.
 */
export function summarize(
  name: string,
  trajs: readonly Trajectory[],
  seconds = 0,
  goals?: readonly Goal[],
): EvalResult {
  const n = trajs.length;
  const rewards = trajs.map((t) => t.reward);
  const infos = trajs.flatMap((t) => (t.rewardInfo ? [t.rewardInfo] : []));
  const components: RewardComponents = {
    r_att: mean(infos.map((i) => i.r_att)),
    r_option: mean(infos.flatMap((i) => (i.r_option === undefined ? [] : [i.r_option]))),
    r_price: mean(infos.flatMap((i) => (i.r_price === undefined ? [] : [i.r_price ? 1 : 0]))),
    r_type: mean(infos.map((i) => i.r_type)),
  };
  const categories: Record<string, CategoryResult> = {};
  if (goals) {
    const by = new Map<string, number[]>();
    for (const t of trajs) {
      const c = goals[t.goalIndex]?.category || "(none)";
      if (!by.has(c)) by.set(c, []);
      by.get(c)!.push(t.reward);
    }
    for (const [c, rs] of [...by].sort(([a], [b]) => a.localeCompare(b))) {
      categories[c] = {
        episodes: rs.length,
        score: 100 * rs.reduce((a, b) => a + b, 0) / rs.length,
        successRate: rs.filter((r) => r === 1).length / rs.length,
      };
    }
  }
  return {
    policy: name,
    episodes: n,
    // 100 * sum / n, in this order, as `deno task rollout` computes it (to the last bit).
    score: n ? 100 * rewards.reduce((a, b) => a + b, 0) / n : 0,
    successRate: n ? rewards.filter((r) => r === 1).length / n : 0,
    meanSteps: mean(trajs.map((t) => t.steps.length)),
    components,
    categories,
    rewards,
    goals: trajs.map((t) => t.goalIndex),
    seconds,
  };
}

/** One seed of {@linkcode GreedyResult}. */
export interface GreedySeedResult {
  seed: number;
  score: number;
  successRate: number;
  components: RewardComponents;
  meanSteps: number;
  categories: Record<string, CategoryResult>;
}

/** What `deno task eval:greedy` measures (`runs/<name>/greedy.json`). */
export interface GreedyResult {
  kind: "webshop-greedy";
  agent: { label: string; source: string };
  split: GoalSplit;
  seeds: number[];
  perSeed: GreedySeedResult[];
  /** Mean over seeds. */
  mean: { score: number; successRate: number; meanSteps: number };
  /** Sample standard deviation over seeds (0 for one seed). */
  std: { score: number; successRate: number; meanSteps: number };
  /** Episodes played per second of evaluation, over all seeds. */
  rolloutsPerSecond: number;
}

/** Settings of {@linkcode evaluateSeeds}. */
export interface EvaluateSeedsOptions {
  /** The env (seeded per seed here). */
  env: Omit<WebShopEnvConfig, "catalog" | "split" | "seed"> & {
    catalog: readonly Product[] | SearchEngine;
  };
  /** Every goal of this split is played once per seed. */
  split: GoalSplit;
  seeds: readonly number[];
  /**
   * Episodes played at once (default 1). With 1, the goals are played in order on one env
   * seeded with the seed itself, exactly as `deno task rollout` plays them; with more, on
   * `makeEnvs` envs (one model submit per step for all of them).
   */
  envs?: number;
  onEpisode?: (seed: number, done: number, total: number) => void;
}

/**
 * Plays every goal of the split once per seed, with the policy `policyFor(seed)` gives (a fresh
 * random agent, or a sampling seed, per seed), and reports each seed and the spread.
 */
export async function evaluateSeeds(
  agent: { label: string; source: string },
  policyFor: (seed: number) => AgentPolicy,
  opts: EvaluateSeedsOptions,
): Promise<GreedyResult> {
  const goals = goalIndicesForSplit(opts.env.goals.length, opts.split);
  if (goals.length === 0) {
    throw new RangeError(`evaluateSeeds: the ${opts.split} split has no goals`);
  }
  if (opts.seeds.length === 0) throw new RangeError("evaluateSeeds: no seeds");
  const n = opts.envs ?? 1;
  const perSeed: GreedySeedResult[] = [];
  let seconds = 0;
  for (const seed of opts.seeds) {
    const envs = n === 1
      ? [new WebShopEnv({ ...opts.env, seed })]
      : makeEnvs(n, { ...opts.env, seed });
    const r = await evaluate(envs, policyFor(seed), goals, {
      onEpisode: (_t, done, total) => opts.onEpisode?.(seed, done, total),
    });
    seconds += r.seconds;
    perSeed.push({
      seed,
      score: r.score,
      successRate: r.successRate,
      components: r.components,
      meanSteps: r.meanSteps,
      categories: r.categories,
    });
  }
  const stat = (f: (s: GreedySeedResult) => number) => meanStd(perSeed.map(f));
  const score = stat((s) => s.score), succ = stat((s) => s.successRate);
  const steps = stat((s) => s.meanSteps);
  return {
    kind: "webshop-greedy",
    agent: { label: agent.label, source: agent.source },
    split: opts.split,
    seeds: [...opts.seeds],
    perSeed,
    mean: { score: score.mean!, successRate: succ.mean!, meanSteps: steps.mean! },
    std: { score: score.std!, successRate: succ.std!, meanSteps: steps.std! },
    rolloutsPerSecond: (goals.length * opts.seeds.length) / seconds,
  };
}

/** The result as Markdown: mean ± std over seeds, the components, and the categories. */
export function formatGreedyTable(r: GreedyResult): string {
  const pm = (m: number, s: number, scale = 1) =>
    `${(scale * m).toFixed(1)} ± ${(scale * s).toFixed(1)}`;
  const comp = (k: keyof RewardComponents) =>
    (r.perSeed.reduce((a, s) => a + s.components[k], 0) / r.perSeed.length).toFixed(3);
  const cats = new Map<string, { e: number; score: number; succ: number }>();
  for (const s of r.perSeed) {
    for (const [c, v] of Object.entries(s.categories)) {
      const x = cats.get(c) ?? { e: 0, score: 0, succ: 0 };
      x.e += v.episodes;
      x.score += v.score * v.episodes;
      x.succ += v.successRate * v.episodes;
      cats.set(c, x);
    }
  }
  return [
    `${r.agent.label} (${r.agent.source}) on every ${r.split} goal, seeds ${
      r.seeds.join(", ")
    }: mean ± std over seeds`,
    "",
    "| agent | score ×100 | success % | mean steps | r_att | r_option | r_price | r_type |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    `| ${r.agent.label} | ${pm(r.mean.score, r.std.score)} | ${
      pm(r.mean.successRate, r.std.successRate, 100)
    } | ${pm(r.mean.meanSteps, r.std.meanSteps)} | ${comp("r_att")} | ${comp("r_option")} | ${
      comp("r_price")
    } | ${comp("r_type")} |`,
    "",
    "| category | episodes | score ×100 | success % |",
    "|---|---:|---:|---:|",
    ...[...cats].map(([c, x]) =>
      `| ${c} | ${x.e} | ${(x.score / x.e).toFixed(1)} | ${(100 * x.succ / x.e).toFixed(1)} |`
    ),
    "",
    `${r.rolloutsPerSecond.toFixed(1)} episodes/s`,
  ].join("\n");
}
