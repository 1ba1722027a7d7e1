/**
 * The experiment report (`deno task report runs/<name>...`): every chart of
 * `report_charts.ts` rendered to SVG, a table of every number behind them, and the commands and
 * configs that produced them, as one self-contained `report.html` (SVGs inline, no script, no
 * external file), each SVG as its own file under `report_charts/` and a Markdown summary
 * `report.md`. Every file is written atomically; `report.html` goes last, so a finished one
 * always matches its charts.
 *
 * @example
 * ```ts
 * const inputs = await readReportInputs(["runs/exp"]);
 * const report = await buildReport(inputs, { command: "deno task report runs/exp" });
 * await writeReport("runs/exp", report);
 * ```
 *
 * @module
 */

import { writeAtomically } from "../base/atomic.ts";
import {
  type ChartSpec,
  experimentCharts,
  greedyCharts,
  runLabels,
  thompsonCharts,
  TRAINING_METRICS,
  trainingCharts,
} from "./report_charts.ts";
import type {
  ExperimentFile,
  GreedyFile,
  ReportInputs,
  ThompsonFile,
  TrainingRun,
} from "./report_inputs.ts";
import { renderSvg } from "./render_svg.ts";

/** A rendered chart. */
export interface RenderedChart extends Omit<ChartSpec, "spec"> {
  svg: string;
}

/** What {@linkcode writeReport} writes. */
export interface Report {
  html: string;
  markdown: string;
  charts: RenderedChart[];
}

/** Folder of the SVG files, next to report.html. */
export const CHART_DIR = "report_charts";

/** Every chart the inputs support, in report order. */
export function reportCharts(inputs: ReportInputs): ChartSpec[] {
  const many = inputs.thompson.length > 1;
  return [
    ...inputs.experiments.flatMap((e) => experimentCharts(e.data)),
    ...inputs.thompson.flatMap((t, i) =>
      thompsonCharts(t.data, t.rollouts, many ? `thompson${i + 1}-` : "thompson-")
    ),
    ...greedyCharts(inputs.greedy.map((g) => g.data)),
    ...trainingCharts(inputs.training),
  ];
}

/** Renders the charts and writes the HTML and Markdown of the report. */
export async function buildReport(
  inputs: ReportInputs,
  opts: { command: string; title?: string },
): Promise<Report> {
  const charts: RenderedChart[] = [];
  for (const c of reportCharts(inputs)) {
    const svg = await renderSvg(c.spec);
    charts.push({ id: c.id, title: c.title, caption: c.caption, svg });
  }
  const title = opts.title ?? "webshop-rl report";
  return {
    html: html(inputs, charts, title, opts.command),
    markdown: markdown(inputs, charts, title, opts.command),
    charts,
  };
}

/**
 * Writes `report.html`, `report.md` and `report_charts/<id>.svg` into `dir` (created when
 * absent). The SVGs are staged in a temporary folder that replaces the old one whole.
 */
export async function writeReport(
  dir: string,
  report: Report,
): Promise<{ html: string; markdown: string; charts: string[] }> {
  await Deno.mkdir(dir, { recursive: true });
  const stage = `${dir}/${CHART_DIR}.tmp-${Deno.pid}`;
  await Deno.remove(stage, { recursive: true }).catch(() => {});
  await Deno.mkdir(stage);
  try {
    for (const c of report.charts) await writeAtomically(`${stage}/${c.id}.svg`, [c.svg]);
    await Deno.remove(`${dir}/${CHART_DIR}`, { recursive: true }).catch(() => {});
    await Deno.rename(stage, `${dir}/${CHART_DIR}`);
  } catch (e) {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    throw e;
  }
  await writeAtomically(`${dir}/report.md`, [report.markdown]);
  await writeAtomically(`${dir}/report.html`, [report.html]);
  return {
    html: `${dir}/report.html`,
    markdown: `${dir}/report.md`,
    charts: report.charts.map((c) => `${dir}/${CHART_DIR}/${c.id}.svg`),
  };
}

