import assert from "node:assert/strict";
import {
  dpoRows,
  experimentFixture,
  greedyFixture,
  thompsonFixture,
  writeReportFixture,
} from "./_report_fixtures.ts";
import { buildReport, CHART_DIR, writeReport } from "./report.ts";
import {
  experimentCharts,
  greedyCharts,
  thinIndices,
  thompsonCharts,
  trainingCharts,
} from "./report_charts.ts";
import { readReportInputs } from "./report_inputs.ts";

type Layered = { layer: { data: { values: Record<string, number | string>[] } }[] };

/** Data marks of a Vega SVG: the shapes inside its role-mark groups (not axes or legends). */
function dataMarks(svg: string): number {
  let n = 0;
  for (const m of svg.matchAll(/<g class="mark-[a-z]+ role-mark[^"]*"[^>]*>(.*?)<\/g>/gs)) {
    n += (m[1].match(/<(path|line|rect|circle)\b/g) ?? []).length;
  }
  return n;
}

Deno.test("thompsonCharts() draws each agent's mean ± sd over runs and a dot per run it was pulled in", () => {
  const { summary, rollouts } = thompsonFixture(3, 40);
  const charts = thompsonCharts(summary, rollouts, "t-");
  assert.deepEqual(charts.map((c) => c.id), [
    "t-score",
    "t-success",
    "t-pulls",
    "t-posterior",
    "t-regret",
  ]);
  const [bars, rules, dots] = (charts[0].spec as unknown as Layered).layer.map((l) =>
    l.data.values
  );
  for (const a of summary.agents) {
    const bar = bars.find((b) => b.agent === a.label)!;
    assert.equal(bar.mean, a.mean.meanScore);
    assert.equal(bar.lo, a.mean.meanScore! - a.std.meanScore!);
    assert.equal(bar.hi, a.mean.meanScore! + a.std.meanScore!);
    const pulledIn = a.perRun.filter((r) => r.pulls > 0).length;
    assert.equal(dots.filter((d) => d.agent === a.label).length, pulledIn);
  }
  assert.equal(rules, bars, "the rules are drawn from the bars' lo and hi");
  // Success in percent.
  const sBars = (charts[1].spec as unknown as Layered).layer[0].data.values;
  assert.equal(sBars[0].mean, 100 * summary.agents[0].mean.successRate!);
});

Deno.test("thompsonCharts(): pulls over rollouts end at each run's total pulls", () => {
  const { summary, rollouts } = thompsonFixture(2, 300);
  const pulls = thompsonCharts(summary, rollouts, "")[2].spec as unknown as {
    data: { values: { rollout: number; agent: string; run: string; pulls: number }[] };
  };
  for (const r of summary.runs) {
    for (const [label, n] of Object.entries(r.pulls)) {
      const line = pulls.data.values.filter((v) => v.run === `run ${r.run}` && v.agent === label);
      assert.equal(line.at(-1)!.rollout, 300);
      assert.equal(line.at(-1)!.pulls, n, `${label} in run ${r.run}`);
      assert.ok(line.length <= 250, "thinned");
    }
  }
  // Without per-rollout lines: the final pulls per run instead.
  const alone = thompsonCharts(summary, null, "");
  assert.equal(alone[2].title, "Thompson: pulls per run");
});

Deno.test("thinIndices() keeps the first and last index and at most max", () => {
  assert.deepEqual(thinIndices(4, 10), [0, 1, 2, 3]);
  const t = thinIndices(1000, 7);
  assert.equal(t.length, 7);
  assert.equal(t[0], 0);
  assert.equal(t.at(-1), 999);
});

Deno.test("greedyCharts() and trainingCharts() chart only what the inputs hold", () => {
  const g = greedyCharts([greedyFixture("a", "random", 10), greedyFixture("b", "oracle", 80)]);
  assert.deepEqual(g.map((c) => c.id), ["greedy-score", "greedy-success"]);
  assert.deepEqual(greedyCharts([]), []);
  const rows = dpoRows(5).map(({ time_s: _, ...r }) => r); // an older run: no time_s
  const t = trainingCharts([{ dir: "runs/a/dpo", config: null, rows }]);
  assert.deepEqual(t.map((c) => c.id), [
    "train-loss-step",
    "train-rewards_margins-step",
    "train-rewards_accuracies-step",
    "train-eval_success_rate-step",
    "train-eval_score-step",
  ]);
});

