import assert from "node:assert/strict";
import { type PolicyBatch, type PolicyLossOptions, ppoLoss } from "./ppo_loss.ts";

const PPO: PolicyLossOptions = {
  clipLow: 0.8,
  clipHigh: 1.2,
  wPg: 1,
  wVf: 0,
  wEn: 0,
  clipValue: 0,
};

/** Decisions of two actions, chosen action 0 at probability 0.5, old probability 0.5/z. */
function ratios(zs: number[], advantages: number[]): PolicyBatch {
  return {
    sizes: zs.map(() => 2),
    logp: zs.flatMap(() => [Math.log(0.5), Math.log(0.5)]),
    targets: zs.map(() => 0),
    oldLogp: zs.map((z) => Math.log(0.5 / z)),
    advantages,
  };
}

const near = (a: number, b: number, what: string, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

Deno.test("ppoLoss() clipped objective: value and gradient inside, above and below the clip, ±advantage", () => {
  // ε = 0.2. Per decision: pg = −min(zA, clip(z)A); ∂pg/∂ℓ = −Az where the unclipped term is the min.
  const cases = [
    { z: 1.1, A: 2, pg: -2.2, g: -2.2, clipped: 0 }, // inside
    { z: 1.5, A: 2, pg: -2.4, g: 0, clipped: 1 }, // above, A > 0: clipped, no gradient
    { z: 1.5, A: -1, pg: 1.5, g: 1.5, clipped: 0 }, // above, A < 0: the unclipped term is the min
    { z: 0.5, A: 1, pg: -0.5, g: -0.5, clipped: 0 }, // below, A > 0: unclipped
    { z: 0.5, A: -1, pg: 0.8, g: 0, clipped: 1 }, // below, A < 0: clipped, no gradient
  ];
  const r = ppoLoss(ratios(cases.map((c) => c.z), cases.map((c) => c.A)), PPO);
  const n = cases.length;
  near(r.loss, cases.reduce((a, c) => a + c.pg, 0) / n, "loss");
  near(r.loss, -0.56, "loss by hand");
  cases.forEach((c, s) => {
    near(r.stats[s * 8], c.pg, `pg ${s}`);
    assert.equal(r.stats[s * 8 + 1], c.clipped, `clipped ${s}`);
    near(r.dLogp[2 * s], c.g / n, `gradient ${s}`);
    assert.equal(r.dLogp[2 * s + 1], 0);
  });
  assert.equal(r.metrics["policy/clipfrac_avg"], 2 / 5);
  near(r.metrics["val/ratio"], (1.1 + 1.5 + 1.5 + 0.5 + 0.5) / 5, "ratio", 1e-12);
  const lr = cases.map((c) => Math.log(c.z));
  near(r.metrics["policy/approxkl_avg"], 0.5 * lr.reduce((a, x) => a + x * x, 0) / n, "approxkl");
  assert.equal(r.dValues, null);
});

Deno.test("ppoLoss() clip fraction counts only strictly clipped decisions", () => {
  // At exactly the bound the two terms are equal: not clipped. Zero advantage: never clipped.
  const r = ppoLoss(ratios([1.2, 1.3, 1.3, 0.7], [1, 0, 1, -1]), PPO);
  assert.deepEqual([0, 1, 2, 3].map((s) => r.stats[s * 8 + 1]), [0, 0, 1, 1]);
  assert.equal(r.metrics["policy/clipfrac_avg"], 0.5);
});

Deno.test("ppoLoss() value term (WebShop's (V − R)², TRL's clipping) and entropy term by hand", () => {
  const b: PolicyBatch = {
    sizes: [2, 1],
    logp: [Math.log(0.25), Math.log(0.75), 0],
    targets: [1, 0],
    oldLogp: [Math.log(0.75), 0],
    advantages: [0, 0],
    values: [1.5, 1.1],
    returns: [2, 2],
    oldValues: [1, 1],
  };
  const o = { ...PPO, wVf: 1, wEn: 1 };
  const plain = ppoLoss(b, o);
  near(plain.metrics["loss/value_avg"], (0.25 + 0.81) / 2, "vf");
  near(plain.dValues![0], 2 * (1.5 - 2) / 2, "dV0");
  near(plain.dValues![1], 2 * (1.1 - 2) / 2, "dV1");
  const plogp = 0.25 * Math.log(0.25) + 0.75 * Math.log(0.75);
  near(plain.metrics["loss/entropy"], plogp / 3, "en"); // mean over the 3 valid actions
  near(plain.metrics["policy/entropy_avg"], -plogp / 2, "entropy");
  near(plain.dLogp[0], 0.25 * (Math.log(0.25) + 1) / 3, "dℓ en");
  near(plain.loss, (0.25 + 0.81) / 2 + plogp / 3, "loss");
  // c = 0.2: V = 1.5 is clipped to 1.2, (1.2 − 2)² = 0.64 > 0.25, so the clipped term wins (no
  // gradient); V = 1.1 is inside.
  const clipped = ppoLoss(b, { ...o, clipValue: 0.2 });
  near(clipped.stats[5], 0.64, "vf clipped");
  assert.equal(clipped.dValues![0], 0);
  near(clipped.dValues![1], 2 * (1.1 - 2) / 2, "dV1");
  assert.equal(clipped.metrics["val/clipfrac_avg"], 0.5);
});

Deno.test("ppoLoss() gradient equals central differences of the whole loss", () => {
  const sizes = [3, 2, 4];
  const logp = [-1.3, -0.7, -1.6, -0.2, -1.9, -1.1, -1.5, -2.2, -0.9];
  const b: PolicyBatch = {
    sizes,
    logp,
    targets: [0, 1, 3],
    oldLogp: [-1.25, -1.95, -0.6],
    advantages: [0.7, -1.2, 0.4],
    values: [0.3, -0.2, 1.1],
    returns: [1, 0.5, 0.4],
    oldValues: [0.2, 0.1, 0.9],
  };
  const o = { ...PPO, wVf: 0.5, wEn: 0.3, clipValue: 0.2 };
  const r = ppoLoss(b, o);
  const h = 1e-6;
  for (let a = 0; a < logp.length; a++) {
    const up = [...logp], dn = [...logp];
    up[a] += h;
    dn[a] -= h;
    const fd = (ppoLoss({ ...b, logp: up }, o).loss - ppoLoss({ ...b, logp: dn }, o).loss) /
      (2 * h);
    near(r.dLogp[a], fd, `dℓ[${a}]`, 1e-7);
  }
  for (let s = 0; s < 3; s++) {
    const up = Array.from(b.values!), dn = Array.from(b.values!);
    up[s] += h;
    dn[s] -= h;
    const fd = (ppoLoss({ ...b, values: up }, o).loss - ppoLoss({ ...b, values: dn }, o).loss) /
      (2 * h);
    near(r.dValues![s], fd, `dV[${s}]`, 1e-7);
  }
  assert.throws(() => ppoLoss({ ...b, targets: [0, 2, 0] }, o), /target 2 of decision 1/);
  assert.throws(() => ppoLoss(b, { ...o, clipLow: 1.1 }), /clipLow/);
});
