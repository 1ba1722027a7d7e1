import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("env/mod.ts's import graph holds no compute core, model or agent code", async () => {
  // The graph as Deno resolves it (every static import, transitively).
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "env/mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const local = graph.modules.map((m) => m.specifier).filter((s) => s.startsWith(ROOT.href))
    .map((s) => s.slice(ROOT.href.length));
  assert.ok(local.includes("env/synthetic.ts") && local.includes("env/reward.ts"), "graph read");
  const foreign = local.filter((p) => !/^(env|base)\//.test(p));
  assert.deepEqual(foreign, [], "env imports only env/ and base/");
});

Deno.test("no library file under env/ imports kernels/, model/, agent/, train/ or eval/", () => {
  const bad: string[] = [];
  for (const e of Deno.readDirSync(new URL("env/", ROOT))) {
    if (!e.isFile || !e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
    if (e.name.startsWith("_fixtures")) continue; // test data, imports testing/
    const text = Deno.readTextFileSync(new URL(`env/${e.name}`, ROOT));
    for (const m of text.matchAll(/from "(\.\.\/[^"]+)"/g)) {
      if (!m[1].startsWith("../base/")) bad.push(`env/${e.name}: ${m[1]}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("env/mod.ts does not re-export the synthetic word lists", async () => {
  const env = await import("./mod.ts");
  assert.equal("PRODUCT_TYPES" in env, false);
  assert.equal("CATEGORIES" in env, false);
  assert.equal(typeof env.generateSyntheticCatalog, "function");
});
