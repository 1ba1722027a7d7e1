import assert from "node:assert/strict";
import { loadDemonstrations, replayDemonstrations } from "../env/demos.ts";
import { openCatalog } from "../env/catalog.ts";
import { WebShopEnv } from "../env/webshop_env.ts";

const SCRIPT = new URL("./make_synthetic.ts", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-write", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

Deno.test("make:synthetic writes WebShop's files that load and replay end to end", async () => {
  const dir = await Deno.makeTempDir({ prefix: "make_synthetic_test_" });
  try {
    const { code, out, err } = await run(["--out", dir, "--products", "80", "--demos", "12"]);
    assert.equal(code, 0, err);
    const summary = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.equal(summary.products, 80);
    assert.equal(summary.demos, 12);
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), [
      "goal_query_map.json",
      "human_goals.json",
      "il_trajs_synthetic.jsonl",
      "items_human_ins.json",
      "items_ins_v2.json",
      "items_shuffle.json",
    ]);
    // The files, not the generator, back this env: the loaders are exercised end to end.
    const cat = await openCatalog(dir);
    assert.equal(cat.products.length, 80);
    assert.equal(cat.stats.invalid + cat.stats.duplicates + cat.stats.noAttributes, 0);
    const { trajectories, issues } = await loadDemonstrations(`${dir}/il_trajs_synthetic.jsonl`);
    assert.deepEqual(issues, []);
    const env = new WebShopEnv({
      catalog: cat.products,
      goals: cat.goals,
      rewardMode: "corrected",
    });
    const report = await replayDemonstrations(env, trajectories);
    assert.equal(report.reached, 12);
    assert.equal(report.stateMismatch, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("make:synthetic names the 1000-product files as WebShop does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "make_synthetic_test_" });
  try {
    const { code, err } = await run(["--out", dir, "--goals", "50"]);
    assert.equal(code, 0, err);
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.ok(
      names.includes("items_shuffle_1000.json") && names.includes("items_ins_v2_1000.json"),
    );
    const goals = JSON.parse(await Deno.readTextFile(`${dir}/human_goals.json`));
    assert.equal(goals.length, 50);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("make:synthetic rejects bad flags with usage", async () => {
  const missing = await run([]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--out is required/);
  const bad = await run(["--out", "x", "--products", "ten"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--products must be an integer/);
  const unknown = await run(["--bogus"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /usage: deno task make:synthetic/);
  const huge = await run(["--out", "x", "--products", "100000000"]);
  assert.equal(huge.code, 2);
  assert.match(huge.err, /--products must be at most 200000/);
});

Deno.test("make:synthetic refuses a folder that holds files, naming them, and writes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "make_synthetic_test_" });
  try {
    const first = await run(["--out", dir, "--products", "1000", "--goals", "20"]);
    assert.equal(first.code, 0, first.err);
    const again = await run(["--out", dir, "--products", "500", "--goals", "20"]);
    assert.equal(again.code, 1);
    assert.match(again.err, /^make:synthetic: .* is not empty \(5 entries: goal_query_map\.json,/);
    assert.doesNotMatch(again.err, /\n\s+at /, "no stack trace");
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.ok(!names.includes("items_shuffle.json"), names.join(", "));
    const file = await run(["--out", `${dir}/goal_query_map.json`]);
    assert.equal(file.code, 1);
    assert.match(
      file.err,
      /^make:synthetic: .*goal_query_map\.json is not empty|is a file, not a folder/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("make:synthetic says when it makes fewer goals or demos than asked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "make_synthetic_test_" });
  try {
    const goals = await run(["--out", `${dir}/a`, "--products", "3", "--goals", "999999"]);
    assert.equal(goals.code, 0, goals.err);
    const g = JSON.parse(goals.out.trim().split("\n").at(-1)!);
    assert.ok(g.goals < 999999, goals.out);
    assert.equal(g.rewardMode, "webshop");
    assert.match(goals.err, new RegExp(`note: --goals 999999: made ${g.goals}, all the distinct`));
    const demos = await run(["--out", `${dir}/b`, "--products", "3", "--demos", "10"]);
    assert.equal(demos.code, 0, demos.err);
    const d = JSON.parse(demos.out.trim().split("\n").at(-1)!);
    assert.ok(d.demos < 10, demos.out);
    assert.match(demos.err, new RegExp(`note: --demos 10: writing ${d.demos}, one per goal`));
    assert.deepEqual(d.notes.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
