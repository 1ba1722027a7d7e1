/**
 * The report's charts as Vega-Lite specs, built from its inputs: score and success rate per
 * agent with their spread across runs (Feng 2024, Figs. 3–6: bars at the mean, a rule from
 * mean − sd to mean + sd, a dot per run or seed), Thompson pulls and posterior means over the
 * rollouts, each run's cumulative regret, and training curves from metrics.jsonl against the
 * step and against wall-clock. Each builder returns null when its input has nothing to draw.
 *
 * The specs are plain data (Vega-Lite's JSON grammar): {@linkcode renderSvg} in
 * `render_svg.ts` turns them into SVG.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type {
  ExperimentFile,
  GreedyFile,
  ThompsonFile,
  ThompsonRolloutRow,
  TrainingRun,
} from "./report_inputs.ts";

/** A chart of the report: its file name (without .svg), title, a caption and its spec. */
export interface ChartSpec {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

const WIDTH = 440, HEIGHT = 240;
/** Points kept per line of a rollout-indexed chart (the last rollout always among them). */
const MAX_POINTS = 250;

/** One bar of a spread chart: the mean and the ±sd rule. */
interface SpreadBar {
  agent: string;
  mean: number;
  lo: number;
  hi: number;
}

/** A bar per agent at the mean, a rule over mean ± sd and a dot per run/seed. */
function spreadChart(
  title: string,
  yTitle: string,
  bars: SpreadBar[],
  dots: { agent: string; value: number; of: string }[],
  order: string[],
  yMax?: number,
): TopLevelSpec {
  const x = {
    field: "agent",
    type: "nominal" as const,
    sort: order,
    title: null,
    axis: { labelAngle: 0 },
  };
  // All zero (no agent ever succeeded): a [0, 1] axis instead of a degenerate one.
  const top = Math.max(0, ...bars.map((b) => b.hi), ...dots.map((d) => d.value));
  const scale = yMax !== undefined
    ? { domain: [0, yMax] }
    : top > 0
    ? { zero: true }
    : { domain: [0, 1] };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values: bars },
        mark: { type: "bar", color: "#4c78a8", opacity: 0.85, width: { band: 0.6 } },
        encoding: {
          x,
          y: { field: "mean", type: "quantitative", title: yTitle, scale },
          tooltip: [{ field: "agent" }, { field: "mean", format: ".2f" }],
        },
      },
      {
        data: { values: bars },
        mark: { type: "rule", color: "#222", strokeWidth: 2 },
        encoding: { x, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } },
      },
      {
        data: { values: dots },
        mark: { type: "point", filled: true, color: "#e45756", size: 40, opacity: 0.9 },
        encoding: {
          x,
          y: { field: "value", type: "quantitative" },
          tooltip: [{ field: "agent" }, { field: "of" }, { field: "value", format: ".2f" }],
        },
      },
    ],
  };
}

/** Lines of `y` against `x`, one per `color` (and per `detail` within a color). */
function lineChart(
  title: string,
  values: Record<string, unknown>[],
  x: { field: string; title: string },
  y: { field: string; title: string; domain?: [number, number] },
  color: { field: string; title: string; order?: string[] },
  detail?: string,
): TopLevelSpec {
  // A series of a few points shows its points: a one-point line draws nothing.
  const perSeries = new Map<string, number>();
  for (const v of values) {
    const k = `${v[color.field]}|${detail ? v[detail] : ""}`;
    perSeries.set(k, (perSeries.get(k) ?? 0) + 1);
  }
  const few = Math.min(...perSeries.values()) <= 50;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: "line", point: few, strokeWidth: 1.5, interpolate: "linear" },
    encoding: {
      x: { field: x.field, type: "quantitative", title: x.title },
      y: {
        field: y.field,
        type: "quantitative",
        title: y.title,
        scale: y.domain ? { domain: y.domain } : { zero: false },
      },
      color: { field: color.field, type: "nominal", title: color.title, sort: color.order },
      ...(detail ? { detail: { field: detail, type: "nominal" as const } } : {}),
      tooltip: [
        { field: color.field },
        ...(detail ? [{ field: detail }] : []),
        { field: x.field },
        { field: y.field, format: ".4g" },
      ],
    },
  };
}

