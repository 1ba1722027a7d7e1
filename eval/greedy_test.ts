import assert from "node:assert/strict";
import { OracleAgent, RandomAgent } from "../agent/policy.ts";
import type { Trajectory } from "../agent/rollout.ts";
import { OraclePolicy, type Policy, RandomPolicy, runEpisode } from "../env/policies.ts";
import type { RewardInfo } from "../env/reward.ts";
import { SearchEngine } from "../env/search.ts";
import { loadSyntheticCatalog } from "../env/synthetic.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import { evaluateSeeds, summarize } from "./greedy.ts";

const CAT = loadSyntheticCatalog({ numProducts: 200, seed: 0, goals: "synthetic" });
const ENV = { catalog: new SearchEngine(CAT.products), goals: CAT.goals, stepLimit: 100 };

/** What `deno task rollout` computes: runEpisode over the split's goals on one env. */
function rolloutScript(policy: Policy, seed: number) {
  const env = new WebShopEnv({ ...ENV, split: "test", seed });
  const eps = goalIndicesForSplit(CAT.goals.length, "test").map((g) => runEpisode(env, policy, g));
  const n = eps.length;
  return {
    score: 100 * eps.reduce((a, e) => a + e.reward, 0) / n,
    successRate: eps.filter((e) => e.reward === 1).length / n,
    meanSteps: eps.reduce((a, e) => a + e.steps, 0) / n,
  };
}

Deno.test("evaluateSeeds() equals deno task rollout's numbers for random and oracle on the same goals and seed", async () => {
  const seeds = [0, 7];
  const random = await evaluateSeeds(
    { label: "random", source: "random" },
    (s) => new RandomAgent(s),
    { env: ENV, split: "test", seeds },
  );
  for (const [i, seed] of seeds.entries()) {
    const want = rolloutScript(new RandomPolicy(seed), seed);
    const got = random.perSeed[i];
    assert.deepEqual([got.score, got.successRate, got.meanSteps], [
      want.score,
      want.successRate,
      want.meanSteps,
    ]);
  }
  // The random agent is stochastic: the seeds differ, and the spread says so.
  assert.ok(random.std.meanSteps > 0, JSON.stringify(random.std));
  const oracle = await evaluateSeeds(
    { label: "oracle", source: "oracle" },
    () => new OracleAgent(),
    {
      env: ENV,
      split: "test",
      seeds: [0],
    },
  );
  const want = rolloutScript(new OraclePolicy(), 0);
  assert.deepEqual(
    [oracle.mean.score, oracle.mean.successRate, oracle.mean.meanSteps],
    [want.score, want.successRate, want.meanSteps],
  );
  assert.ok(want.successRate > 0.5 && want.successRate < 1, `${want.successRate}`);
  // Many envs at once play the same episodes for a policy that draws nothing.
  const batched = await evaluateSeeds(
    { label: "oracle", source: "oracle" },
    () => new OracleAgent(),
    {
      env: ENV,
      split: "test",
      seeds: [0],
      envs: 5,
    },
  );
  assert.deepEqual(batched.perSeed, oracle.perSeed);
  assert.equal(oracle.kind, "webshop-greedy");
  assert.deepEqual(oracle.std, { score: 0, successRate: 0, meanSteps: 0 });
  const cats = Object.values(oracle.perSeed[0].categories);
  assert.equal(
    cats.reduce((a, c) => a + c.episodes, 0),
    goalIndicesForSplit(CAT.goals.length, "test").length,
  );
  assert.ok(oracle.rolloutsPerSecond > 0);
});

Deno.test("summarize() averages reward components over purchases and splits by category", () => {
  const info = (r: Partial<RewardInfo>): RewardInfo => ({
    r_type: 1,
    r_att: 1,
    w_att: 0.5,
    query_match: false,
    category_match: true,
    title_score: 1,
    ...r,
  });
  const t = (goalIndex: number, reward: number, steps: number, ri?: RewardInfo): Trajectory => ({
    goalIndex,
    reward,
    bought: ri !== undefined,
    truncated: ri === undefined,
    rewardInfo: ri,
    steps: Array.from({ length: steps }, () => ({
      state: "",
      actions: [],
      index: 0,
      action: "",
      envAction: "",
      logp: null,
      entropy: null,
      value: null,
      reward: 0,
      page: "search",
    })),
  });
  const goals = [{ ...CAT.goals[0], category: "beauty" }, { ...CAT.goals[1], category: "food" }];
  const r = summarize(
    "x",
    [
      t(0, 1, 4, info({ r_option: 1, r_price: true })),
      t(1, 0.5, 6, info({ r_att: 0.5, r_type: 0.5, r_option: 0, r_price: false })),
      t(0, 0.25, 2, info({ r_att: 0 })), // a goal without options: no r_option, no price key
      t(1, 0, 100),
    ],
    2,
    goals,
  );
  assert.deepEqual(r.components, { r_att: 0.5, r_option: 0.5, r_price: 0.5, r_type: 2.5 / 3 });
  assert.equal(r.score, 100 * 1.75 / 4);
  assert.equal(r.successRate, 0.25);
  assert.equal(r.meanSteps, 28);
  assert.deepEqual(r.categories, {
    beauty: { episodes: 2, score: 62.5, successRate: 0.5 },
    food: { episodes: 2, score: 25, successRate: 0 },
  });
});
