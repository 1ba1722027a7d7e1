import assert from "node:assert/strict";
import { keptRollouts, leaveOneOutAdvantages, loopClipBounds } from "./loop_loss.ts";
import { ppoLoss } from "./ppo_loss.ts";

Deno.test("leaveOneOutAdvantages() sum to zero and equal K/(K−1)·(R − mean)", () => {
  const R = [0.2, 1, 0, 0.55, 0.75, 0.1];
  const A = leaveOneOutAdvantages(R);
  const K = R.length, mean = R.reduce((a, b) => a + b, 0) / K;
  assert.ok(Math.abs(A.reduce((a, b) => a + b, 0)) < 1e-12);
  A.forEach((a, k) => {
    const others = R.filter((_, i) => i !== k);
    assert.ok(Math.abs(a - (R[k] - others.reduce((x, y) => x + y, 0) / (K - 1))) < 1e-12);
    assert.ok(Math.abs(a - K / (K - 1) * (R[k] - mean)) < 1e-12);
  });
  assert.deepEqual(leaveOneOutAdvantages([1, 0, 0, 0]).map((x) => +x.toFixed(12)), [
    1,
    -0.333333333333,
    -0.333333333333,
    -0.333333333333,
  ]);
  assert.throws(() => leaveOneOutAdvantages([1]), /K >= 2/);
  // Normalised: divided by the unbiased std (+1e-4).
  const n = leaveOneOutAdvantages([1, 0], true);
  assert.ok(Math.abs(n[0] - 1 / (Math.SQRT1_2 + 1e-4)) < 1e-9);
});

Deno.test("keptRollouts() drops |A| < 0.01; an all-equal group keeps none and gives no gradient", () => {
  assert.deepEqual(keptRollouts([0.5, -0.009, 0.01, -0.01, 0], 0.01), [0, 2, 3]);
  const A = leaveOneOutAdvantages([0.4, 0.4, 0.4, 0.4, 0.4, 0.4]);
  assert.ok(A.every((a) => Math.abs(a) < 1e-12), `${A}`); // zero up to rounding
  assert.deepEqual(keptRollouts(A, 0.01), []);
  // Even unfiltered, zero advantages give a zero policy gradient at any ratio.
  const r = ppoLoss({
    sizes: [2, 3, 2],
    logp: [-0.3, -1.4, -1, -1.2, -1.1, -0.1, -2.4],
    targets: [0, 2, 1],
    oldLogp: [-0.5, -0.7, -3],
    advantages: [0, 0, 0],
  }, { ...loopClipBounds(0.1), wPg: 1, wVf: 0, wEn: 0, clipValue: 0 });
  assert.ok(r.dLogp.every((g) => g === 0));
  assert.equal(r.loss, 0);
});

Deno.test("loopClipBounds() is asymmetric: [1/(1+ε), 1+ε], and the loss clips there", () => {
  const { clipLow, clipHigh } = loopClipBounds(0.1);
  assert.ok(Math.abs(clipLow - 1 / 1.1) < 1e-15);
  assert.equal(clipHigh, 1.1);
  assert.throws(() => loopClipBounds(0), /epsilon/);
  // Ratio 0.905 with A < 0: inside a symmetric [0.9, 1.1], clipped below 1/1.1 ≈ 0.909.
  const b = {
    sizes: [2],
    logp: [Math.log(0.5), Math.log(0.5)],
    targets: [0],
    oldLogp: [Math.log(0.5 / 0.905)],
    advantages: [-1],
  };
  const base = { wPg: 1, wVf: 0, wEn: 0, clipValue: 0 };
  const loop = ppoLoss(b, { ...base, clipLow, clipHigh });
  const sym = ppoLoss(b, { ...base, clipLow: 0.9, clipHigh: 1.1 });
  assert.equal(loop.metrics["policy/clipfrac_avg"], 1);
  assert.equal(loop.dLogp[0], 0);
  assert.ok(Math.abs(loop.loss - clipLow) < 1e-12);
  assert.equal(sym.metrics["policy/clipfrac_avg"], 0);
  assert.ok(Math.abs(sym.dLogp[0] - 0.905) < 1e-12);
});
