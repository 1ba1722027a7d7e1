import assert from "node:assert/strict";
import { bootstrapMean, pairedBootstrap } from "./bootstrap.ts";

Deno.test("bootstrapMean() brackets the mean and narrows with more data", () => {
  const x = Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? 1 : 0));
  const r = bootstrapMean(x, { seed: 1 });
  assert.equal(r.value, 0.25);
  assert.ok(r.lo < 0.25 && r.hi > 0.25);
  // Normal approximation: ±1.96·sqrt(p(1−p)/n) = ±0.042.
  assert.ok(
    Math.abs(r.hi - r.lo - 2 * 1.96 * Math.sqrt(0.25 * 0.75 / 400)) < 0.015,
    `${r.lo} ${r.hi}`,
  );
  const small = bootstrapMean(x.slice(0, 40), { seed: 1 });
  assert.ok(small.hi - small.lo > r.hi - r.lo);
  assert.throws(() => bootstrapMean([]), /no values/);
});

Deno.test("pairedBootstrap() sees a consistent gain that unpaired intervals would blur", () => {
  // b solves the same goals as a plus 30 more of 300: a gain of 0.1 on every resample.
  const a = Array.from({ length: 300 }, (_, i) => (i < 90 ? 1 : 0));
  const b = Array.from({ length: 300 }, (_, i) => (i < 120 ? 1 : 0));
  const d = pairedBootstrap(b, a, { seed: 2 });
  assert.ok(Math.abs(d.value - 0.1) < 1e-12);
  assert.ok(d.lo > 0.05 && d.hi < 0.15, `${d.lo} ${d.hi}`);
  assert.throws(() => pairedBootstrap([1], [1, 0]), /paired/);
});
