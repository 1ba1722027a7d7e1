import assert from "node:assert/strict";
import seedrandom from "seedrandom";
import {
  type AgentPolicy,
  type Choice,
  type Decision,
  OracleAgent,
  RandomAgent,
} from "../agent/policy.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { SearchEngine } from "../env/search.ts";
import { loadSyntheticCatalog } from "../env/synthetic.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";
import { evaluate } from "./greedy.ts";
import { meanStd } from "./spread.ts";
import { cumulativeRegret, runThompson, type ThompsonRollout } from "./thompson.ts";

const CAT = loadSyntheticCatalog({ numProducts: 200, seed: 0 });
const ENGINE = new SearchEngine(CAT.products);
// Synthetic goals over the same products: with WebShop's reward the oracle succeeds on most of
// them, not all (the option quirk), so its success rate is an interior value.
const SYN = loadSyntheticCatalog({ numProducts: 200, seed: 0, goals: "synthetic" });
const SYN_ENGINE = new SearchEngine(SYN.products);

/**
 * Succeeds on an episode with probability `p` (decided at reset, seeded): then it plays as the
 * oracle; otherwise it never buys (back to search until the step limit), reward 0.
 */
class CoinAgent implements AgentPolicy {
  readonly name: string;
  readonly #oracle = new OracleAgent();
  readonly #rng: () => number;
  readonly #good = new WeakMap<WebShopEnv, boolean>();
  constructor(readonly p: number, seed: number) {
    this.name = `coin${p}`;
    this.#rng = seedrandom.alea(`coin:${p}:${seed}`);
  }
  reset(env: WebShopEnv): void {
    this.#good.set(env, this.#rng() < this.p);
    this.#oracle.reset(env);
  }
  async act(decisions: readonly Decision[]): Promise<Choice[]> {
    const good = decisions.filter((d) => this.#good.get(d.env));
    const oracle = await this.#oracle.act(good);
    return decisions.map((d) => {
      if (this.#good.get(d.env)) return oracle.shift()!;
      const action = d.env.page.kind === "search"
        ? "search[nothing here]"
        : "click[back to search]";
      return { index: d.actions.indexOf(action), action, logp: null, logps: null, value: null };
    });
  }
}

Deno.test("runThompson(): the oracle gets most pulls in every run and its interval holds its greedy success rate", async () => {
  const env = { catalog: SYN_ENGINE, goals: SYN.goals, stepLimit: 30 };
  const lines: ThompsonRollout[] = [];
  const r = await runThompson(
    [
      { label: "random", source: "random", policy: new RandomAgent(0) },
      { label: "oracle", source: "oracle", policy: new OracleAgent() },
    ],
    {
      env,
      runs: 4,
      rollouts: 80,
      batch: 8,
      seed: 3,
      split: "all",
      onRollout: (x) => lines.push(x),
    },
  );
  const test = goalIndicesForSplit(SYN.goals.length, "all");
  const greedy = await evaluate(makeEnvs(4, env), new OracleAgent(), test);
  assert.ok(
    greedy.successRate > 0.5 && greedy.successRate < 1,
    `oracle greedy success ${greedy.successRate}`,
  );
  const oracle = r.agents.find((a) => a.label === "oracle")!;
  for (const run of r.runs) {
    assert.ok(run.pulls.oracle > run.pulls.random, JSON.stringify(run.pulls));
    assert.equal(run.pulls.oracle + run.pulls.random, 80);
    assert.equal(run.bestArm, "oracle");
    assert.equal(run.regret.length, 80);
    for (let t = 1; t < 80; t++) assert.ok(run.regret[t] >= run.regret[t - 1] - 1e-12);
  }
  for (const p of oracle.perRun) {
    const [lo, hi] = p.credible;
    assert.ok(
      lo <= greedy.successRate && greedy.successRate <= hi,
      `${greedy.successRate} in [${lo}, ${hi}]`,
    );
  }
  // Records: one per rollout, each run's t in order, goals from the test split.
  assert.equal(lines.length, 320);
  for (let run = 0; run < 4; run++) {
    assert.deepEqual(lines.filter((l) => l.run === run).map((l) => l.t), [...Array(80).keys()]);
  }
  assert.ok(lines.every((l) => test.includes(l.goal) && l.success === (l.score === 100)));
  const last = lines.filter((l) => l.run === 0).at(-1)!;
  assert.equal(last.posteriorMeans.oracle, oracle.perRun[0].posteriorMean);
  assert.equal(r.rollouts, 320);
  assert.ok(r.rolloutsPerSecond > 0 && r.seconds > 0);
  assert.equal(r.kind, "webshop-thompson");
  assert.deepEqual(r.config, {
    agents: [{ label: "random", source: "random" }, { label: "oracle", source: "oracle" }],
    runs: 4,
    rollouts: 80,
    split: "all",
    arm: "success",
    batch: 8,
    seed: 3,
  });
});

Deno.test("runThompson(): three arms of known success rates converge to the best", async () => {
  const env = { catalog: ENGINE, goals: CAT.goals, stepLimit: 6, rewardMode: "corrected" as const };
  const arms = [0.2, 0.5, 0.8].map((p) => ({
    label: `p${p}`,
    source: "constructed",
    policy: new CoinAgent(p, 1),
  }));
  const r = await runThompson(arms, {
    env,
    runs: 3,
    rollouts: 300,
    batch: 4,
    split: "all",
    seed: 1,
  });
  for (const run of r.runs) {
    assert.equal(run.bestArm, "p0.8");
    assert.ok(run.pulls["p0.8"] > 0.6 * 300, JSON.stringify(run.pulls));
    // Regret grows more slowly at the end than at the start (it converges).
    const early = run.regret[49], late = run.regret[299] - run.regret[249];
    assert.ok(late < early, `regret over the first 50: ${early}, the last 50: ${late}`);
  }
  const best = r.agents.find((a) => a.label === "p0.8")!;
  assert.ok(Math.abs(best.mean.successRate! - 0.8) < 0.08, `p0.8 success ${best.mean.successRate}`);
  for (const p of best.perRun) {
    assert.ok(Math.abs(p.posteriorMean - 0.8) < 0.08, `${p.posteriorMean}`);
  }
  // Seeded: the same configuration replays exactly.
  const again = await runThompson(
    [0.2, 0.5, 0.8].map((p) => ({
      label: `p${p}`,
      source: "constructed",
      policy: new CoinAgent(p, 1),
    })),
    { env, runs: 3, rollouts: 300, batch: 4, split: "all", seed: 1 },
  );
  assert.deepEqual(again.runs, r.runs);
});

Deno.test("runThompson(): arm score updates with Bernoulli(score) draws; bad options are errors", async () => {
  const env = { catalog: ENGINE, goals: CAT.goals, stepLimit: 10 };
  const arms = [
    { label: "oracle", source: "oracle", policy: new OracleAgent() },
    { label: "random", source: "random", policy: new RandomAgent(1) },
  ];
  const r = await runThompson(arms, { env, runs: 2, rollouts: 40, arm: "score", batch: 5 });
  assert.equal(r.config.arm, "score");
  for (const run of r.runs) assert.equal(run.pulls.oracle + run.pulls.random, 40);
  for (const a of r.agents) {
    for (const p of a.perRun) {
      // Beta(1 + hits, 1 + misses) over its pulls: the mean lies in [1/(n+2), (n+1)/(n+2)].
      assert.ok(p.posteriorMean >= 1 / (p.pulls + 2) - 1e-12);
      assert.ok(p.posteriorMean <= (p.pulls + 1) / (p.pulls + 2) + 1e-12);
    }
  }
  await assert.rejects(() => runThompson(arms, { env, runs: 0 }), /runs must be/);
  await assert.rejects(
    () => runThompson([arms[0], { ...arms[1], label: "oracle" }], { env }),
    /two agents are labelled "oracle"/,
  );
});

Deno.test("cumulativeRegret() and meanStd() by hand", () => {
  // Arm 0 wins 1 of 2, arm 1 wins 2 of 2: best is 1 (mean 1); regret grows 0.5 per arm-0 pull.
  const { regret, best } = cumulativeRegret([0, 1, 0, 1], [1, 1, 0, 1], 3);
  assert.equal(best, 1);
  assert.deepEqual(regret, [0.5, 0.5, 1, 1]);
  assert.deepEqual(meanStd([1, 2, 3, 4]), { mean: 2.5, std: Math.sqrt(5 / 3) });
  assert.deepEqual(meanStd([7]), { mean: 7, std: 0 });
  assert.deepEqual(meanStd([]), { mean: null, std: null });
});