/** Indices 0..n-1 thinned to at most `max`, always keeping the first and the last. */
export function thinIndices(n: number, max = MAX_POINTS): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out = new Set<number>();
  for (let k = 0; k < max; k++) out.add(Math.round((k * (n - 1)) / (max - 1)));
  return [...out];
}

function spreadOf(mean: number | null, std: number | null): { lo: number; hi: number } {
  return { lo: (mean ?? 0) - (std ?? 0), hi: (mean ?? 0) + (std ?? 0) };
}

/**
 * Thompson comparison charts: score ×100 and success % per agent across runs, pulls and
 * posterior means over rollouts (from the per-rollout lines; without them, the final pulls per
 * run), and each run's cumulative regret.
 */
export function thompsonCharts(
  th: ThompsonFile,
  rollouts: readonly ThompsonRolloutRow[] | null,
  prefix: string,
): ChartSpec[] {
  const order = th.agents.map((a) => a.label);
  const R = th.config.runs, T = th.config.rollouts;
  const of = `over ${R} run${R === 1 ? "" : "s"} of ${T} rollouts (${th.config.split} goals)`;
  const charts: ChartSpec[] = [];
  const pulled = th.agents.filter((a) => a.mean.meanScore !== null);
  charts.push({
    id: `${prefix}score`,
    title: "Thompson: score per agent",
    caption: `Mean score ×100 of each agent's pulls: bar = mean over runs, rule = ±1 sd, ` +
      `dots = runs; ${of}. Runs where an agent was never pulled are left out of its mean.`,
    spec: spreadChart(
      "Score ×100 per agent (Thompson sampling)",
      "score ×100",
      pulled.map((a) => ({
        agent: a.label,
        mean: a.mean.meanScore!,
        ...spreadOf(a.mean.meanScore, a.std.meanScore),
      })),
      th.agents.flatMap((a) =>
        a.perRun.flatMap((r, i) =>
          r.meanScore === null ? [] : [{ agent: a.label, value: r.meanScore, of: `run ${i}` }]
        )
      ),
      order,
    ),
  });
  charts.push({
    id: `${prefix}success`,
    title: "Thompson: success rate per agent",
    caption: `Share of each agent's pulls with reward 1, %: bar = mean over runs, rule = ±1 sd, ` +
      `dots = runs; ${of}.`,
    spec: spreadChart(
      "Success rate per agent (Thompson sampling)",
      "success %",
      pulled.map((a) => ({
        agent: a.label,
        mean: 100 * a.mean.successRate!,
        lo: 100 * spreadOf(a.mean.successRate, a.std.successRate).lo,
        hi: 100 * spreadOf(a.mean.successRate, a.std.successRate).hi,
      })),
      th.agents.flatMap((a) =>
        a.perRun.flatMap((r, i) =>
          r.successRate === null
            ? []
            : [{ agent: a.label, value: 100 * r.successRate, of: `run ${i}` }]
        )
      ),
      order,
    ),
  });
  if (rollouts && rollouts.length > 0) {
    const pulls: Record<string, unknown>[] = [], post: Record<string, unknown>[] = [];
    const byRun = new Map<number, ThompsonRolloutRow[]>();
    for (const r of rollouts) {
      const list = byRun.get(r.run);
      if (list) list.push(r);
      else byRun.set(r.run, [r]);
    }
    for (const [run, rows] of [...byRun].sort((a, b) => a[0] - b[0])) {
      rows.sort((a, b) => a.t - b.t);
      const counts = new Map(order.map((l) => [l, 0]));
      const cum: Map<string, number>[] = rows.map((r) => {
        counts.set(r.agent, counts.get(r.agent)! + 1);
        return new Map(counts);
      });
      for (const i of thinIndices(rows.length)) {
        for (const l of order) {
          pulls.push({ rollout: rows[i].t + 1, agent: l, run: `run ${run}`, pulls: cum[i].get(l) });
          post.push({
            rollout: rows[i].t + 1,
            agent: l,
            run: `run ${run}`,
            posterior: rows[i].posteriorMeans[l],
          });
        }
      }
    }
    charts.push({
      id: `${prefix}pulls`,
      title: "Thompson: pulls over rollouts",
      caption: `Cumulative pulls of each agent after each rollout, one line per run; ${of}.`,
      spec: lineChart(
        "Cumulative pulls per agent",
        pulls,
        { field: "rollout", title: "rollout" },
        { field: "pulls", title: "pulls" },
        { field: "agent", title: "agent", order },
        "run",
      ),
    });
    charts.push({
      id: `${prefix}posterior`,
      title: "Thompson: posterior means over rollouts",
      caption: `Mean of each agent's Beta posterior after each rollout, one line per run; ${of}.`,
      spec: lineChart(
        "Posterior mean per agent",
        post,
        { field: "rollout", title: "rollout" },
        { field: "posterior", title: "posterior mean", domain: [0, 1] },
        { field: "agent", title: "agent", order },
        "run",
      ),
    });
  } else {
    charts.push({
      id: `${prefix}pulls`,
      title: "Thompson: pulls per run",
      caption: `Pulls of each agent at the end of each run (no thompson_rollouts.jsonl, so not ` +
        `over rollouts); ${of}.`,
      spec: spreadChart(
        "Pulls per agent",
        "pulls",
        th.agents.map((a) => ({
          agent: a.label,
          mean: a.mean.pulls,
          ...spreadOf(a.mean.pulls, a.std.pulls),
        })),
        th.runs.flatMap((r) =>
          order.map((l) => ({ agent: l, value: r.pulls[l], of: `run ${r.run}` }))
        ),
        order,
      ),
    });
  }
  const regret = th.runs.flatMap((r) =>
    thinIndices(r.regret.length).map((i) => ({
      rollout: i + 1,
      run: `run ${r.run} (best ${r.bestArm})`,
      regret: r.regret[i],
    }))
  );
  if (regret.length > 0) {
    charts.push({
      id: `${prefix}regret`,
      title: "Thompson: cumulative regret",
      caption: "Each run's cumulative regret against its best arm in hindsight (the sum of the " +
        "best arm's mean minus the played arm's mean, means over that run's pulls).",
      spec: lineChart(
        "Cumulative regret per run",
        regret,
        { field: "rollout", title: "rollout" },
        { field: "regret", title: "cumulative regret" },
        { field: "run", title: "run" },
      ),
    });
  }
  return charts;
}

