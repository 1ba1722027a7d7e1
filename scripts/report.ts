/**
 * `deno task report runs/<name>...`: charts, tables, commands and configs of the given run
 * folders (Thompson comparisons, greedy evaluations, training runs, an experiment; each found
 * in the folder or below it) as report.html (self-contained), report.md and
 * report_charts/*.svg, written into the first folder or `--out <dir>`.
 *
 *   deno task report runs/exp
 *   deno task report runs/thompson runs/dpo --out runs/compare
 *
 * @module
 */

import { buildReport, writeReport } from "../eval/report.ts";
import { readReportInputs, ReportInputError } from "../eval/report_inputs.ts";
import { CliError, runMain, usageError } from "./_cli.ts";
import { parseArgs } from "node:util";

const USAGE = `usage: deno task report <run folder>... [options]
  <run folder>     runs/<name>: reads thompson.json (+ thompson_rollouts.jsonl), greedy.json,
                   metrics.jsonl (+ config.json) and experiment.json there and in its subfolders
  --out <dir>      where report.html, report.md and report_charts/ go (default: the first folder)
  --title <text>   the report's title (default "webshop-rl report")
  --debug          stack traces for errors
  --help           this text`;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        out: { type: "string" },
        title: { type: "string" },
        help: { type: "boolean" },
        debug: { type: "boolean" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    usageError("report", USAGE, (e as Error).message);
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return;
  }
  const dirs = parsed.positionals;
  if (dirs.length === 0) usageError("report", USAGE, "give at least one run folder");
  const out = parsed.values.out ?? dirs[0];
  const command = ["deno task report", ...Deno.args.filter((a) => a !== "--debug")].join(" ");
  let inputs;
  try {
    inputs = await readReportInputs(dirs);
  } catch (e) {
    if (e instanceof ReportInputError) throw new CliError(e.message);
    throw e;
  }
  const report = await buildReport(inputs, { command, title: parsed.values.title });
  const files = await writeReport(out, report);
  console.log(
    `report: ${inputs.thompson.length} Thompson comparison(s), ${inputs.greedy.length} greedy ` +
      `evaluation(s), ${inputs.training.length} training run(s), ${report.charts.length} charts`,
  );
  console.log(report.markdown.split("\n## Charts")[0].trimEnd());
  console.log(`\nreport: ${files.html} (and ${files.markdown}, ${files.charts.length} SVGs)`);
}

if (import.meta.main) await runMain("report", main);