Deno.test("buildReport() renders every chart with drawn marks and a table of its numbers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeReportFixture(dir);
    const inputs = await readReportInputs([dir]);
    assert.equal(inputs.thompson.length, 1);
    assert.equal(inputs.thompson[0].rollouts?.length, 120);
    assert.deepEqual(inputs.greedy.map((g) => g.data.agent.label), ["dpo", "il"]);
    assert.deepEqual(inputs.training.map((r) => r.dir.slice(dir.length)), ["/dpo", "/il"]);
    const report = await buildReport(inputs, { command: "deno task report X" });
    assert.equal(report.charts.length, 19);
    for (const c of report.charts) {
      assert.match(c.svg, /^<svg /, c.id);
      assert.ok(dataMarks(c.svg) > 0, `${c.id} has no data marks`);
      assert.ok(report.html.includes(`id="chart-${c.id}"`), `${c.id} inlined`);
      assert.ok(report.markdown.includes(`${CHART_DIR}/${c.id}.svg`), `${c.id} linked in md`);
    }
    // Self-contained: no script, no external file.
    assert.doesNotMatch(report.html, /<script|<link |<img |src="/);
    // Every summary number is in the tables.
    const th = inputs.thompson[0].data;
    for (const a of th.agents) {
      assert.ok(
        report.html.includes(`${a.mean.meanScore!.toFixed(1)} ± ${a.std.meanScore!.toFixed(1)}`),
      );
    }
    assert.ok(report.html.includes("33.0 ± 3.0"), "greedy dpo score");
    assert.ok(report.html.includes("deno task report X"), "the command");
    assert.ok(report.html.includes("&quot;beta&quot;: 0.1"), "the dpo config");
    assert.ok(report.markdown.includes("| oracle | oracle |"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeReport() writes html, md and each SVG, replacing an earlier report's charts whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/${CHART_DIR}`);
    await Deno.writeTextFile(`${dir}/${CHART_DIR}/stale.svg`, "<svg/>");
    const report = {
      html: "<!DOCTYPE html><p>x</p>",
      markdown: "# x\n",
      charts: [{ id: "a", title: "A", caption: "", svg: "<svg>a</svg>" }],
    };
    const files = await writeReport(dir, report);
    assert.equal(await Deno.readTextFile(files.html), report.html);
    assert.equal(await Deno.readTextFile(files.markdown), report.markdown);
    assert.deepEqual(files.charts, [`${dir}/${CHART_DIR}/a.svg`]);
    const left = [...Deno.readDirSync(`${dir}/${CHART_DIR}`)].map((e) => e.name);
    assert.deepEqual(left, ["a.svg"]);
    const top = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(top, ["report.html", "report.md", CHART_DIR], "no temporary file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readReportInputs() names the file and the problem of an input it cannot use", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const expectError = async (re: RegExp) =>
      await assert.rejects(() => readReportInputs([dir]), (e: Error) => {
        assert.match(e.message, re);
        return true;
      });
    await expectError(
      /: no thompson\.json, greedy\.json, metrics\.jsonl or experiment\.json here or below$/,
    );
    await assert.rejects(() => readReportInputs([`${dir}/none`]), /none: cannot read/);

    const th = thompsonFixture(1, 5).summary;
    await Deno.writeTextFile(`${dir}/thompson.json`, "{ not json");
    await expectError(/thompson\.json: not JSON/);
    delete (th.agents[1].mean as Partial<typeof th.agents[1]["mean"]>).posteriorMean;
    await Deno.writeTextFile(`${dir}/thompson.json`, JSON.stringify(th));
    await expectError(
      /thompson\.json: agents\[1\]\.mean: posteriorMean is missing, not a finite number$/,
    );
    await Deno.writeTextFile(`${dir}/thompson.json`, JSON.stringify({ kind: "webshop-greedy" }));
    await expectError(/thompson\.json: kind is "webshop-greedy", expected "webshop-thompson"/);
    await Deno.remove(`${dir}/thompson.json`);

    await Deno.writeTextFile(`${dir}/metrics.jsonl`, `{"step":1,"loss":0.6}\n{"step":2,"lo`);
    await expectError(/metrics\.jsonl: line 2: not JSON/);
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, `{"step":1}\n{"step":2}`);
    await expectError(/metrics\.jsonl: line 2: truncated \(no newline at the end\)/);
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, `{"step":1}\n{"loss":2}\n`);
    await expectError(/metrics\.jsonl: line 2: step is missing, not a finite number/);
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, `{"step":1}\n`);
    await Deno.writeTextFile(`${dir}/config.json`, `{`);
    await expectError(/config\.json: not JSON/);
    await Deno.writeTextFile(`${dir}/config.json`, `{}`);

    const g = greedyFixture("a", "random", 1) as unknown as { perSeed: { components: object }[] };
    g.perSeed[2].components = { r_att: 1 };
    await Deno.mkdir(`${dir}/deep/er`, { recursive: true });
    await Deno.writeTextFile(`${dir}/deep/er/greedy.json`, JSON.stringify(g));
    await expectError(/deep\/er\/greedy\.json: perSeed\[2\]\.components: r_option is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("experimentCharts() draws each trainer's mean ± sd over its training seeds", () => {
  const [score, success] = experimentCharts(experimentFixture());
  const [bars, , dots] = (score.spec as unknown as Layered).layer.map((l) => l.data.values);
  assert.deepEqual(bars.map((b) => b.agent), ["IL reference", "DPO (demos)", "DPO (generated)"]);
  // DPO (demos): seeds 30 and 36 -> mean 33, sample sd sqrt(18).
  assert.equal(bars[1].mean, 33);
  assert.ok(Math.abs((bars[1].hi as number) - (33 + Math.sqrt(18))) < 1e-12);
  assert.equal(bars[0].lo, 2, "one seed: no spread");
  assert.equal(dots.length, 5);
  const sBars = (success.spec as unknown as Layered).layer[0].data.values;
  assert.equal(sBars[1].mean, 100 * 33 / 400);
});

Deno.test("spread charts of all-zero values get a [0, 1] axis, not a degenerate one", () => {
  const zero = greedyFixture("a", "random", 0);
  for (const s of zero.perSeed) s.successRate = 0;
  zero.mean.successRate = zero.std.successRate = 0;
  const success = greedyCharts([zero])[1].spec as unknown as {
    layer: { encoding: { y: { scale?: { domain?: number[] } } } }[];
  };
  assert.deepEqual(success.layer[0].encoding.y.scale?.domain, [0, 1]);
});
