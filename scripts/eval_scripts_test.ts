import assert from "node:assert/strict";
import { prepareCatalog } from "../train/data.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs a script in `cwd` (its runs/ is then the temporary folder's), allowed to write only there. */
async function run(cwd: string, script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      `${ROOT}deno.json`,
      "--allow-read",
      "--allow-env",
      `--allow-write=${cwd}`,
      `${ROOT}scripts/${script}`,
      ...args,
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_WEBGPU_BACKEND: "dx12" }, // no adapter: nothing reaches a GPU
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "eval_scripts_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("eval:greedy prints deno task rollout's numbers for random and oracle (same catalog, goals, seed)", async () => {
  await withDir(async (dir) => {
    for (const agent of ["random", "oracle"]) {
      const g = await run(dir, "eval_greedy.ts", [
        "--agent",
        agent,
        "--products",
        "120",
        "--seeds",
        "1",
        "--seed",
        "2",
        "--name",
        `g-${agent}`,
        "--json",
      ]);
      assert.equal(g.code, 0, g.stderr);
      const greedy = JSON.parse(g.stdout);
      assert.deepEqual(greedy.seeds, [2]);
      const saved = JSON.parse(await Deno.readTextFile(`${dir}/runs/g-${agent}/greedy.json`));
      assert.deepEqual(saved, greedy);
      const r = await run(dir, "rollout.ts", [
        "--catalog",
        "runs/cache/synthetic-p120-s0",
        "--policy",
        agent,
        "--human-queries",
        "--episodes",
        "10", // the test split of 240 goals
        "--seed",
        "2",
        "--json",
        "--out",
        `runs/r-${agent}.jsonl`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const roll = JSON.parse(r.stdout);
      assert.equal(roll.distinctGoals, 10);
      const s = greedy.perSeed[0];
      assert.deepEqual([s.score, s.successRate, s.meanSteps], [
        roll.score,
        roll.successRate,
        roll.meanSteps,
      ]);
    }
  });
});

Deno.test("eval:thompson: oracle vs random writes thompson.json and one line per rollout", async () => {
  await withDir(async (dir) => {
    const r = await run(dir, "eval_thompson.ts", [
      "--agents",
      "oracle,floor=random",
      "--products",
      "120",
      "--runs",
      "2",
      "--rollouts",
      "30",
      "--step-limit",
      "20",
      "--name",
      "t",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.kind, "webshop-thompson");
    assert.deepEqual(result.config.agents, [
      { label: "oracle", source: "oracle" },
      { label: "floor", source: "random" },
    ]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/runs/t/thompson.json`)), result);
    const lines = (await Deno.readTextFile(`${dir}/runs/t/thompson_rollouts.jsonl`)).trim()
      .split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 60);
    assert.deepEqual(Object.keys(lines[0]), [
      "run",
      "t",
      "agent",
      "goal",
      "score",
      "success",
      "posteriorMeans",
    ]);
  });
});

Deno.test("eval:thompson: an unknown agent lists the forms (exit 2); a missing checkpoint is one line naming it before any rollout", async () => {
  await withDir(async (dir) => {
    const u = await run(dir, "eval_thompson.ts", ["--agents", "oracle,orcale"]);
    assert.equal(u.code, 2, u.stderr);
    assert.match(
      u.stderr.split("\n")[0],
      /^eval:thompson: unknown agent "orcale" \(forms: random, oracle, a checkpoint file/,
    );
    const m = await run(dir, "eval_thompson.ts", [
      "--agents",
      "oracle,dpo=runs/none/final.safetensors",
      "--products",
      "120",
      "--vocab-size",
      "300",
      "--name",
      "m",
    ]);
    assert.equal(m.code, 1, m.stderr);
    const errs = m.stderr.trim().split("\n").filter((l) => !l.startsWith("data:"));
    assert.equal(errs.length, 1, m.stderr);
    assert.match(errs[0], /^eval:thompson: runs\/none\/final\.safetensors: cannot read checkpoint/);
    assert.ok(!/rollouts/.test(m.stderr) && !/\n\s+at /.test(m.stderr), m.stderr);
    await assert.rejects(() => Deno.stat(`${dir}/runs/m`), Deno.errors.NotFound);
  });
});

Deno.test("recommend: with the oracle, a goal's instruction ranks its target first (synthetic catalog)", async () => {
  await withDir(async (dir) => {
    const { catalog } = await prepareCatalog(
      { catalog: "synthetic", products: 120, catalogSeed: 0, cacheDir: `${dir}/runs/cache` },
      () => {},
    );
    const goal = catalog.goals[5];
    const r = await run(dir, "recommend.ts", [
      "--agent",
      "oracle",
      "--instruction",
      goal.instruction_text,
      "--products",
      "120",
      "--runs",
      "4",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.goalIndex, 5);
    assert.equal(out.recommendations[0].asin, goal.asin);
    assert.equal(out.recommendations[0].count, 4);
    const bad = await run(dir, "recommend.ts", ["--agent", "oracle"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^recommend: --instruction is required/);
  });
});
