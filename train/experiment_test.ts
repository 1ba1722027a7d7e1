import assert from "node:assert/strict";
import type { Gpu } from "../kernels/device.ts";
import {
  experimentConfig,
  experimentPhases,
  runExperiment,
  secondsLeft,
  trainerMinutes,
  TRAINERS,
} from "./experiment.ts";

const QUICK = { ...experimentConfig(true, 2), trainerMinutes: 0.5 };

Deno.test("experimentPhases(): the reference, each trainer per seed, generate before its users, then evaluation", () => {
  const ids = experimentPhases(QUICK, "x").map((p) => p.id);
  assert.deepEqual(ids, [
    "il",
    "dpo-demos-s0",
    "dpo-demos-s1",
    "generate",
    "dpo-generated-s0",
    "dpo-generated-s1",
    "ppo-s0",
    "ppo-s1",
    "loop-s0",
    "loop-s1",
    "greedy",
    "thompson",
    "report",
  ]);
  const gen = experimentPhases(QUICK, "x").find((p) => p.id === "dpo-generated-s0")!;
  assert.equal(gen.skip(new Map()), "needs the generate phase, which did not finish");
  assert.match(gen.skip(new Map([["generate", { kept: 0, played: 64 }]]))!, /of 64 episodes/);
  assert.equal(gen.skip(new Map([["generate", { file: "g.jsonl", kept: 3 }]])), null);
});

Deno.test("trainerMinutes() splits what the other phases leave equally between the trainer runs", () => {
  const base = experimentConfig(true, 2);
  const runs = TRAINERS.filter((t) => !t.missing).length * 2;
  const m = trainerMinutes(base, 30);
  const phases = experimentPhases({ ...base, trainerMinutes: m }, "");
  const total = phases.reduce((a, p) => a + p.estimate, 0);
  assert.ok(total <= 30 * 60, `plan ${total} s within 30 min`);
  assert.ok(total > 30 * 60 - runs * 6 - 1, `plan ${total} s uses the budget (0.1 min steps)`);
  assert.equal(trainerMinutes(base, 0.1), 0.2, "never below the floor");
});

Deno.test("secondsLeft(): budgets as planned, the rest at the pace so far", () => {
  // 100 s budget + 20 s set-up, and a 50 s phase, at half the planned pace and at twice it.
  const left = [{ estimate: 120, budget: 100 }, { estimate: 50 }];
  assert.equal(secondsLeft(left, 0.5), 100 + 10 + 25);
  assert.equal(secondsLeft(left, 2), 100 + 40 + 100);
  // Before anything ran, the ETA is the whole plan (the run passes every phase not done, also
  // Thompson sampling and DPO on generated trajectories, which wait for earlier phases).
  const base = experimentConfig(false, 3);
  const phases = experimentPhases({ ...base, trainerMinutes: trainerMinutes(base, 60) }, "");
  const plan = phases.reduce((a, p) => a + p.estimate, 0);
  assert.equal(secondsLeft(phases, 1), plan);
  assert.ok(plan > 55 * 60 && plan <= 60 * 60, `plan ${plan} s fills the 60-minute default`);
});

Deno.test("runExperiment() refuses a folder holding an experiment with other settings, naming the file", async () => {
  const runsDir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${runsDir}/x`);
    await Deno.writeTextFile(
      `${runsDir}/x/experiment.json`,
      JSON.stringify({
        kind: "webshop-experiment",
        command: "",
        config: { seeds: 9 },
        phases: [],
        agents: [],
      }),
    );
    await assert.rejects(
      // Checked before any data is made or the GPU is used.
      () => runExperiment(null as unknown as Gpu, QUICK, { runsDir, name: "x", command: "t" }),
      new RegExp(`^Error: ${runsDir}/x/experiment\\.json: an experiment with other settings`),
    );
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});
