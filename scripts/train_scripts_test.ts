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

for (const script of ["train_dpo.ts", "train_il.ts", "generate.ts"]) {
  Deno.test(`${script}: a bad flag is a usage error (exit 2), --help lists the config fields`, async () => {
    const bad = await run(script, ["--no-such-flag"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr.split("\n")[0], /^(train:dpo|train:il|generate): .*no-such-flag/);
    const help = await run(script, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--products\s+default 3000/);
  });
}

Deno.test("train:dpo: a number flag that is not a number names the flag, exit 2", async () => {
  const r = await run("train_dpo.ts", ["--steps", "abc"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.split("\n")[0], 'train:dpo: --steps must be a number, got "abc"');
});

Deno.test("generate: a missing checkpoint is one error line and exit 1, no stack", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run("generate.ts", [
      "--ref",
      `${dir}/missing.safetensors`,
      "--products",
      "60",
      "--num-demos",
      "4",
      "--eval-demos",
      "1",
      "--cache-dir",
      dir,
    ]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^generate: .*(missing\.safetensors|WebGPU)/);
    assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const script of ["train_dpo.ts", "train_il.ts"]) {
  Deno.test(`${script}: --resume of a folder without a checkpoint is one line, exit 1`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const r = await run(script, ["--resume", dir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr.trim(), /^train:(dpo|il): --resume .*: no last\.safetensors there/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
