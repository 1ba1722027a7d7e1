import assert from "node:assert/strict";

const SCRIPT = new URL("./bench_env.ts", import.meta.url).pathname;

Deno.test("bench:env appends each result as it is measured, so a stopped run keeps them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench_env_test_" });
  try {
    const path = `${dir}/env.jsonl`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        `--allow-write=${dir}`,
        SCRIPT,
        "--sizes",
        "60,100000",
        "--seconds",
        "0.05",
        "--repeats",
        "1",
        "--out",
        path,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = () => Deno.readTextFile(path).then((t) => t.trim().split("\n"), () => []);
    // Stopped once rewards/s and the 60-product size are in, while the 100k size is being made.
    const t0 = performance.now();
    while ((await read()).length < 2 && performance.now() - t0 < 60_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    const { stdout } = await child.output();
    const after = await read();
    assert.ok(after.length >= 2, new TextDecoder().decode(stdout));
    const [rewards, size] = after.map((l) => JSON.parse(l));
    assert.ok(rewards.rewardsPerSecond > 0, after[0]);
    assert.equal(size.size.products, 60);
    assert.ok(size.size.oracleStepsPerSecond > 0, after[1]);
    assert.match(
      new TextDecoder().decode(stdout),
      /sizes 1\/2, [\d.]+ s, about [\d.]+ (s|min) left/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench:env rejects a size that would exhaust memory", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", SCRIPT, "--sizes", "100000000"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.match(new TextDecoder().decode(stderr), /--sizes must list integers from 1 to 200000/);
});
