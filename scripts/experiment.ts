/**
 * `deno task experiment [--budget <minutes>] [--seeds 3] [--quick]`: the paper's experiment on
 * the embedded default (train/experiment.ts), then its report. A rerun with the same flags
 * continues where an interrupted one stopped.
 *
 *   deno task experiment                 # about an hour here: every trainer, 3 seeds
 *   deno task experiment --quick         # a few minutes: a small catalog, short runs (CI)
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import {
  type ExperimentConfig,
  experimentConfig,
  experimentPhases,
  runExperiment,
  trainerMinutes,
  TRAINERS,
} from "../train/experiment.ts";
import { duration } from "../train/run.ts";
import { intFlag, parseFlags, runMain, usageError } from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";
import { MAIN_DATA, MAIN_DPO } from "../train/defaults.ts";
import { validateDpoConfig } from "../train/dpo.ts";

const USAGE = `usage: deno task experiment [options]
  --budget <minutes>   wall-clock of the whole experiment (default 60; --quick 4): what is left
                       after the IL reference, generation and evaluation is split equally
                       between the trainer runs
  --seeds <n>          training seeds of every trainer (default 3; --quick 1)
  --quick              a small catalog and short runs, to check the whole path (CI)
  --name <n>           run folder runs/<n> (default experiment, or experiment-quick)
  --debug              stack traces for errors
  --help               this text
data (the main job's; e.g. --expert-accept target --expert-imperfect-rate 0.5 for the
human-like expert):
${configUsage(MAIN_DATA)}
DPO (the main job's, with a ceiling of 1,000 updates; the budget stops it first):
${configUsage(MAIN_DPO, "dpo-")}`;

async function main(): Promise<void> {
  const v = parseFlags("experiment", USAGE, {
    budget: { type: "string" },
    seeds: { type: "string" },
    quick: { type: "boolean" },
    name: { type: "string" },
    ...configFlagSpecs(MAIN_DATA),
    ...configFlagSpecs(MAIN_DPO, "dpo-"),
  });
  if (!v) return;
  const quick = !!v.quick;
  const seeds = intFlag("experiment", USAGE, "seeds", v.seeds, quick ? 1 : 3, 1, 20);
  const budget = v.budget === undefined ? (quick ? 4 : 60) : Number(v.budget);
  if (!(budget > 0) || !Number.isFinite(budget)) {
    usageError(
      "experiment",
      USAGE,
      `--budget must be a positive number of minutes, got "${v.budget}"`,
    );
  }
  let base = experimentConfig(quick, seeds);
  try {
    const values = v as Record<string, unknown>;
    base = {
      ...base,
      data: applyConfigFlags(base.data, values),
      dpo: validateDpoConfig(applyConfigFlags(base.dpo, values, "dpo-")),
    };
  } catch (e) {
    usageError("experiment", USAGE, (e as Error).message);
  }
  const cfg: ExperimentConfig = { ...base, trainerMinutes: trainerMinutes(base, budget) };
  const name = (v.name as string | undefined) ?? (quick ? "experiment-quick" : "experiment");
  const command = ["deno task experiment", ...Deno.args.filter((a) => a !== "--debug")].join(" ");
  const runs = TRAINERS.filter((t) => !t.missing);
  const planned = experimentPhases(cfg, command).reduce((a, p) => a + p.estimate, 0) / 60;
  if (planned > 1.05 * budget) {
    console.log(
      `experiment: note: the plan needs about ${planned.toFixed(0)} min at the rates measured ` +
        `here, more than --budget ${budget} (evaluation alone does not fit); trainer runs get ` +
        `the floor of ${cfg.trainerMinutes} min`,
    );
  }
  console.log(
    `experiment: budget ${budget} min; ${runs.length} trainers × ${seeds} seeds, ` +
      `${cfg.trainerMinutes} min each (${runs.map((t) => t.label).join(", ")})` +
      TRAINERS.filter((t) => t.missing).map((t) => `; skips ${t.label}: ${t.missing}`).join(""),
  );
  const gpu = await requestGpu();
  console.log(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const t0 = performance.now();
  const out = await runExperiment(gpu, cfg, { runsDir: "runs", name, command });
  console.log(`\n${out.table}\n`);
  const skipped = out.file.phases.filter((p) => p.status === "skipped");
  if (skipped.length) {
    console.log(`skipped: ${skipped.map((p) => `${p.id} (${p.reason})`).join("; ")}`);
  }
  console.log(`experiment: ${duration((performance.now() - t0) / 1000)}; report ${out.report}`);
}

if (import.meta.main) await runMain("experiment", main);
