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
  MAIN_DATA,
  MAIN_DPO,
  MAIN_ENCODER,
  MAIN_IL,
  MAIN_LOOP,
  MAIN_PPO,
} from "../train/defaults.ts";
import {
  type ExperimentConfig,
  experimentPhases,
  runExperiment,
  TRAINERS,
} from "../train/experiment.ts";
import { modelShape } from "../train/pipeline.ts";
import { duration } from "../train/run.ts";
import { intFlag, parseFlags, runMain, usageError } from "./_cli.ts";

const USAGE = `usage: deno task experiment [options]
  --budget <minutes>   wall-clock of the whole experiment (default 60; --quick 4): what is left
                       after the IL reference, generation and evaluation is split equally
                       between the trainer runs
  --seeds <n>          training seeds of every trainer (default 3; --quick 1)
  --quick              a small catalog and short runs, to check the whole path (CI)
  --name <n>           run folder runs/<n> (default experiment, or experiment-quick)
  --debug              stack traces for errors
  --help               this text`;

/** The experiment's settings at its defaults (`quick`: small and short). */
export function experimentConfig(
  quick: boolean,
  seeds: number,
): Omit<ExperimentConfig, "trainerMinutes"> {
  if (!quick) {
    return {
      data: MAIN_DATA,
      model: modelShape("nano"),
      encoder: MAIN_ENCODER,
      il: MAIN_IL,
      // The budget bounds each run; 3,000 updates (the paper's) is only a ceiling.
      dpo: { ...MAIN_DPO, steps: 400, checkpointEvery: 100 },
      ppo: { ...MAIN_PPO, steps: 100_000 },
      loop: { ...MAIN_LOOP, steps: 10_000 },
      generate: { n: 100, maxEpisodes: 1600, temperature: 1 },
      seeds,
      thompson: { runs: 5, rollouts: 1000, batch: 32 },
      testGoals: 100,
      envs: 32,
      stepLimit: 20,
    };
  }
  return {
    data: { ...MAIN_DATA, products: 600, numDemos: 60, evalDemos: 10, vocabSize: 2000 },
    model: modelShape("nano"),
    encoder: MAIN_ENCODER,
    il: { ...MAIN_IL, maxSteps: 30, evalExamples: 20, checkpointEvery: 0 },
    dpo: { ...MAIN_DPO, steps: 16, checkpointEvery: 0 },
    ppo: { ...MAIN_PPO, steps: 100_000, checkpointEvery: 0 },
    loop: { ...MAIN_LOOP, steps: 10_000, goalsPerIteration: 4, checkpointEvery: 0 },
    generate: { n: 10, maxEpisodes: 64, temperature: 1 },
    seeds,
    thompson: { runs: 2, rollouts: 32, batch: 16 },
    testGoals: 12,
    envs: 16,
    stepLimit: 15,
  };
}

/**
 * Minutes of each trainer run: the budget less the planned seconds of the other phases, split
 * equally between the runs of the trainers in the tree (at least 0.2).
 */
export function trainerMinutes(
  cfg: Omit<ExperimentConfig, "trainerMinutes">,
  budgetMinutes: number,
): number {
  const runs = TRAINERS.filter((t) => !t.missing).length * cfg.seeds;
  const others = experimentPhases({ ...cfg, trainerMinutes: 0 }, "")
    .reduce((a, p) => a + p.estimate, 0);
  const m = (60 * budgetMinutes - others) / 60 / Math.max(1, runs);
  return Math.max(0.2, Math.floor(10 * m) / 10);
}

async function main(): Promise<void> {
  const v = parseFlags("experiment", USAGE, {
    budget: { type: "string" },
    seeds: { type: "string" },
    quick: { type: "boolean" },
    name: { type: "string" },
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
  const base = experimentConfig(quick, seeds);
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
