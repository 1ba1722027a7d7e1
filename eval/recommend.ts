/**
 * The agent as a recommender (Feng 2024, §6): the agent shops M times for one free-text
 * instruction, sampling its actions, and the products it bought are ranked by how often and how
 * well: the count of purchases first, then the score, which is the mean reward where the
 * instruction is one of the catalog's goals (the reward is then defined) and otherwise the mean
 * of the value head's estimate at the decision to buy (the model's own guess of the reward).
 *
 * @module
 */

import type { AgentPolicy } from "../agent/policy.ts";
import { rolloutEpisodes } from "../agent/rollout.ts";
import type { ChosenOptions, Goal } from "../env/types.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";

/** One recommended product (with the options chosen). */
export interface Recommendation {
  asin: string;
  title: string;
  price: number;
  options: ChosenOptions;
  /** Episodes that bought it with these options. */
  count: number;
  /** The mean reward where known, else the mean value estimate; null when neither exists. */
  score: number | null;
  /** Mean reward of those purchases (null when the instruction is not a known goal). */
  meanReward: number | null;
  /** Mean value-head estimate at the buy decision (null when the policy has no value head). */
  meanValue: number | null;
}

/** What {@linkcode recommend} returns. */
export interface RecommendResult {
  instruction: string;
  /** Index of the goal the instruction is, or null for free text. */
  goalIndex: number | null;
  runs: number;
  /** Episodes that ended by buying. */
  bought: number;
  recommendations: Recommendation[];
  seconds: number;
}

/** Instruction text as compared with the goals': lower-cased, spaces collapsed. */
function norm(s: string): string {
  return s.toLowerCase().replace(/\s+/g, " ").trim();
}

/**
 * The goal an instruction stands for: the catalog's goal with that instruction text (its index),
 * or a free-text goal with no target (no attributes, options or price bound), whose reward is
 * not meaningful.
 */
export function goalForInstruction(
  instruction: string,
  goals: readonly Goal[],
): { goal: number | Goal; known: boolean } {
  const want = norm(instruction);
  if (want === "") throw new RangeError("recommend: the instruction is empty");
  const i = goals.findIndex((g) => norm(g.instruction_text) === want);
  if (i >= 0) return { goal: i, known: true };
  return {
    known: false,
    goal: {
      asin: "",
      category: "",
      query: instruction,
      name: "",
      product_category: "",
      instruction_text: instruction,
      attributes: [],
      price_upper: 1_000_000,
      goal_options: [],
      weight: 1,
    },
  };
}

/**
 * Plays `runs` episodes of `policy` (which should sample: a greedy policy buys the same product
 * every time) on `instruction` over `envs`, and ranks what was bought; the top `k`.
 */
export async function recommend(
  envs: readonly WebShopEnv[],
  policy: AgentPolicy,
  instruction: string,
  opts: { runs: number; k: number },
): Promise<RecommendResult> {
  if (!Number.isInteger(opts.runs) || opts.runs < 1) {
    throw new RangeError(`recommend: runs must be a positive integer, got ${opts.runs}`);
  }
  const { goal, known } = goalForInstruction(instruction, envs[0].goals);
  const t0 = performance.now();
  const trajs = await rolloutEpisodes(
    envs,
    Array.from({ length: opts.runs }, () => ({ policy, goal })),
  );
  const groups = new Map<
    string,
    { asin: string; options: ChosenOptions; r: number[]; v: number[] }
  >();
  for (const t of trajs) {
    if (!t.purchase) continue;
    const opt = Object.fromEntries(
      Object.entries(t.purchase.options).sort(([a], [b]) => a < b ? -1 : 1),
    );
    const key = `${t.purchase.asin}\u0000${JSON.stringify(opt)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = { asin: t.purchase.asin, options: opt, r: [], v: [] });
    g.r.push(t.reward);
    const value = t.steps.at(-1)?.value;
    if (value !== null && value !== undefined) g.v.push(value);
  }
  const mean = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  const engine = envs[0].engine;
  const recs: Recommendation[] = [...groups.values()].map((g) => {
    const p = engine.byAsin.get(g.asin)!;
    const meanReward = known ? mean(g.r) : null, meanValue = mean(g.v);
    return {
      asin: g.asin,
      title: p.Title,
      price: p.price,
      options: g.options,
      count: g.r.length,
      score: meanReward ?? meanValue,
      meanReward,
      meanValue,
    };
  });
  recs.sort((a, b) => b.count - a.count || (b.score ?? -Infinity) - (a.score ?? -Infinity));
  return {
    instruction,
    goalIndex: typeof goal === "number" ? goal : null,
    runs: opts.runs,
    bought: trajs.filter((t) => t.purchase).length,
    recommendations: recs.slice(0, opts.k),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The ranking as Markdown. */
export function formatRecommendations(r: RecommendResult): string {
  const opt = (o: ChosenOptions) => Object.entries(o).map(([k, v]) => `${k}: ${v}`).join(", ");
  const what = r.goalIndex === null
    ? "free text (score: mean value estimate)"
    : `goal ${r.goalIndex} (score: mean reward)`;
  return [
    `"${r.instruction}": ${what}; ${r.bought} of ${r.runs} episodes bought`,
    "",
    "| rank | ASIN | title | price | options | count | score |",
    "|---:|---|---|---:|---|---:|---:|",
    ...r.recommendations.map((x, i) =>
      `| ${i + 1} | ${x.asin} | ${x.title} | ${x.price.toFixed(2)} | ${
        opt(x.options) || "—"
      } | ${x.count} | ${x.score === null ? "—" : x.score.toFixed(3)} |`
    ),
  ].join("\n");
}
