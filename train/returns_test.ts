import assert from "node:assert/strict";
import { gae, whiten } from "./returns.ts";

// One env, three steps, the episode ends at step 1; a new one starts at step 2 and is cut by the
// rollout's end, so it bootstraps from V(s_3) = 2. γ = 0.9.
const EXAMPLE = {
  rewards: [[0], [1], [0]],
  values: [[0.5], [0.2], [0.3]],
  dones: [[false], [true], [false]],
  lastValues: [2],
};

const close = (a: number[][], b: number[][], what: string) =>
  a.forEach((row, t) =>
    row.forEach((x, n) =>
      assert.ok(Math.abs(x - b[t][n]) < 1e-12, `${what}[${t}][${n}]: ${x} vs ${b[t][n]}`)
    )
  );

Deno.test("gae() with λ = 1 is WebShop's discount_reward on a hand-worked 3-step example", () => {
  // R_2 = 0 + 0.9·2 = 1.8; R_1 = 1 (terminal); R_0 = 0 + 0.9·1 = 0.9; A = R − V.
  const r = gae(EXAMPLE, 0.9, 1);
  close(r.returns, [[0.9], [1], [1.8]], "returns");
  close(r.advantages, [[0.4], [0.8], [1.5]], "advantages");
});

Deno.test("gae() with λ = 0.5 matches the hand-worked δ recursion", () => {
  // δ_2 = 0.9·2 − 0.3 = 1.5; δ_1 = 1 − 0.2 = 0.8 (terminal); δ_0 = 0.9·0.2 − 0.5 = −0.32;
  // A_2 = 1.5, A_1 = 0.8, A_0 = −0.32 + 0.9·0.5·0.8 = 0.04; R = A + V.
  const r = gae(EXAMPLE, 0.9, 0.5);
  close(r.advantages, [[0.04], [0.8], [1.5]], "advantages");
  close(r.returns, [[0.54], [1], [1.8]], "returns");
  // λ = 0: one-step TD errors.
  close(gae(EXAMPLE, 0.9, 0).advantages, [[-0.32], [0.8], [1.5]], "td");
});

Deno.test("gae() keeps envs apart and rejects ragged rows", () => {
  const two = {
    rewards: [[0, 1], [1, 0]],
    values: [[0, 0], [0, 0]],
    dones: [[false, true], [true, false]],
    lastValues: [7, 10],
  };
  close(gae(two, 0.5, 1).returns, [[0.5, 1], [1, 5]], "returns");
  assert.throws(() => gae({ ...two, values: [[0], [0, 0]] }, 0.5, 1), /values\[0\] has 1 envs/);
  assert.throws(() => gae(two, 1.5, 1), /gamma/);
});

Deno.test("whiten() centres and scales by the unbiased variance (TRL's masked_whiten)", () => {
  const w = whiten([1, 2, 3, 6]);
  // mean 3, unbiased var (4 + 1 + 0 + 9) / 3 = 14/3.
  const sd = Math.sqrt(14 / 3 + 1e-8);
  [-2, -1, 0, 3].forEach((d, i) => assert.ok(Math.abs(w[i] - d / sd) < 1e-12));
  const kept = whiten([1, 2, 3, 6], false);
  assert.ok(Math.abs(kept[0] - (3 - 2 / sd)) < 1e-12);
  assert.deepEqual([...whiten([5])], [0]);
});
