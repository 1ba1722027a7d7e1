import { gpuTest } from "../testing/gpu.ts";
import assert from "node:assert/strict";

const SCRIPT = new URL("./bench_kernels.ts", import.meta.url).pathname;

async function bench(args: string[], dir?: string, env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    env,
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      ...(dir ? [`--allow-write=${dir}`] : []),
      SCRIPT,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

Deno.test("bench:kernels: bad flags exit 2 with the usage", async () => {
  const unknown = await bench(["--nope"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /^bench:kernels: .*\nusage: deno task bench:kernels/);
  const reps = await bench(["--reps", "0"]);
  assert.equal(reps.code, 2);
  assert.match(reps.err, /--reps must be an integer >= 1/);
  const op = await bench(["--op", "no-such-op"]);
  assert.equal(op.code, 2);
  assert.match(op.err, /no case matches --op no-such-op; ops: .*copy/);
});

Deno.test("bench:kernels: no WebGPU adapter is one error line, exit 1", async () => {
  // dx12 exists on no Linux machine: the adapter request fails as on a box without a GPU.
  const r = await bench(["--op", "copy"], undefined, { DENO_WEBGPU_BACKEND: "dx12" });
  assert.equal(r.code, 1);
  assert.match(r.err, /^bench:kernels: No WebGPU adapter was found/m);
  assert.doesNotMatch(r.err, /\n\s+at /);
});

gpuTest("bench:kernels appends each result to --out as measured, with progress", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench_kernels_test_" });
  try {
    const path = `${dir}/k.jsonl`;
    const r = await bench(["--op", "copy", "--submits", "1", "--reps", "1", "--out", path], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /\[1\/1, [\d.]+ s\] copy /);
    const lines = (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 1);
    assert.equal(lines[0].op, "copy");
    assert.ok(lines[0].ms > 0 && typeof lines[0].adapter === "string");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
