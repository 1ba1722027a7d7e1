import assert from "node:assert/strict";
import {
  DPO_DEFAULTS,
  dpoEpisodeIndices,
  episodesOf,
  sampleRejected,
  validateDpoConfig,
} from "./dpo.ts";
import type { IlExample } from "./il_data.ts";

Deno.test("sampleRejected() never returns the chosen action and follows the reference", () => {
  const logp = [0.7, 0.2, 0.1].map(Math.log);
  let u = 0;
  const rng = () => (u = (u * 9301 + 49297) % 233280) / 233280;
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) counts[sampleRejected(logp, 0, rng)]++;
  assert.equal(counts[0], 0);
  // Among the others in proportion to their probabilities: 0.2 : 0.1.
  assert.ok(Math.abs(counts[1] / 30000 - 2 / 3) < 0.02, `${counts}`);
  // A chosen action of low probability: most draws are already another action.
  const c2 = [0, 0, 0];
  for (let i = 0; i < 30000; i++) c2[sampleRejected(logp, 2, rng)]++;
  assert.equal(c2[2], 0);
  assert.ok(Math.abs(c2[0] / 30000 - 0.7 / 0.9) < 0.02, `${c2}`);
  assert.throws(() => sampleRejected([0], 0, rng), /two actions/);
});

Deno.test("episodesOf() groups decisions by demonstration and drops single-action ones", () => {
  const ex = (demo: number, n: number): IlExample => ({
    state: `s${demo}`,
    actions: Array.from({ length: n }, (_, i) => `a${i}`),
    target: 0,
    demo,
    goalIndex: demo,
  });
  const eps = episodesOf([ex(1, 3), ex(1, 1), ex(2, 2), ex(1, 4)]);
  assert.deepEqual(eps.map((e) => [e.demo, e.examples.length]), [[1, 2], [2, 1]]);
});

Deno.test("dpoEpisodeIndices() is a seeded pass over the episodes, one per update by default", () => {
  const c = validateDpoConfig({ ...DPO_DEFAULTS, steps: 10 });
  const first = Array.from({ length: 5 }, (_, u) => dpoEpisodeIndices(c, 5, u)).flat();
  assert.deepEqual([...first].sort(), [0, 1, 2, 3, 4]);
  assert.deepEqual(dpoEpisodeIndices({ ...c, episodesPerUpdate: 2 }, 5, 1).length, 2);
  assert.throws(() => validateDpoConfig({ ...c, beta: 0 }), /beta/);
  assert.throws(() => validateDpoConfig({ ...c, steps: 0 }), /steps/);
});
