import assert from "node:assert/strict";
import { DPO_LOSS_TYPES, dpoLoss, type DpoLossOptions, logSigmoid } from "./dpo_loss.ts";

const opts = (lossType: DpoLossOptions["lossType"], beta = 0.1, labelSmoothing = 0) => ({
  lossType,
  beta,
  labelSmoothing,
});

Deno.test("dpoLoss() is ln 2 with zero margins when the policy equals the reference", () => {
  const pairs = {
    policyChosen: [-1.2, -0.3, -2.5],
    policyRejected: [-2.0, -1.1, -0.7],
    refChosen: [-1.2, -0.3, -2.5],
    refRejected: [-2.0, -1.1, -0.7],
  };
  const r = dpoLoss(pairs, opts("sigmoid"));
  assert.ok(Math.abs(r.loss - Math.LN2) < 1e-12, `${r.loss}`);
  assert.equal(r.metrics["rewards/margins"], 0);
  assert.equal(r.metrics["rewards/chosen"], 0);
  assert.equal(r.metrics["rewards/rejected"], 0);
  assert.equal(r.metrics["rewards/accuracies"], 0); // TRL counts chosen > rejected, strictly
  // d/dh of −log σ(βh) at h = 0 is −β/2; per pair with the mean's 1/n.
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(r.dChosen[i] + 0.1 / 2 / 3) < 1e-12);
    assert.ok(Math.abs(r.dRejected[i] - 0.1 / 2 / 3) < 1e-12);
  }
  assert.ok(Math.abs(r.metrics["logps/chosen"] - (-4 / 3)) < 1e-12);
});

Deno.test("dpoLoss() variants match hand-computed values", () => {
  // One pair with h = (πc − πr) − (ρc − ρr) = (−1 − −3) − (−2 − −2.5) = 2 − 0.5 = 1.5.
  const pair = { policyChosen: [-1], policyRejected: [-3], refChosen: [-2], refRejected: [-2.5] };
  const b = 0.5, h = 1.5;
  const cases: [DpoLossOptions, number][] = [
    [opts("sigmoid", b), Math.log1p(Math.exp(-b * h))],
    [
      opts("sigmoid", b, 0.2),
      0.8 * Math.log1p(Math.exp(-b * h)) + 0.2 * Math.log1p(Math.exp(b * h)),
    ],
    [
      opts("robust", b, 0.2),
      (0.8 * Math.log1p(Math.exp(-b * h)) - 0.2 * Math.log1p(Math.exp(b * h))) / 0.6,
    ],
    [opts("hinge", b), Math.max(0, 1 - b * h)],
    [opts("hinge", 0.1), 1 - 0.15],
    [opts("ipo", b), (h - 1 / (2 * b)) ** 2],
  ];
  for (const [o, want] of cases) {
    const r = dpoLoss(pair, o);
    assert.ok(
      Math.abs(r.loss - want) < 1e-12,
      `${o.lossType} ε=${o.labelSmoothing}: ${r.loss} vs ${want}`,
    );
  }
  const r = dpoLoss(pair, opts("sigmoid", b));
  assert.ok(Math.abs(r.metrics["rewards/chosen"] - b * 1) < 1e-12);
  assert.ok(Math.abs(r.metrics["rewards/rejected"] - b * -0.5) < 1e-12);
  assert.ok(Math.abs(r.metrics["rewards/margins"] - b * h) < 1e-12);
  assert.equal(r.metrics["rewards/accuracies"], 1);
});

Deno.test("dpoLoss() gradients match central differences for every variant", () => {
  const base = {
    policyChosen: [-0.7, -2.1, -1.4],
    policyRejected: [-1.9, -0.4, -1.5],
    refChosen: [-1.0, -1.8, -1.3],
    refRejected: [-1.2, -0.9, -2.6],
  };
  const eps = 1e-6;
  for (const t of DPO_LOSS_TYPES) {
    for (const [beta, rpoAlpha] of [[0.1, 0], [2, 0], [0.1, 0.7]]) {
      const o = { ...opts(t, beta, t === "sigmoid" || t === "robust" ? 0.1 : 0), rpoAlpha };
      const r = dpoLoss(base, o);
      for (const k of ["policyChosen", "policyRejected"] as const) {
        for (let i = 0; i < 3; i++) {
          const plus = structuredClone(base), minus = structuredClone(base);
          plus[k][i] += eps;
          minus[k][i] -= eps;
          const fd = (dpoLoss(plus, o).loss - dpoLoss(minus, o).loss) / (2 * eps);
          const an = (k === "policyChosen" ? r.dChosen : r.dRejected)[i];
          assert.ok(Math.abs(fd - an) < 1e-6, `${t} β=${beta} ${k}[${i}]: ${an} vs ${fd}`);
        }
      }
    }
  }
});

Deno.test("dpoLoss() with rpoAlpha adds α times the chosen NLL, as TRL's rpo_alpha", () => {
  // Two pairs at policy = reference: the DPO part is ln 2 with dℓ/dπc = −β/2 per pair.
  const pairs = {
    policyChosen: [-1, -3],
    policyRejected: [-2, -0.5],
    refChosen: [-1, -3],
    refRejected: [-2, -0.5],
  };
  const r = dpoLoss(pairs, { ...opts("sigmoid", 0.1), rpoAlpha: 0.5 });
  // nll = mean(1, 3) = 2; loss = ln 2 + 0.5 · 2.
  assert.ok(Math.abs(r.loss - (Math.LN2 + 1)) < 1e-12, `${r.loss}`);
  assert.equal(r.metrics.nll_loss, 2);
  // dπc = (−β/2 − α)/n = (−0.05 − 0.5)/2; dπr unchanged, β/2/n.
  for (let i = 0; i < 2; i++) {
    assert.ok(Math.abs(r.dChosen[i] - (-0.55 / 2)) < 1e-12);
    assert.ok(Math.abs(r.dRejected[i] - 0.05 / 2) < 1e-12);
  }
  assert.equal(dpoLoss(pairs, opts("sigmoid", 0.1)).metrics.nll_loss, undefined);
  assert.throws(
    () => dpoLoss(pairs, { ...opts("sigmoid"), rpoAlpha: -1 }),
    /rpoAlpha must be >= 0/,
  );
});

Deno.test("dpoLoss() rejects non-finite log-probs and bad options, naming them", () => {
  const p = { policyChosen: [NaN], policyRejected: [-1], refChosen: [-1], refRejected: [-1] };
  assert.throws(() => dpoLoss(p, opts("sigmoid")), /policyChosen\[0\] is NaN/);
  const ok = { policyChosen: [-1], policyRejected: [-1], refChosen: [-1], refRejected: [-1] };
  assert.throws(() => dpoLoss(ok, opts("sigmoid", 0)), /beta/);
  assert.throws(() => dpoLoss(ok, opts("ipo", 0.1, 0.1)), /labelSmoothing/);
  assert.throws(() => dpoLoss(ok, { ...opts("sigmoid"), lossType: "kto" as "ipo" }), /lossType/);
});

Deno.test("logSigmoid() is stable at large |x|", () => {
  assert.equal(logSigmoid(1000), -0);
  assert.ok(Math.abs(logSigmoid(-1000) + 1000) < 1e-9);
  assert.ok(Math.abs(logSigmoid(0) + Math.LN2) < 1e-15);
});
