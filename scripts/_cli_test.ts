import assert from "node:assert/strict";
import { DEFAULT_REWARD_MODE } from "../env/reward.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import { loadSyntheticCatalog } from "../env/synthetic.ts";
import { openJsonLines, progressText } from "./_cli.ts";

const CLI = new URL("./_cli.ts", import.meta.url).href;

async function run(path: string, args: string[]) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", path, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, err: new TextDecoder().decode(stderr) };
}

Deno.test("runMain() prints one line and exits 1, with the stack only under --debug", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_test_" });
  try {
    const path = `${dir}/main.ts`;
    await Deno.writeTextFile(
      path,
      `import { CliError, runMain } from "${CLI}";
await runMain("demo", () => {
  if (Deno.args[0] === "cli") throw new CliError("no product file", "data/x", 3);
  if (Deno.args[0] === "bug") return (undefined as unknown as { a: () => void }).a();
  throw new Error("first line\\n  second line");
});`,
    );
    const plain = await run(path, []);
    assert.equal(plain.code, 1);
    assert.equal(plain.err, "demo: first line second line\n");
    const cli = await run(path, ["cli"]);
    assert.equal(cli.code, 3);
    assert.equal(cli.err, "demo: no product file (data/x)\n");
    const debug = await run(path, ["x", "--debug"]);
    assert.match(debug.err, /^demo: first line second line\nError: first line[^]*\n\s+at /);
    const bug = await run(path, ["bug"]);
    assert.equal(bug.code, 1);
    assert.match(bug.err, /^demo: .*undefined.*\ninternal error, please report:\nTypeError/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openJsonLines() appends each line at once; progressText() estimates the time left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_test_" });
  try {
    const out = openJsonLines(`${dir}/a/b.jsonl`);
    out.write({ i: 1 });
    assert.equal(await Deno.readTextFile(`${dir}/a/b.jsonl`), '{"i":1}\n', "on disk before close");
    out.write({ i: 2 });
    out.close();
    const again = openJsonLines(`${dir}/a/b.jsonl`);
    again.write({ i: 3 });
    again.close();
    assert.equal((await Deno.readTextFile(`${dir}/a/b.jsonl`)).split("\n").length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const t0 = performance.now() - 10_000;
  assert.match(progressText(1, 4, t0), /^1\/4, 10\.\d s, about 30\.\d s left$/);
  assert.match(progressText(4, 4, t0), /^4\/4, 10\.\d s$/);
});

Deno.test("every command and WebShopEnv default to the webshop reward mode", async () => {
  assert.equal(DEFAULT_REWARD_MODE, "webshop");
  const cat = loadSyntheticCatalog({ numProducts: 40 });
  assert.equal(new WebShopEnv({ catalog: cat.products, goals: cat.goals }).rewardMode, "webshop");
  for (const script of ["rollout", "shop", "make_synthetic"]) {
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        new URL(`./${script}.ts`, import.meta.url).pathname,
        "--help",
      ],
      stdout: "piped",
    }).output();
    const help = new TextDecoder().decode(stdout);
    assert.match(help, /--reward-mode <m>[^-]*(webshop \(default\)|\(default webshop\))/, script);
  }
});
