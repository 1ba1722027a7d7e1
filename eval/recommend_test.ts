import assert from "node:assert/strict";
import { OracleAgent, RandomAgent } from "../agent/policy.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { SearchEngine } from "../env/search.ts";
import { loadSyntheticCatalog } from "../env/synthetic.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import { formatRecommendations, goalForInstruction, recommend } from "./recommend.ts";

const CAT = loadSyntheticCatalog({ numProducts: 200, seed: 0 });
const ENV = { catalog: new SearchEngine(CAT.products), goals: CAT.goals, stepLimit: 40 };

Deno.test("recommend(): with the oracle, a known goal's instruction ranks its target product first", async () => {
  const gi = goalIndicesForSplit(CAT.goals.length, "test")[3];
  const goal = CAT.goals[gi];
  // Case and spacing do not matter.
  const text = `  ${goal.instruction_text.toUpperCase()} `;
  assert.deepEqual(goalForInstruction(text, CAT.goals), { goal: gi, known: true });
  const r = await recommend(makeEnvs(4, ENV), new OracleAgent(), text, { runs: 6, k: 3 });
  assert.equal(r.goalIndex, gi);
  assert.equal(r.bought, 6);
  const top = r.recommendations[0];
  assert.equal(top.asin, goal.asin);
  assert.equal(top.count, 6);
  assert.equal(top.title, ENV.catalog.byAsin.get(goal.asin)!.Title);
  assert.equal(top.score, top.meanReward);
  assert.ok(top.meanReward! > 0 && top.meanValue === null);
  assert.match(formatRecommendations(r), new RegExp(`\\| 1 \\| ${goal.asin} \\|`));
});

Deno.test("recommend(): free text plays unscored episodes and ranks by count", async () => {
  const text = "i want a red lipstick that lasts all day";
  const { goal, known } = goalForInstruction(text, CAT.goals);
  assert.equal(known, false);
  assert.equal(typeof goal === "object" && goal.instruction_text, text);
  const r = await recommend(makeEnvs(5, ENV), new RandomAgent(2), text, { runs: 30, k: 5 });
  assert.equal(r.goalIndex, null);
  assert.ok(r.bought > 0, "some random episodes buy");
  const counts = r.recommendations.map((x) => x.count);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a));
  assert.ok(r.recommendations.length <= 5);
  // No reward for free text, and the random agent has no value head.
  assert.ok(r.recommendations.every((x) => x.score === null && x.meanReward === null));
  assert.throws(() => goalForInstruction("  ", CAT.goals), /instruction is empty/);
});
