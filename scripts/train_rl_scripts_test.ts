import assert from "node:assert/strict";

async function run(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${import.meta.dirname}/${script}`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_WEBGPU_BACKEND: "dx12" }, // no adapter: nothing reaches the GPU
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

for (const [script, task] of [["train_loop.ts", "train:loop"], ["train_ppo.ts", "train:ppo"]]) {
  Deno.test(`${script}: bad flags are usage errors (exit 2); --help lists the trainer's fields`, async () => {
    const bad = await run(script, ["--no-such-flag"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr.split("\n")[0], new RegExp(`^${task}: .*no-such-flag`));
    const nan = await run(script, ["--time-budget", "abc"]);
    assert.equal(nan.code, 2);
    assert.equal(nan.stderr.split("\n")[0], `${task}: --time-budget must be a number, got "abc"`);
    const neg = await run(script, ["--time-budget=-1"]);
    assert.equal(neg.code, 2);
    assert.match(neg.stderr.split("\n")[0], /timeBudget must be >= 0/);
    const help = await run(script, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--time-budget\s+default 0/);
    assert.match(
      help.stdout,
      script === "train_loop.ts" ? /--epsilon\s+default 0.1/ : /--bptt\s+default 8/,
    );
  });

  Deno.test(`${script}: --resume of a folder without a checkpoint is one line, exit 1`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const r = await run(script, ["--resume", dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr.trim(),
        new RegExp(`^${task}: --resume .*: no last\\.safetensors there`),
      );
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