/** Greedy evaluation charts: score ×100 and success % per agent, spread over seeds. */
export function greedyCharts(files: readonly GreedyFile[]): ChartSpec[] {
  if (files.length === 0) return [];
  const order = files.map((g) => g.agent.label);
  const seeds = (g: GreedyFile) => `${g.perSeed.length} seed${g.perSeed.length === 1 ? "" : "s"}`;
  const split = [...new Set(files.map((g) => g.split))].join(", ");
  const how = `every ${split} goal once per seed; bar = mean over seeds, rule = ±1 sd, dots = ` +
    `seeds (${files.map((g) => `${g.agent.label}: ${seeds(g)}`).join(", ")}).`;
  return [
    {
      id: "greedy-score",
      title: "Greedy evaluation: score per agent",
      caption: `Mean score ×100, ${how}`,
      spec: spreadChart(
        `Score ×100 per agent (greedy, ${split})`,
        "score ×100",
        files.map((g) => ({
          agent: g.agent.label,
          mean: g.mean.score,
          ...spreadOf(g.mean.score, g.std.score),
        })),
        files.flatMap((g) =>
          g.perSeed.map((s) => ({ agent: g.agent.label, value: s.score, of: `seed ${s.seed}` }))
        ),
        order,
      ),
    },
    {
      id: "greedy-success",
      title: "Greedy evaluation: success rate per agent",
      caption: `Success rate (reward 1), %, ${how}`,
      spec: spreadChart(
        `Success rate per agent (greedy, ${split})`,
        "success %",
        files.map((g) => ({
          agent: g.agent.label,
          mean: 100 * g.mean.successRate,
          lo: 100 * (g.mean.successRate - g.std.successRate),
          hi: 100 * (g.mean.successRate + g.std.successRate),
        })),
        files.flatMap((g) =>
          g.perSeed.map((s) => ({
            agent: g.agent.label,
            value: 100 * s.successRate,
            of: `seed ${s.seed}`,
          }))
        ),
        order,
      ),
    },
  ];
}

/** Sample mean and standard deviation (n − 1; 0 for one value). */
function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) : 0;
  return { mean: m, sd: Math.sqrt(v) };
}

/**
 * An experiment's greedy test evaluation: score ×100 and success % per trainer, spread over its
 * training seeds.
 */
