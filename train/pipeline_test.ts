import assert from "node:assert/strict";
import type { EvalResult } from "../eval/greedy.ts";
import { formatTable, type PipelineResult, sampledRow } from "./pipeline.ts";

function result(rewards: number[], goals = rewards.map((_, i) => i)): EvalResult {
  const n = rewards.length;
  return {
    policy: "p",
    episodes: n,
    score: (100 * rewards.reduce((a, b) => a + b, 0)) / n,
    successRate: rewards.filter((r) => r === 1).length / n,
    meanSteps: 5,
    components: { r_att: 0, r_option: 0, r_price: 0, r_type: 0 },
    categories: {},
    rewards,
    goals,
    seconds: 1,
  };
}

Deno.test("sampledRow averages each goal over the seeds and pairs goals with the reference", () => {
  // Two seeds over four goals; the agent succeeds where the reference does, and on goal 3 too.
  const agent = [result([1, 0.5, 0, 1]), result([1, 0, 0, 1])];
  const ref = [result([1, 0.5, 0, 0]), result([0, 0, 0, 0])];
  const r = sampledRow(agent, ref);
  // Per-goal success means: agent [1, 0, 0, 1] → 0.5; reference [0.5, 0, 0, 0] → 0.125.
  assert.equal(r.success.value, 0.5);
  assert.equal(r.dSuccess!.value, 0.375);
  // Scores ×100: agent per goal [100, 25, 0, 100] → 56.25; reference [50, 25, 0, 0] → 18.75.
  assert.equal(r.score.value, 56.25);
  assert.equal(r.dScore!.value, 37.5);
  assert.deepEqual(r.seedScores, [62.5, 50]);
  assert.deepEqual(r.seedSuccess, [0.5, 0.5]);
  assert.equal(r.seconds, 2);
  assert.ok(r.dSuccess!.lo <= 0.375 && r.dSuccess!.hi >= 0.375);
  // The reference's own row has no difference.
  assert.equal(sampledRow(ref, null).dSuccess, undefined);
  // Seeds that played other goals are not mixed.
  assert.throws(
    () => sampledRow([result([1, 0]), result([1, 0], [1, 0])], null),
    /different goals/,
  );
});

Deno.test("formatTable adds the sampled table with each seed's spread", () => {
  const iv = (v: number) => ({ value: v, lo: v, hi: v });
  const s = sampledRow([result([1, 0]), result([0, 0])], null);
  const r: PipelineResult = {
    rows: [{
      agent: "IL reference",
      checkpoint: "x",
      updates: 3,
      score: iv(50),
      success: iv(0.5),
      trainSeconds: 1,
      evalSeconds: 1,
      sampled: s,
    }],
    phases: { total: 2 },
    testGoals: 2,
    sampleSeeds: 2,
    runDir: "runs/x",
  };
  const text = formatTable(r);
  assert.match(text, /Sampled evaluation .* 2 seeds × 2 test goals/);
  // Seed means 50 and 0: standard deviation 35.4 points of score and of success.
  assert.match(
    text,
    /\| IL reference \| 25\.0 \[[0-9.]+, [0-9.]+\] \| 35\.4 \| 25\.0 \[[0-9.]+, [0-9.]+\] \| 35\.4 \| — \| — \|/,
  );
  assert.doesNotMatch(
    formatTable({ ...r, rows: [{ ...r.rows[0], sampled: undefined }] }),
    /Sampled/,
  );
});