// Numbers as the tables show them.

/** A number with `d` decimals, or "—" for none. */
export function fixed(v: number | null | undefined, d = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(d);
}

/** "mean ± sd" (each scaled), or "—" when the mean is absent. */
export function pm(
  mean: number | null | undefined,
  sd: number | null | undefined,
  scale = 1,
  d = 1,
): string {
  if (mean === null || mean === undefined) return "—";
  return `${fixed(scale * mean, d)} ± ${
    fixed(sd === null || sd === undefined ? null : scale * sd, d)
  }`;
}

/** A table: its caption, header and rows of cells (already formatted). */
interface Table {
  caption: string;
  head: string[];
  rows: string[][];
  /** Right-aligned columns (numbers). */
  numeric?: boolean[];
}

/** The summary table of one Thompson comparison (the experiment's main table). */
export function thompsonSummaryTable(th: ThompsonFile, path: string): Table {
  const c = th.config;
  return {
    caption: `Thompson sampling (${path}): ${c.runs} runs × ${c.rollouts} rollouts on ${c.split} ` +
      `goals, arm reward ${c.arm}, batch ${c.batch}, seed ${c.seed}; mean ± sd over runs; ` +
      `${th.rollouts} rollouts in ${fixed(th.seconds, 1)} s (${fixed(th.rolloutsPerSecond, 1)}/s)`,
    head: ["agent", "source", "pulls", "score ×100", "success %", "posterior mean"],
    numeric: [false, false, true, true, true, true],
    rows: th.agents.map((a) => [
      a.label,
      a.source,
      pm(a.mean.pulls, a.std.pulls, 1, 1),
      pm(a.mean.meanScore, a.std.meanScore),
      pm(a.mean.successRate, a.std.successRate, 100),
      pm(a.mean.posteriorMean, a.std.posteriorMean, 1, 3),
    ]),
  };
}

function thompsonTables(th: ThompsonFile, path: string): Table[] {
  const labels = th.agents.map((a) => a.label);
  return [
    thompsonSummaryTable(th, path),
    {
      caption: "Per run and agent (credible interval: equal-tailed 95% of the Beta posterior)",
      head: ["run", "agent", "pulls", "score ×100", "success %", "posterior mean", "95% credible"],
      numeric: [true, false, true, true, true, true, true],
      rows: th.runs.flatMap((r, i) =>
        th.agents.map((a) => {
          const x = a.perRun[i];
          return x
            ? [
              String(r.run),
              a.label,
              String(x.pulls),
              fixed(x.meanScore),
              fixed(x.successRate === null ? null : 100 * x.successRate),
              fixed(x.posteriorMean, 3),
              `[${fixed(x.credible[0], 3)}, ${fixed(x.credible[1], 3)}]`,
            ]
            : [String(r.run), a.label, "—", "—", "—", "—", "—"];
        })
      ),
    },
    {
      caption: "Runs: seed, best arm in hindsight, final cumulative regret, pulls",
      head: ["run", "seed", "best arm", "regret", ...labels.map((l) => `pulls ${l}`)],
      numeric: [true, true, false, true, ...labels.map(() => true)],
      rows: th.runs.map((r) => [
        String(r.run),
        String(r.seed),
        r.bestArm,
        fixed(r.regret.at(-1) ?? 0, 2),
        ...labels.map((l) => String(r.pulls[l])),
      ]),
    },
  ];
}

/** The summary table of the greedy evaluations. */
export function greedySummaryTable(files: readonly { path: string; data: GreedyFile }[]): Table {
  return {
    caption: "Greedy evaluation: mean ± sd over seeds",
    head: [
      "agent",
      "source",
      "split",
      "seeds",
      "score ×100",
      "success %",
      "mean steps",
      "rollouts/s",
    ],
    numeric: [false, false, false, true, true, true, true, true],
    rows: files.map(({ data: g }) => [
      g.agent.label,
      g.agent.source,
      g.split,
      String(g.perSeed.length),
      pm(g.mean.score, g.std.score),
      pm(g.mean.successRate, g.std.successRate, 100),
      pm(g.mean.meanSteps, g.std.meanSteps, 1, 2),
      fixed(g.rolloutsPerSecond, 1),
    ]),
  };
}