export function experimentCharts(exp: ExperimentFile): ChartSpec[] {
  const agents = exp.agents.filter((a) => a.greedy !== null);
  if (agents.length === 0) return [];
  const order = [...new Set(agents.map((a) => a.label))];
  const chart = (key: "score" | "successRate", scale: number, yTitle: string, id: string) => {
    const bars = order.map((label) => {
      const xs = agents.filter((a) => a.label === label).map((a) => scale * a.greedy![key]);
      const { mean, sd } = meanSd(xs);
      return { agent: label, mean, lo: mean - sd, hi: mean + sd };
    });
    const dots = agents.map((a) => ({
      agent: a.label,
      value: scale * a.greedy![key],
      of: `seed ${a.seed}`,
    }));
    const goals = agents[0].greedy!.episodes;
    return {
      id,
      title: `Experiment: greedy ${key === "score" ? "score" : "success rate"} per trainer`,
      caption: `${yTitle} on ${goals} test goals, greedy: bar = mean over training seeds, ` +
        `rule = ±1 sd, dots = seeds (one agent per seed; the IL reference is the shared start).`,
      spec: spreadChart(`${yTitle} per trainer (greedy, test)`, yTitle, bars, dots, order),
    };
  };
  return [
    chart("score", 1, "score ×100", "experiment-score"),
    chart("successRate", 100, "success %", "experiment-success"),
  ];
}

/**
 * Metrics drawn as training curves when a run logs them: TRL's names for DPO and PPO, the
 * imitation loss and the periodic greedy evaluation.
 */
export const TRAINING_METRICS = [
  "loss",
  "rewards/margins",
  "rewards/accuracies",
  "eval/success_rate",
  "eval/score",
  "objective/kl",
  "objective/entropy",
  "loss/policy_avg",
  "loss/value_avg",
] as const;

/** Training runs' names in legends: their folders below the folder they share. */
export function runLabels(dirs: readonly string[]): string[] {
  if (dirs.length === 1) return [dirs[0].split("/").pop()!];
  const parts = dirs.map((d) => d.split("/"));
  let c = 0;
  while (parts.every((p) => p.length > c + 1 && p[c] === parts[0][c])) c++;
  return parts.map((p) => p.slice(c).join("/"));
}

/**
 * Training curves: each metric of {@linkcode TRAINING_METRICS} that some run logs, against
 * the step and against wall-clock (`time_s`, where the rows have it), one line per run.
 */
export function trainingCharts(runs: readonly TrainingRun[]): ChartSpec[] {
  const labels = runLabels(runs.map((r) => r.dir));
  const charts: ChartSpec[] = [];
  for (const m of TRAINING_METRICS) {
    const byStep: Record<string, unknown>[] = [], byTime: Record<string, unknown>[] = [];
    for (const [k, r] of runs.entries()) {
      const run = labels[k];
      for (const row of r.rows) {
        const v = row[m];
        if (typeof v !== "number" || !Number.isFinite(v)) continue;
        byStep.push({ run, step: row.step, value: v });
        if (typeof row.time_s === "number") byTime.push({ run, seconds: row.time_s, value: v });
      }
    }
    if (byStep.length === 0) continue;
    const id = m.replace(/[^A-Za-z0-9]+/g, "_");
    const runsWith = new Set(byStep.map((v) => v.run)).size;
    charts.push({
      id: `train-${id}-step`,
      title: `Training: ${m} by step`,
      caption: `${m} at each logged update (metrics.jsonl), ${runsWith} run${
        runsWith === 1 ? "" : "s"
      }.`,
      spec: lineChart(`${m} by step`, byStep, { field: "step", title: "update" }, {
        field: "value",
        title: m,
      }, { field: "run", title: "run" }),
    });
    if (byTime.length > 0) {
      const missing = runsWith - new Set(byTime.map((v) => v.run)).size;
      charts.push({
        id: `train-${id}-time`,
        title: `Training: ${m} by wall-clock`,
        caption: `${m} against seconds since the run began (metrics.jsonl time_s)` +
          (missing > 0 ? `; ${missing} run(s) without time_s are left out.` : "."),
        spec: lineChart(
          `${m} by wall-clock`,
          byTime,
          {
            field: "seconds",
            title: "seconds",
          },
          { field: "value", title: m },
          { field: "run", title: "run" },
        ),
      });
    }
  }
  return charts;
}
