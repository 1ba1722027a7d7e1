import assert from "node:assert/strict";
import { writeReportFixture } from "../eval/_report_fixtures.ts";

async function report(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${import.meta.dirname}/report.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("report: writes report.html, report.md and the SVGs into --out and prints the tables and path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeReportFixture(`${dir}/run`);
    const r = await report([`${dir}/run`, "--out", `${dir}/out`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\| oracle \| oracle \|/);
    assert.match(r.stdout, new RegExp(`report: ${dir}/out/report\\.html \\(and .*, 19 SVGs\\)`));
    const html = await Deno.readTextFile(`${dir}/out/report.html`);
    assert.match(html, new RegExp(`deno task report ${dir}/run --out ${dir}/out`));
    assert.equal([...Deno.readDirSync(`${dir}/out/report_charts`)].length, 19);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: an unreadable input is one line naming the file, exit 1; no folder is a usage error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/greedy.json`, `{"kind":"webshop-greedy"}`);
    const r = await report([dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `report: ${dir}/greedy.json: agent is not an object\n`);
    const none = await report([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^report: give at least one run folder\nusage:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