function greedyTables(files: readonly { path: string; data: GreedyFile }[]): Table[] {
  if (files.length === 0) return [];
  return [
    greedySummaryTable(files),
    {
      caption: "Greedy evaluation per seed, with WebShop's reward components (means over goals)",
      head: [
        "agent",
        "seed",
        "score ×100",
        "success %",
        "r_att",
        "r_option",
        "r_price",
        "r_type",
        "mean steps",
      ],
      numeric: [false, true, true, true, true, true, true, true, true],
      rows: files.flatMap(({ data: g }) =>
        g.perSeed.map((s) => [
          g.agent.label,
          String(s.seed),
          fixed(s.score),
          fixed(100 * s.successRate),
          fixed(s.components.r_att, 3),
          fixed(s.components.r_option, 3),
          fixed(s.components.r_price, 3),
          fixed(s.components.r_type, 3),
          fixed(s.meanSteps, 2),
        ])
      ),
    },
    {
      caption: "Greedy evaluation per category",
      head: ["agent", "seed", "category", "episodes", "score ×100", "success %"],
      numeric: [false, true, false, true, true, true],
      rows: files.flatMap(({ data: g }) =>
        g.perSeed.flatMap((s) =>
          Object.entries(s.categories).map(([cat, c]) => [
            g.agent.label,
            String(s.seed),
            cat,
            String(c.episodes),
            fixed(c.score),
            fixed(100 * c.successRate),
          ])
        )
      ),
    },
  ];
}

function last(rows: readonly Record<string, unknown>[], k: string): number | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    const v = rows[i][k];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return null;
}

function trainerName(r: TrainingRun): string {
  const c = r.config as { trainer?: { name?: unknown } } | null;
  return typeof c?.trainer?.name === "string" ? c.trainer.name : "—";
}

/** One row per training run: its last logged values. */
export function trainingSummaryTable(runs: readonly TrainingRun[]): Table {
  const labels = runLabels(runs.map((r) => r.dir));
  const shown = TRAINING_METRICS.filter((m) => runs.some((r) => last(r.rows, m) !== null));
  return {
    caption: "Training runs: the last logged value of each metric (metrics.jsonl)",
    head: ["run", "trainer", "rows", "last step", "seconds", ...shown],
    numeric: [false, false, true, true, true, ...shown.map(() => true)],
    rows: runs.map((r, i) => [
      labels[i],
      trainerName(r),
      String(r.rows.length),
      fixed(last(r.rows, "step"), 0),
      fixed(last(r.rows, "time_s"), 1),
      ...shown.map((m) => fixed(last(r.rows, m), 4)),
    ]),
  };
}

/** Every row of a run's metrics.jsonl, every field a column. */
function metricsTable(r: TrainingRun, label: string): Table {
  const keys: string[] = [];
  for (const row of r.rows) for (const k of Object.keys(row)) if (!keys.includes(k)) keys.push(k);
  const cell = (v: unknown) =>
    typeof v === "number"
      ? (Number.isInteger(v) ? String(v) : v.toPrecision(6))
      : v === undefined
      ? ""
      : String(v);
  return {
    caption: `${label}: every row of ${r.dir}/metrics.jsonl`,
    head: keys,
    numeric: keys.map((k) => r.rows.some((row) => typeof row[k] === "number")),
    rows: r.rows.map((row) => keys.map((k) => cell(row[k]))),
  };
}

