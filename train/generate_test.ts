import assert from "node:assert/strict";
import { OracleAgent, RandomAgent } from "../agent/policy.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { SearchEngine } from "../env/search.ts";
import { loadSyntheticCatalog } from "../env/synthetic.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import { generateTrajectories, pruneLoops } from "./generate.ts";

const steps = (states: string[]) => states.map((state, i) => ({ state, i }));

Deno.test("pruneLoops() cuts a return to an earlier state out of the path", () => {
  // search -> results -> item A -> results (back) -> item B -> buy
  const s = steps(["search", "results", "itemA", "results", "itemB"]);
  assert.deepEqual(pruneLoops(s).map((x) => x.i), [0, 3, 4]);
  assert.deepEqual(pruneLoops(s).map((x) => x.state), ["search", "results", "itemB"]);
});

Deno.test("pruneLoops() handles nested and repeated loops and leaves loop-free paths alone", () => {
  assert.deepEqual(pruneLoops(steps(["a", "b", "c", "d"])).map((x) => x.i), [0, 1, 2, 3]);
  // a b c b c d: the second visit of b cuts b c; the second c is then new.
  assert.deepEqual(pruneLoops(steps(["a", "b", "c", "b", "c", "d"])).map((x) => x.i), [0, 3, 4, 5]);
  // a b a b a c: back to a twice.
  assert.deepEqual(pruneLoops(steps(["a", "b", "a", "b", "a", "c"])).map((x) => x.i), [4, 5]);
  // A loop inside a loop: a b c b a d -> a d.
  assert.deepEqual(pruneLoops(steps(["a", "b", "c", "b", "a", "d"])).map((x) => x.i), [4, 5]);
  assert.deepEqual(pruneLoops([]), []);
});

Deno.test("generateTrajectories() keeps reward-1 episodes until n, and stops at maxEpisodes", async () => {
  const cat = loadSyntheticCatalog({ numProducts: 120, seed: 0 });
  const envs = makeEnvs(4, { catalog: new SearchEngine(cat.products), goals: cat.goals });
  const goals = goalIndicesForSplit(cat.goals.length, "train");
  const rounds: number[] = [];
  const oracle = await generateTrajectories(envs, new OracleAgent(), goals, {
    n: 5,
    maxEpisodes: 40,
    seed: 0,
    onRound: (g) => rounds.push(g.played),
  });
  assert.equal(oracle.kept.length, 5);
  assert.deepEqual(rounds, [8], "one round of twice the envs was enough");
  for (const d of oracle.kept) assert.equal(d.rewards.at(-1), 1);
  // A policy that never buys keeps nothing and stops at the cap, not before.
  const none = await generateTrajectories(
    makeEnvs(4, { catalog: new SearchEngine(cat.products), goals: cat.goals, stepLimit: 3 }),
    new RandomAgent(0),
    goals,
    { n: 5, maxEpisodes: 12, seed: 1 },
  );
  assert.equal(none.played, 12);
  assert.ok(none.kept.every((d) => d.rewards.at(-1) === 1));
});
