/**
 * The experiment's smoke test: `deno task experiment --quick --seeds 1` end to end in a fresh
 * folder (data, IL, DPO, generate, greedy evaluation, report), then a rerun that redoes no
 * finished phase. A few minutes on lavapipe, so it runs in CI (CI=true) and where
 * WEBSHOP_SLOW_TESTS=1; elsewhere it is ignored, saying so.
 */

import assert from "node:assert/strict";
import { ADAPTER } from "../testing/gpu.ts";
import { requires } from "../testing/requires.ts";
import type { ExperimentFile } from "../eval/report_inputs.ts";

const SLOW = {
  missing: () =>
    Deno.env.get("CI") === "true" || Deno.env.get("WEBSHOP_SLOW_TESTS") === "1"
      ? null
      : "a few minutes; runs with CI=true or WEBSHOP_SLOW_TESTS=1",
};

async function experiment(cwd: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${import.meta.dirname}/experiment.ts`, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

requires([ADAPTER, SLOW], {
  name:
    "experiment --quick runs every phase in the tree, writes the report, and resumes without redoing",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const cwd = await Deno.makeTempDir();
    try {
      const args = ["--quick", "--seeds", "1", "--name", "smoke"];
      const r = await experiment(cwd, args);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const dir = `${cwd}/runs/smoke`;
      const file = JSON.parse(await Deno.readTextFile(`${dir}/experiment.json`)) as ExperimentFile;
      const status = Object.fromEntries(file.phases.map((p) => [p.id, p.status]));
      for (const id of ["il", "dpo-demos-s0", "generate", "greedy", "report"]) {
        assert.equal(status[id], "done", `${id}: ${JSON.stringify(file.phases)}`);
      }
      for (const p of file.phases.filter((p) => p.status === "skipped")) {
        assert.ok(p.reason, `${p.id} skipped without a reason`);
        assert.match(r.stdout, new RegExp(`${p.id}: skipped \\(`));
      }
      assert.ok(file.agents.length >= 2, "the reference and at least one DPO agent");
      for (const a of file.agents) {
        assert.ok(a.greedy && a.greedy.episodes === 12, `${a.label} evaluated on 12 goals`);
        await Deno.stat(`${cwd}/${a.checkpoint}`);
      }
      const html = await Deno.readTextFile(`${dir}/report.html`);
      assert.match(html, /id="chart-experiment-score"/);
      assert.match(html, /id="chart-train-loss-step"/);
      assert.match(html, /id="chart-greedy-score"/);
      const g = JSON.parse(await Deno.readTextFile(`${dir}/greedy/dpo-demos/greedy.json`));
      assert.equal(g.kind, "webshop-greedy");
      assert.deepEqual(g.seeds, [0]);
      assert.match(r.stdout, /\| IL reference \| 0 \|/);
      assert.match(r.stdout, /ETA/);
      assert.match(r.stdout, /report runs\/smoke\/report\.html/);

      const again = await experiment(cwd, args);
      assert.equal(again.code, 0, again.stderr);
      for (const id of ["il", "dpo-demos-s0", "generate", "greedy"]) {
        assert.match(again.stdout, new RegExp(`${id}: done earlier`));
      }
      assert.doesNotMatch(again.stdout, /^(il|dpo) step/m, "no training on the rerun");
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

Deno.test("experiment: a bad data or DPO flag is one usage line naming it, exit 2", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    const lr = await experiment(cwd, ["--dpo-lr", "abc"]);
    assert.equal(lr.code, 2);
    assert.equal(lr.stderr.split("\n")[0], 'experiment: --dpo-lr must be a number, got "abc"');
    const rate = await experiment(cwd, ["--expert-imperfect-rate", "x"]);
    assert.equal(rate.code, 2);
    assert.match(
      rate.stderr.split("\n")[0],
      /^experiment: --expert-imperfect-rate must be a number/,
    );
    const beta = await experiment(cwd, ["--dpo-beta", "-1"]);
    assert.equal(beta.code, 2);
    assert.match(beta.stderr.split("\n")[0], /^experiment: .*beta/);
    const help = await experiment(cwd, ["--help"]);
    assert.match(help.stdout, /--dpo-rpo-alpha\s+default/);
    assert.match(help.stdout, /--expert-imperfect-rate\s+default/);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