/** Every trained agent of an experiment with its greedy test result (the experiment's table). */
export function experimentAgentsTable(exp: ExperimentFile, path: string): Table {
  return {
    caption: `Experiment agents (${path}): greedy evaluation on the test goals`,
    head: [
      "agent",
      "seed",
      "updates",
      "train s",
      "score ×100",
      "success %",
      "mean steps",
      "goals",
      "checkpoint",
    ],
    numeric: [false, true, true, true, true, true, true, true, false],
    rows: exp.agents.map((a) => [
      a.label,
      String(a.seed),
      String(a.updates),
      fixed(a.trainSeconds, 0),
      fixed(a.greedy?.score),
      fixed(a.greedy ? 100 * a.greedy.successRate : null),
      fixed(a.greedy?.meanSteps, 2),
      a.greedy ? String(a.greedy.episodes) : "—",
      a.checkpoint,
    ]),
  };
}

function experimentTables(inputs: ReportInputs): Table[] {
  return inputs.experiments.flatMap(({ path, data }) => [
    ...(data.agents.length > 0 ? [experimentAgentsTable(data, path)] : []),
    {
      caption: `Experiment phases (${path}); the whole experiment: ${data.command}`,
      head: ["phase", "status", "seconds", "command", "note"],
      numeric: [false, false, true, false, false],
      rows: data.phases.map((p) => [
        p.id,
        p.status,
        fixed(p.seconds, 0),
        p.command,
        p.reason ?? "",
      ]),
    },
  ]);
}

// HTML.

