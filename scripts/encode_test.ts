import assert from "node:assert/strict";

const SCRIPT = new URL("./encode.ts", import.meta.url).pathname;
const TINY = new URL("../tests/fixtures/bert_tiny/", import.meta.url).pathname;

async function encode(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", SCRIPT, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

/** One `encode: ...` line, no stack trace. */
function assertOneLine(err: string, re: RegExp): void {
  assert.match(err, re);
  assert.equal(err.trim().split("\n").filter((l) => l.startsWith("encode: ")).length, 1, err);
  assert.doesNotMatch(err, /\n\s+at /, err);
}

Deno.test("encode: bad flags exit 2 with usage", async () => {
  const none = await encode([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /encode: --model is required\nusage: deno task encode/);
  const out = await encode(["--model", TINY, "--text", "hi", "--out", "h.txt"]);
  assert.equal(out.code, 2);
  assert.match(out.err, /--out must end in \.npy or \.json/);
  const len = await encode(["--model", TINY, "--text", "hi", "--max-length", "1"]);
  assert.equal(len.code, 2);
  assert.match(len.err, /--max-length must be an integer >= 2/);
});

Deno.test("encode: a missing folder, a bad config.json or no tokenizer is one error line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "encode_test_" });
  try {
    const missing = await encode(["--model", `${dir}/nowhere`, "--text", "hi"]);
    assert.equal(missing.code, 1);
    assertOneLine(missing.err, /^encode: .*nowhere\/config\.json: cannot read/m);
    await Deno.writeTextFile(`${dir}/config.json`, "{bad");
    const bad = await encode(["--model", dir, "--text", "hi"]);
    assert.equal(bad.code, 1);
    assertOneLine(bad.err, /^encode: .*config\.json: cannot read \(.*JSON/m);
    await Deno.copyFile(`${TINY}config.json`, `${dir}/config.json`);
    await Deno.copyFile(`${TINY}model.safetensors`, `${dir}/model.safetensors`);
    const noTok = await encode(["--model", dir, "--text", "hi"]);
    assert.equal(noTok.code, 1);
    assertOneLine(noTok.err, /^encode: .*tokenizer/im);
    const debug = await encode(["--model", dir, "--text", "hi", "--debug"]);
    assert.match(debug.err, /\n\s+at /, "--debug prints the stack");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encode: no WebGPU adapter is one error line", async () => {
  // dx12 exists on no Linux machine: the adapter request fails as it would on a box with no GPU.
  const r = await encode(["--model", TINY, "--text", "hi"], { DENO_WEBGPU_BACKEND: "dx12" });
  assert.equal(r.code, 1);
  assertOneLine(r.err, /^encode: No WebGPU adapter was found/m);
});
