import assert from "node:assert/strict";
import seedrandom from "seedrandom";
import {
  betaCredible,
  betaQuantile,
  logGamma,
  regularizedIncompleteBeta,
  sampleBeta,
  sampleGamma,
} from "./beta.ts";

// [a, b, [q(0.025), q(0.5), q(0.975)], I_0.3(a, b)] from SciPy 1.17.1 (`scipy.stats.beta.ppf`
// and `.cdf`), computed once outside this project.
const SCIPY: [number, number, [number, number, number], number][] = [
  [1, 1, [0.025, 0.5, 0.975], 0.3],
  [2, 5, [0.043271868292741676, 0.26444998329566005, 0.6412345789976748], 0.5798250000000003],
  [0.5, 0.5, [0.001541333133436012, 0.4999999999999999, 0.9984586668665639], 0.36901011956554536],
  [31, 971, [0.02113693887928364, 0.030626465000187883, 0.042509169300003924], 1.0],
  [971, 31, [0.9574908306999961, 0.9693735349998122, 0.9788630611207163], 0.0],
  [1, 1001, [2.529219561584832e-05, 0.0006922150343887965, 0.003678412265034924], 1.0],
  [
    800.5,
    200.5,
    [0.7743623284512405, 0.7998999534168181, 0.8239040751225506],
    1.2626545254740664e-234,
  ],
  [3, 1, [0.2924017738212866, 0.7937005259840998, 0.9915962413403874], 0.026999999999999996],
  [0.2, 7, [9.646535880468304e-10, 0.003135535088631641, 0.20426038960901727], 0.9918224580173817],
  [57, 4, [0.8607567532789272, 0.9391405197768756, 0.9815382224241185], 1.88428023414889e-26],
];

function close(actual: number, expected: number, rel: number, what: string): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);
  assert.ok(err <= rel, `${what}: ${actual}, SciPy ${expected} (relative error ${err})`);
}

Deno.test("betaQuantile() and regularizedIncompleteBeta() equal SciPy's to 1e-10", () => {
  for (const [a, b, qs, cdf] of SCIPY) {
    [0.025, 0.5, 0.975].forEach((p, i) => {
      close(betaQuantile(p, a, b), qs[i], 1e-10, `q(${p}; ${a}, ${b})`);
      // The inverse inverts: I at the quantile gives p back.
      close(regularizedIncompleteBeta(qs[i], a, b), p, 1e-9, `I(q(${p}); ${a}, ${b})`);
    });
    if (cdf > 0 && cdf < 1) close(regularizedIncompleteBeta(0.3, a, b), cdf, 1e-10, `I_0.3`);
    else assert.ok(Math.abs(regularizedIncompleteBeta(0.3, a, b) - cdf) < 1e-15);
  }
});

Deno.test("betaCredible() is the 2.5% and 97.5% quantiles; Beta(1, 1) is uniform", () => {
  const [l25, h25] = betaCredible(2, 5);
  close(l25, SCIPY[1][2][0], 1e-10, "lo of Beta(2, 5)");
  close(h25, SCIPY[1][2][2], 1e-10, "hi of Beta(2, 5)");
  const [lo, hi] = betaCredible(1, 1);
  close(lo, 0.025, 1e-12, "lo");
  close(hi, 0.975, 1e-12, "hi");
  assert.throws(() => betaQuantile(0.5, 0, 1), /positive/);
  assert.throws(() => betaQuantile(1.5, 1, 1), /not in \[0, 1\]/);
  assert.equal(betaQuantile(0, 2, 3), 0);
  assert.equal(betaQuantile(1, 2, 3), 1);
});

// lnΓ(171.5) from Python's math.lgamma.
Deno.test("logGamma() matches factorials, Γ(1/2) = √π and math.lgamma", () => {
  assert.ok(Math.abs(logGamma(1)) < 1e-14 && Math.abs(logGamma(2)) < 1e-14);
  close(logGamma(11), Math.log(3628800), 1e-14, "lnΓ(11)");
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14, "lnΓ(1/2)");
  close(logGamma(171.5), 709.1431630309282, 1e-13, "lnΓ(171.5)");
});

Deno.test("sampleBeta() and sampleGamma() have the right moments and are seeded", () => {
  for (const [a, b] of [[2, 5], [0.5, 0.5], [30, 3], [1, 1]]) {
    const rng = seedrandom.alea(`beta-test:${a}:${b}`);
    const n = 40_000;
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = sampleBeta(a, b, rng);
      assert.ok(x >= 0 && x <= 1);
      s += x;
      s2 += x * x;
    }
    const mean = s / n, variance = s2 / n - mean * mean;
    const m = a / (a + b), v = a * b / ((a + b) ** 2 * (a + b + 1));
    // Five standard errors of the mean; 5% on the variance.
    assert.ok(Math.abs(mean - m) < 5 * Math.sqrt(v / n), `Beta(${a}, ${b}) mean ${mean} vs ${m}`);
    assert.ok(Math.abs(variance - v) < 0.05 * v, `Beta(${a}, ${b}) variance ${variance} vs ${v}`);
  }
  const rng = seedrandom.alea("gamma-test");
  let g = 0;
  for (let i = 0; i < 20_000; i++) g += sampleGamma(0.3, rng);
  assert.ok(
    Math.abs(g / 20_000 - 0.3) < 5 * Math.sqrt(0.3 / 20_000),
    `Gamma(0.3) mean ${g / 20_000}`,
  );
  const a = seedrandom.alea("same"), b = seedrandom.alea("same");
  assert.equal(sampleBeta(3, 4, a), sampleBeta(3, 4, b));
  assert.throws(() => sampleGamma(0, rng), /positive/);
});
