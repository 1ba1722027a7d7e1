import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";

const SCRIPT = new URL("./rollout.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

async function rollout(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-write=runs", SCRIPT, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("rollout script: oracle on a small synthetic catalog prints WebShop's metrics", async () => {
  const r = await rollout([
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
  ]);
  assertEquals(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assertEquals([summary.policy, summary.episodes, summary.rewardMode], ["oracle", 6, "corrected"]);
  assertEquals([summary.score, summary.successRate], [100, 1]);
  ok(summary.meanSteps >= 3 && summary.stepsPerSecond > 0, JSON.stringify(summary));
  const lines = (await Deno.readTextFile(`${ROOT}${summary.file}`)).trim().split("\n");
  assertEquals(lines.length, 7);
  assertEquals(JSON.parse(lines[0]).actions.at(-1), "click[buy now]");
});

Deno.test("rollout script: unknown flags print the usage and exit 2", async () => {
  const r = await rollout(["--nope"]);
  assertEquals(r.code, 2);
  ok(r.stderr.includes("usage: deno task rollout"), r.stderr);
  const bad = await rollout(["--policy", "greedy"]);
  assertEquals(bad.code, 2);
  ok(bad.stderr.includes("--policy must be one of random, oracle"), bad.stderr);
});