/** Text escaped for HTML. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function htmlTable(t: Table): string {
  const cls = (i: number) => (t.numeric?.[i] ? ` class="num"` : "");
  return `<table>\n<caption>${esc(t.caption)}</caption>\n<thead><tr>${
    t.head.map((h, i) => `<th${cls(i)}>${esc(h)}</th>`).join("")
  }</tr></thead>\n<tbody>\n${
    t.rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${esc(c)}</td>`).join("")}</tr>`).join(
      "\n",
    )
  }\n</tbody>\n</table>`;
}

function details(summary: string, body: string): string {
  return `<details><summary>${esc(summary)}</summary>\n${body}\n</details>`;
}

function pre(v: unknown): string {
  return `<pre>${esc(typeof v === "string" ? v : JSON.stringify(v, null, 2))}</pre>`;
}

function figure(c: RenderedChart): string {
  // The SVG is Vega's own output, inlined as is; the id lets a test find each chart.
  return `<figure class="chart" id="chart-${esc(c.id)}">\n${c.svg}\n<figcaption><b>${
    esc(c.title)
  }.</b> ${esc(c.caption)} <a href="${CHART_DIR}/${esc(c.id)}.svg">${
    esc(c.id)
  }.svg</a></figcaption>\n</figure>`;
}

const CSS =
  `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1,h2,h3{font-weight:600}table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
caption{text-align:left;font-weight:600;padding:0.3em 0}th,td{border:1px solid #ccc;padding:0.25em 0.5em}
th{background:#f3f3f3}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure.chart{display:inline-block;vertical-align:top;margin:0.5em 1em 1.5em 0;max-width:560px}
figcaption{font-size:0.85em;color:#444}pre{background:#f7f7f7;padding:0.6em;overflow-x:auto;font-size:0.8em}
code{background:#f3f3f3;padding:0 0.2em}details{margin:0.5em 0}`;

function section(title: string, charts: RenderedChart[], tables: Table[], extra = ""): string {
  if (charts.length === 0 && tables.length === 0 && !extra) return "";
  return `<section>\n<h2>${esc(title)}</h2>\n${charts.map(figure).join("\n")}\n${
    tables.map(htmlTable).join("\n")
  }\n${extra}\n</section>`;
}

function html(
  inputs: ReportInputs,
  charts: RenderedChart[],
  title: string,
  command: string,
): string {
  const pick = (p: string) => charts.filter((c) => c.id.startsWith(p));
  const parts: string[] = [];
  parts.push(
    section(
      "Experiment",
      pick("experiment-"),
      experimentTables(inputs),
      inputs.experiments.map((e) =>
        details(`experiment config (${e.path})`, pre(e.data.config)) +
        e.data.phases.filter((p) => p.config !== undefined).map((p) =>
          details(`phase ${p.id}: config`, pre(p.config))
        ).join("\n")
      ).join("\n"),
    ),
  );
  inputs.thompson.forEach((t, i) => {
    const prefix = inputs.thompson.length > 1 ? `thompson${i + 1}-` : "thompson-";
    parts.push(section(
      `Thompson sampling: ${t.path}`,
      pick(prefix),
      thompsonTables(t.data, t.path),
      details("config (thompson.json)", pre(t.data.config)) +
        `<p>Per-rollout records: ${
          t.rollouts ? `${t.rollouts.length} lines in` : "none (no"
        } <code>${esc(t.path.replace(/thompson\.json$/, "thompson_rollouts.jsonl"))}</code>${
          t.rollouts ? "" : ")"
        }.</p>`,
    ));
  });
  parts.push(section(
    "Greedy evaluation",
    pick("greedy-"),
    greedyTables(inputs.greedy),
    inputs.greedy.map((g) =>
      details(
        `${g.data.agent.label}: ${g.path}`,
        pre({ agent: g.data.agent, split: g.data.split, seeds: g.data.seeds }),
      )
    ).join("\n"),
  ));
  if (inputs.training.length > 0) {
    const labels = runLabels(inputs.training.map((r) => r.dir));
    parts.push(section(
      "Training",
      pick("train-"),
      [trainingSummaryTable(inputs.training)],
      inputs.training.map((r, i) =>
        details(
          `${labels[i]}: every metrics row (${r.rows.length})`,
          htmlTable(metricsTable(r, labels[i])),
        ) +
        details(`${labels[i]}: config (${r.dir}/config.json)`, pre(r.config ?? "(no config.json)"))
      ).join("\n"),
    ));
  }
  const sources = [
    ...inputs.experiments.map((e) => e.path),
    ...inputs.thompson.map((t) => t.path),
    ...inputs.greedy.map((g) => g.path),
    ...inputs.training.map((r) => `${r.dir}/metrics.jsonl`),
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p>Made by <code>${esc(command)}</code> from ${sources.length} input${
    sources.length === 1 ? "" : "s"
  }:</p>
<ul>${sources.map((s) => `<li><code>${esc(s)}</code></li>`).join("")}</ul>
<p>Score = mean reward ×100; success = share of episodes with reward 1. Error rules: ±1 standard deviation over runs or seeds.</p>
${parts.filter(Boolean).join("\n")}
</body>
</html>
`;
}

// Markdown.

function mdCell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** A table as Markdown. */
export function markdownTable(t: Table): string {
  const align = t.head.map((_, i) => (t.numeric?.[i] ? "---:" : "---"));
  return [
    `${t.caption}:`,
    "",
    `| ${t.head.map(mdCell).join(" | ")} |`,
    `|${align.join("|")}|`,
    ...t.rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`),
  ].join("\n");
}

function markdown(
  inputs: ReportInputs,
  charts: RenderedChart[],
  title: string,
  command: string,
): string {
  const blocks: string[] = [
    `# ${title}`,
    "",
    `Made by \`${command}\`; the full report is report.html.`,
  ];
  for (const t of experimentTables(inputs)) blocks.push("", markdownTable(t));
  for (const t of inputs.thompson) {
    blocks.push("", markdownTable(thompsonSummaryTable(t.data, t.path)));
  }
  if (inputs.greedy.length > 0) blocks.push("", markdownTable(greedySummaryTable(inputs.greedy)));
  if (inputs.training.length > 0) {
    blocks.push("", markdownTable(trainingSummaryTable(inputs.training)));
  }
  if (charts.length > 0) {
    blocks.push("", "## Charts", "");
    for (const c of charts) {
      blocks.push(`![${c.title}](${CHART_DIR}/${c.id}.svg)`, "", `${c.caption}`, "");
    }
  }
  return blocks.join("\n").trimEnd() + "\n";
}
