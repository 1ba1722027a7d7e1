import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { DEFAULT_REWARD_MODE } from "../env/reward.ts";

const SCRIPT = new URL("./rollout.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

/** Runs the rollout script allowed to write only into `dir` (never the project's runs/). */
async function rollout(
  dir: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", `--allow-write=${dir}`, SCRIPT, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rollout_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("rollout script: oracle on a small synthetic catalog prints WebShop's metrics", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/episodes.jsonl`;
    const r = await rollout(dir, [
      "--products",
      "120",
      "--policy",
      "oracle",
      "--episodes",
      "6",
      "--split",
      "all",
      "--reward-mode",
      "corrected",
      "--json",
      "--out",
      file,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assertEquals([summary.policy, summary.episodes, summary.rewardMode], [
      "oracle",
      6,
      "corrected",
    ]);
    assertEquals([summary.score, summary.successRate], [100, 1]);
    ok(summary.meanSteps >= 3 && summary.stepsPerSecond > 0, JSON.stringify(summary));
    ok(/120 products loaded, 0 skipped/.test(r.stderr), r.stderr);
    assertEquals(summary.file, file);
    const lines = (await Deno.readTextFile(file)).trim().split("\n");
    assertEquals(lines.length, 7);
    assertEquals(JSON.parse(lines[0]).actions.at(-1), "click[buy now]");
  });
});

Deno.test("rollout script: more episodes than split goals says so; default reward mode", async () => {
  await withTempDir(async (dir) => {
    // 120 products give 240 goals, 10 of them in the test split.
    const r = await rollout(dir, [
      "--products",
      "120",
      "--episodes",
      "13",
      "--json",
      "--out",
      `${dir}/e.jsonl`,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim());
    assertEquals([summary.rewardMode, summary.distinctGoals], [DEFAULT_REWARD_MODE, 10]);
    ok(
      /note: 13 episodes over the 10 test goals: 3 episodes replay goals/.test(r.stderr),
      r.stderr,
    );
  });
});

Deno.test("rollout script: bad flags exit 2 with usage, bad data exit 1 with one line", async () => {
  await withTempDir(async (dir) => {
    const r = await rollout(dir, ["--nope"]);
    assertEquals(r.code, 2);
    ok(r.stderr.includes("usage: deno task rollout"), r.stderr);
    const bad = await rollout(dir, ["--policy", "greedy"]);
    assertEquals(bad.code, 2);
    ok(bad.stderr.includes("--policy must be one of random, oracle"), bad.stderr);
    const huge = await rollout(dir, ["--products", "100000000"]);
    assertEquals(huge.code, 2);
    ok(huge.stderr.includes("--products must be at most 200000"), huge.stderr);
    const steps = await rollout(dir, ["--step-limit", "1000000000"]);
    assertEquals(steps.code, 2);
    ok(steps.stderr.includes("--step-limit must be at most 10000"), steps.stderr);

    const oneLine = (s: string) => s.trim().split("\n").length === 1 && !/\n\s+at /.test(s);
    const missing = await rollout(dir, ["--catalog", `${dir}/nowhere`]);
    assertEquals(missing.code, 1);
    ok(
      /^rollout: .*cannot read folder/.test(missing.stderr) && oneLine(missing.stderr),
      missing.stderr,
    );
    const empty = await rollout(dir, ["--catalog", dir]);
    assertEquals(empty.code, 1);
    ok(/^rollout: no product file/.test(empty.stderr) && oneLine(empty.stderr), empty.stderr);
    const record = (asin: string, name?: string) => ({
      asin,
      ...(name ? { name } : {}),
      pricing: "$10.00",
      images: [],
      product_category: "a › b",
      category: "beauty",
      query: "x",
    });
    await Deno.writeTextFile(`${dir}/items_shuffle.json`, JSON.stringify([record("B000000001")]));
    const invalid = await rollout(dir, ["--catalog", dir]);
    assertEquals(invalid.code, 1);
    ok(
      /^rollout: all 1 product records are invalid: 0 products loaded, 1 skipped/.test(
        invalid.stderr,
      ),
      invalid.stderr,
    );
    ok(oneLine(invalid.stderr), invalid.stderr);
    await Deno.writeTextFile(
      `${dir}/items_shuffle.json`,
      JSON.stringify([record("B000000001", "Mug"), record("B000000002")]),
    );
    const strict = await rollout(dir, ["--catalog", dir, "--strict"]);
    assertEquals(strict.code, 1);
    ok(
      /^rollout: .*items_shuffle\.json: record 1 \(asin B000000002\): .*name/.test(strict.stderr),
      strict.stderr,
    );
    const lenient = await rollout(dir, ["--catalog", dir]);
    assertEquals(lenient.code, 1);
    ok(
      /1 products loaded, 1 skipped \(1 invalid\).*, but no human goals/.test(lenient.stderr),
      lenient.stderr,
    );
  });
});
