/**
 * The paper's experiment on the embedded default, one command (`deno task experiment`): an
 * imitation-learned reference; DPO on the demonstrations; 100 self-generated trajectories and DPO
 * on them (Feng 2024, §3.1–3.2); PPO and LOOP where those trainers are in the tree; every
 * trainer from the same reference with the same wall-clock budget, over several seeds; then a
 * greedy evaluation of every agent on the test goals and the Thompson-sampling comparison; ends
 * with `deno task report`'s report of the whole folder.
 *
 * Each step is a phase of {@linkcode experimentPhases}; `runs/<name>/experiment.json` records
 * each phase's status, seconds, result and config as it finishes (atomically), so a rerun with
 * the same settings skips what is done and continues with the first phase that is not (a phase
 * that was interrupted starts again from its beginning). A trainer is one entry of
 * {@linkcode TRAINERS}: adding PPO or LOOP is one entry there.
 *
 * @module
 */

import { writeAtomically } from "../base/atomic.ts";
import { type AgentMeta, loadAgent } from "../agent/checkpoint.ts";
import { AgentEncoder, type EncoderConfig } from "../agent/encoder.ts";
import { ModelPolicy } from "../agent/policy.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { writeDemonstrations } from "../env/demos.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";
import { evaluate } from "../eval/greedy.ts";
import { buildReport, writeReport } from "../eval/report.ts";
import type { ExperimentAgent, ExperimentFile, ExperimentPhase } from "../eval/report_inputs.ts";
import { readReportInputs } from "../eval/report_inputs.ts";
import type { Gpu } from "../kernels/device.ts";
import { ChoiceModel } from "../model/choice_model.ts";
import type { TrainContext } from "./common.ts";
import { type DataConfig, prepareData, type TrainData } from "./data.ts";
import {
  type DpoConfig,
  dpoEpisodeIndices,
  episodesOf,
  referenceLogps,
  trainDpo,
  validateDpoConfig,
} from "./dpo.ts";
import { generateTrajectories } from "./generate.ts";
import { type IlConfig, trainIl, validateIlConfig } from "./il.ts";
import { ModelOptimizer } from "./optimizer.ts";
import { createAgentModel, type ModelShape, splitExamples } from "./pipeline.ts";
import { duration, Interrupt, RunLog } from "./run.ts";

/** Everything the experiment needs (saved in experiment.json; a rerun must match it). */
export interface ExperimentConfig {
  data: DataConfig;
  model: ModelShape;
  encoder: EncoderConfig;
  /** The IL reference: bounded by its updates (IL has no time budget). */
  il: IlConfig;
  /** Every DPO run: bounded by `trainerMinutes` and by `steps`. */
  dpo: DpoConfig;
  /** Self-generated trajectories (Feng 2024: 100), sampled by the reference on train goals. */
  generate: { n: number; maxEpisodes: number; temperature: number };
  /** Training seeds of every trainer (data order, sampling; the reference is shared). */
  seeds: number;
  /** Wall-clock minutes of each trainer run, the same for every trainer. */
  trainerMinutes: number;
  /** Thompson comparison of the trained agents (Feng 2024: 5 runs × 1,000 rollouts). */
  thompson: { runs: number; rollouts: number; batch: number };
  /** Test goals of the greedy evaluation, the first ones of the split; 0 for all. */
  testGoals: number;
  /** Episodes played at once. */
  envs: number;
  /** Steps after which an episode ends with reward 0. */
  stepLimit: number;
}

/** What a phase left behind (kept in experiment.json). */
interface PhaseResult {
  checkpoint?: string;
  updates?: number;
  file?: string;
  kept?: number;
  played?: number;
  agents?: ExperimentAgent[];
  /** Wall-clock of a trainer phase (for the agents table). */
  seconds?: number;
}

/** Recorded state of a phase. */
type PhaseRecord = ExperimentPhase & { result?: PhaseResult };

/** What phases share while the experiment runs. */
interface PhaseContext {
  gpu: Gpu;
  cfg: ExperimentConfig;
  dir: string;
  data: TrainData;
  envs: WebShopEnv[];
  interrupt: Interrupt;
  /** Finished phases' results by id. */
  done: Map<string, PhaseResult>;
}

/** A trainer of the comparison: from the IL reference, within `deadline` (performance.now ms). */
export interface Trainer {
  id: string;
  label: string;
  /** Why it cannot run in this tree (its module is absent), or null. */
  missing: string | null;
  /** Why what it needs besides the reference is absent (e.g. no generated trajectory), or null. */
  needs: (done: Map<string, PhaseResult>) => string | null;
  train?: (
    p: PhaseContext,
    seed: number,
    dir: string,
    deadline: number,
  ) => Promise<{ checkpoint: string; updates: number }>;
}

/** DPO from the reference on `data`'s demonstrations, for the seed, until the deadline. */
async function dpoRun(
  p: PhaseContext,
  data: TrainData,
  seed: number,
  dir: string,
  deadline: number,
): Promise<{ checkpoint: string; updates: number }> {
  const refPath = p.done.get("il")!.checkpoint!;
  const cfg: DpoConfig = { ...p.cfg.dpo, seed, timeBudget: p.cfg.trainerMinutes };
  const ref = await loadAgent(refPath, { tokenizer: data.tokenizer.identity });
  const ex = splitExamples(data, cfg.searchSteps, p.cfg.il.seed);
  const episodes = episodesOf(ex.train.examples);
  if (episodes.length === 0) throw new Error(`${dir}: no demonstration with a choice to pair`);
  const model = ChoiceModel.create(p.gpu, ref.spec.model, ref.weights);
  const enc = new AgentEncoder(data.tokenizer, ref.spec.encoder);
  const log = await RunLog.open(dir);
  const meta: AgentMeta = { spec: ref.spec, trainer: { name: "dpo", config: cfg } };
  await log.writeConfig({
    ...meta,
    reference: refPath,
    data: { ...p.cfg.data, demos: data.demosPath },
  });
  const ctx: TrainContext = {
    model,
    encoder: enc,
    tokenizer: data.tokenizer.identity,
    meta,
    log,
    interrupt: p.interrupt,
  };
  const opt = new ModelOptimizer(model, cfg);
  try {
    const visit = new Set<number>();
    for (let u = 0; u < cfg.steps; u++) {
      for (const e of dpoEpisodeIndices(cfg, episodes.length, u)) visit.add(e);
    }
    // The reference pass counts inside the trainer's budget, as the main job counts it.
    const refLogps = await referenceLogps(ctx, episodes, visit);
    const out = await trainDpo(ctx, cfg, episodes, refLogps, opt, { deadline });
    if (out.interrupted) throw new Error(`interrupted during ${dir}; checkpoint ${out.checkpoint}`);
    return { checkpoint: out.checkpoint, updates: out.steps };
  } finally {
    log.close();
    opt.destroy();
    model.destroy();
  }
}

/** The trainers compared, in table order. */
export const TRAINERS: Trainer[] = [
  {
    id: "dpo-demos",
    label: "DPO (demos)",
    missing: null,
    needs: () => null,
    train: (p, seed, dir, deadline) => dpoRun(p, p.data, seed, dir, deadline),
  },
  {
    id: "dpo-generated",
    label: "DPO (generated)",
    missing: null,
    needs: (done) => {
      const g = done.get("generate");
      if (!g) return "needs the generate phase, which did not finish";
      return g.file ? null : `generate kept no trajectory with reward 1 (of ${g.played} episodes)`;
    },
    train: async (p, seed, dir, deadline) => {
      const file = p.done.get("generate")!.file!;
      const data = await prepareData({ ...p.cfg.data, demos: file }, () => {});
      return await dpoRun(p, data, seed, dir, deadline);
    },
  },
  {
    id: "ppo",
    label: "PPO",
    missing: "no PPO trainer in this tree (train/ppo.ts)",
    needs: () => null,
  },
  {
    id: "loop",
    label: "LOOP",
    missing: "no LOOP trainer in this tree (train/loop.ts)",
    needs: () => null,
  },
];

/** One step of the experiment. */
interface Phase {
  id: string;
  /** What it does, for the progress line. */
  what: string;
  /** The command that reproduces it (in the report). */
  command: string;
  /** Planned seconds, for the ETA. */
  estimate: number;
  /** Why it is skipped, or null. */
  skip: (done: Map<string, PhaseResult>) => string | null;
  run: (p: PhaseContext) => Promise<PhaseResult>;
  /** Run every time (cheap, and it reflects the other phases). */
  always?: boolean;
}

/**
 * Seconds per IL update, generated episode and evaluated goal for the plan and the first ETA
 * (measured here: lavapipe, nano model, 2 cores shared with other work).
 */
const RATE = { ilUpdate: 3, episode: 0.4, goal: 0.6 };

/** Test goals the greedy evaluation plays. */
function testGoals(p: PhaseContext): number[] {
  const all = goalIndicesForSplit(p.data.catalog.goals.length, "test");
  return p.cfg.testGoals > 0 ? all.slice(0, p.cfg.testGoals) : all;
}

/** The experiment's phases, in order, for `cfg` (the command is the experiment's own). */
export function experimentPhases(cfg: ExperimentConfig, command: string): Phase[] {
  const seeds = Array.from({ length: cfg.seeds }, (_, s) => s);
  const phases: Phase[] = [];
  phases.push({
    id: "il",
    what: `IL reference, ${cfg.il.maxSteps || "all"} updates`,
    command: `${command} (phase il: trainIl, the main job's IL recipe)`,
    estimate: RATE.ilUpdate * (cfg.il.maxSteps || 1000),
    skip: () => null,
    run: async (p) => {
      const t0 = performance.now();
      const dir = `${p.dir}/il`;
      const ex = splitExamples(p.data, cfg.il.searchSteps, cfg.il.seed);
      const made = await createAgentModel(
        p.gpu,
        "random",
        cfg.model,
        cfg.encoder,
        p.data.tokenizer.vocabSize,
        cfg.il.seed,
      );
      const enc = new AgentEncoder(p.data.tokenizer, made.spec.encoder);
      const log = await RunLog.open(dir);
      const meta: AgentMeta = { spec: made.spec, trainer: { name: "il", config: cfg.il } };
      await log.writeConfig({ ...meta, data: cfg.data, init: "random" });
      await made.model.warmup(enc.batch(ex.train.examples.slice(0, cfg.il.microBatch)));
      const opt = new ModelOptimizer(made.model, cfg.il);
      try {
        const out = await trainIl(
          {
            model: made.model,
            encoder: enc,
            tokenizer: p.data.tokenizer.identity,
            meta,
            log,
            interrupt: p.interrupt,
          },
          cfg.il,
          { train: ex.train.examples, eval: ex.eval.examples },
          opt,
        );
        if (out.interrupted) throw new Error(`interrupted during the IL reference (${dir})`);
        return {
          checkpoint: out.checkpoint,
          updates: out.steps,
          seconds: (performance.now() - t0) / 1000,
        };
      } finally {
        log.close();
        opt.destroy();
        made.model.destroy();
      }
    },
  });
  const trainerPhase = (t: Trainer, seed: number): Phase => ({
    id: `${t.id}-s${seed}`,
    what: `${t.label}, seed ${seed}, ${cfg.trainerMinutes} min`,
    command: `${command} (phase ${t.id}-s${seed})`,
    estimate: t.missing ? 0 : 60 * cfg.trainerMinutes,
    skip: (done) => t.missing ?? t.needs(done),
    run: async (p) => {
      const t0 = performance.now();
      const r = await t.train!(
        p,
        seed,
        `${p.dir}/${t.id}-s${seed}`,
        t0 + 60_000 * cfg.trainerMinutes,
      );
      return { ...r, seconds: (performance.now() - t0) / 1000 };
    },
  });
  for (const s of seeds) phases.push(trainerPhase(TRAINERS[0], s));
  phases.push({
    id: "generate",
    what: `${cfg.generate.n} self-generated trajectories with reward 1`,
    command:
      `deno task generate --ref <il checkpoint> --n ${cfg.generate.n} --max-episodes ${cfg.generate.maxEpisodes}`,
    estimate: RATE.episode * cfg.generate.maxEpisodes / 2,
    skip: () => null,
    run: async (p) => {
      const refPath = p.done.get("il")!.checkpoint!;
      const ck = await loadAgent(refPath, { tokenizer: p.data.tokenizer.identity });
      const model = ChoiceModel.create(p.gpu, ck.spec.model, ck.weights);
      try {
        const policy = new ModelPolicy(model, new AgentEncoder(p.data.tokenizer, ck.spec.encoder), {
          mode: "sample",
          temperature: cfg.generate.temperature,
          seed: 0,
          name: "reference",
        });
        const train = goalIndicesForSplit(p.data.catalog.goals.length, "train");
        const g = await generateTrajectories(p.envs, policy, train, {
          n: cfg.generate.n,
          maxEpisodes: cfg.generate.maxEpisodes,
          seed: 0,
          onRound: (g) =>
            console.log(
              `generate: ${g.kept.length}/${cfg.generate.n} kept of ${g.played} episodes ` +
                `(${(g.played / g.seconds).toFixed(1)} episodes/s)`,
            ),
        });
        if (g.kept.length === 0) {
          // Not an error: the trainers on generated data are skipped, saying why.
          console.log(`generate: no episode with reward 1 in ${g.played}`);
          return { kept: 0, played: g.played };
        }
        const file = `${p.dir}/generate/il_trajs_generated.jsonl`;
        await Deno.mkdir(`${p.dir}/generate`, { recursive: true });
        await writeDemonstrations(file, g.kept);
        console.log(
          `generate: kept ${g.kept.length} of ${g.played} episodes (acceptance ${
            (100 * g.kept.length / g.played).toFixed(1)
          }%)${
            g.kept.length < cfg.generate.n ? `, fewer than ${cfg.generate.n}: --max-episodes` : ""
          }`,
        );
        return { file, kept: g.kept.length, played: g.played };
      } finally {
        model.destroy();
      }
    },
  });
  for (const t of TRAINERS.slice(1)) for (const s of seeds) phases.push(trainerPhase(t, s));
  phases.push({
    id: "greedy",
    what: "greedy test evaluation of every agent",
    command: `${command} (phase greedy: eval/greedy.ts evaluate on the test goals)`,
    estimate: RATE.goal * (cfg.testGoals || 250) *
      (1 + TRAINERS.filter((t) => !t.missing).length * cfg.seeds),
    skip: () => null,
    run: async (p) => {
      const agents: ExperimentAgent[] = [];
      const goals = testGoals(p);
      const il = p.done.get("il")!;
      const list: Omit<ExperimentAgent, "greedy">[] = [
        {
          trainer: "il",
          label: "IL reference",
          seed: cfg.il.seed,
          checkpoint: il.checkpoint!,
          updates: il.updates!,
          trainSeconds: il.seconds ?? 0,
        },
      ];
      for (const t of TRAINERS) {
        for (const s of seeds) {
          const r = p.done.get(`${t.id}-s${s}`);
          if (r?.checkpoint) {
            list.push({
              trainer: t.id,
              label: t.label,
              seed: s,
              checkpoint: r.checkpoint,
              updates: r.updates!,
              trainSeconds: r.seconds ?? 0,
            });
          }
        }
      }
      for (const a of list) {
        const ck = await loadAgent(a.checkpoint, { tokenizer: p.data.tokenizer.identity });
        const model = ChoiceModel.create(p.gpu, ck.spec.model, ck.weights);
        try {
          const enc = new AgentEncoder(p.data.tokenizer, ck.spec.encoder);
          const r = await evaluate(
            p.envs,
            new ModelPolicy(model, enc, { mode: "greedy", name: a.label }),
            goals,
          );
          agents.push({
            ...a,
            greedy: {
              episodes: r.episodes,
              score: r.score,
              successRate: r.successRate,
              meanSteps: r.meanSteps,
              seconds: r.seconds,
            },
          });
          console.log(
            `greedy: ${a.label} seed ${a.seed} on ${r.episodes} test goals: score ${
              r.score.toFixed(1)
            }, ` +
              `success ${(100 * r.successRate).toFixed(1)}%, ${
                (r.episodes / r.seconds).toFixed(1)
              } episodes/s`,
          );
        } finally {
          model.destroy();
        }
      }
      return { agents };
    },
  });
  phases.push({
    id: "thompson",
    what: `Thompson sampling, ${cfg.thompson.runs} runs × ${cfg.thompson.rollouts} rollouts`,
    command:
      `deno task eval:thompson --runs ${cfg.thompson.runs} --rollouts ${cfg.thompson.rollouts}`,
    estimate: 0,
    skip: () => "eval:thompson (eval/thompson.ts runThompson) is not in this tree yet",
    run: () => Promise.reject(new Error("thompson: not in this tree")),
  });
  phases.push({
    id: "report",
    what: "the report",
    command: `deno task report <run folder>`,
    estimate: 10,
    skip: () => null,
    always: true,
    run: () => Promise.resolve({}),
  });
  return phases;
}

/** The experiment's record: what ran, its results, and what it skipped. */
export interface ExperimentOutcome {
  file: ExperimentFile;
  report: string;
  table: string;
}

/**
 * Runs (or continues) the experiment in `runsDir/name`: every phase not yet done, in order,
 * with a progress line and the time left before each; then the report.
 */
export async function runExperiment(
  gpu: Gpu,
  cfg: ExperimentConfig,
  opts: { runsDir: string; name: string; command: string },
): Promise<ExperimentOutcome> {
  validateIlConfig(cfg.il);
  validateDpoConfig(cfg.dpo);
  const dir = `${opts.runsDir}/${opts.name}`;
  const statePath = `${dir}/experiment.json`;
  const phases = experimentPhases(cfg, opts.command);
  let records: PhaseRecord[] = phases.map((ph) => ({
    id: ph.id,
    status: "pending",
    command: ph.command,
  }));
  let prior: ExperimentFile | null = null;
  try {
    prior = JSON.parse(await Deno.readTextFile(statePath)) as ExperimentFile;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new Error(`${statePath}: cannot read (${(e as Error).message})`);
    }
  }
  if (prior) {
    if (JSON.stringify(prior.config) !== JSON.stringify(cfg)) {
      throw new Error(
        `${statePath}: an experiment with other settings is there (rerun with its flags, or --name <other>)`,
      );
    }
    const by = new Map(prior.phases.map((r) => [r.id, r as PhaseRecord]));
    records = records.map((r) => by.get(r.id) ?? r);
  }
  await Deno.mkdir(dir, { recursive: true });
  const save = async () => {
    const file: ExperimentFile = {
      kind: "webshop-experiment",
      command: opts.command,
      config: cfg,
      phases: records,
      agents: (records.find((r) => r.id === "greedy" && r.status === "done")?.result?.agents) ?? [],
    };
    await writeAtomically(statePath, [JSON.stringify(file, null, 2) + "\n"]);
    return file;
  };
  const interrupt = new Interrupt().listen();
  const t0 = performance.now();
  try {
    const data = await prepareData(cfg.data);
    const envs = makeEnvs(cfg.envs, {
      catalog: data.engine,
      goals: data.catalog.goals,
      rewardMode: cfg.data.rewardMode,
      goalQueryMap: data.catalog.goalQueryMap,
      stepLimit: cfg.stepLimit,
    });
    const done = new Map<string, PhaseResult>();
    const p: PhaseContext = { gpu, cfg, dir, data, envs, interrupt, done };
    // Actual over planned seconds of the phases run so far scales the rest's plan.
    let spent = 0, planned = 0;
    for (const [k, ph] of phases.entries()) {
      const rec = records[k];
      if (rec.status === "done" && !ph.always && (await outputsExist(rec.result))) {
        done.set(ph.id, rec.result ?? {});
        console.log(
          `experiment [${k + 1}/${phases.length}] ${ph.id}: done earlier (${
            duration(rec.seconds ?? 0)
          })`,
        );
        continue;
      }
      const reason = ph.skip(done);
      if (reason) {
        records[k] = { id: ph.id, status: "skipped", reason, command: ph.command };
        console.log(`experiment [${k + 1}/${phases.length}] ${ph.id}: skipped (${reason})`);
        await save();
        continue;
      }
      const left = phases.slice(k).filter((q, i) =>
        !q.skip(done) && records[k + i].status !== "done"
      )
        .reduce((a, q) => a + q.estimate, 0) * (planned > 0 ? spent / planned : 1);
      console.log(
        `experiment [${k + 1}/${phases.length}] ${ph.id}: ${ph.what} · elapsed ${
          duration((performance.now() - t0) / 1000)
        } · ETA ${duration(left)}`,
      );
      if (ph.id === "report") break; // written below, after the state file
      const tP = performance.now();
      const result = await ph.run(p);
      const seconds = (performance.now() - tP) / 1000;
      spent += seconds;
      planned += ph.estimate || seconds;
      done.set(ph.id, result);
      records[k] = {
        id: ph.id,
        status: "done",
        command: ph.command,
        seconds,
        result,
        config: phaseConfig(cfg, ph.id),
      };
      await save();
      if (interrupt.requested) {
        throw new Error(`interrupted after phase ${ph.id}; rerun to continue`);
      }
    }
    const k = records.findIndex((r) => r.id === "report");
    records[k] = { id: "report", status: "done", command: `deno task report ${dir}` };
    await save();
    const tR = performance.now();
    const inputs = await readReportInputs([dir]);
    const report = await buildReport(inputs, {
      command: `deno task report ${dir}`,
      title: "webshop-rl experiment",
    });
    const written = await writeReport(dir, report);
    records[k].seconds = (performance.now() - tR) / 1000;
    return {
      file: await save(),
      report: written.html,
      table: report.markdown.split("\n## Charts")[0].trimEnd(),
    };
  } finally {
    interrupt.close();
  }
}

/** The part of the config a phase ran with (shown in the report). */
function phaseConfig(cfg: ExperimentConfig, id: string): unknown {
  if (id === "il") return { il: cfg.il, model: cfg.model, encoder: cfg.encoder, data: cfg.data };
  if (id.startsWith("dpo")) return { dpo: { ...cfg.dpo, timeBudget: cfg.trainerMinutes } };
  if (id === "generate") return cfg.generate;
  if (id === "greedy") return { testGoals: cfg.testGoals, stepLimit: cfg.stepLimit };
  return undefined;
}

async function outputsExist(r: PhaseResult | undefined): Promise<boolean> {
  for (const f of [r?.checkpoint, r?.file]) {
    if (!f) continue;
    try {
      await Deno.stat(f);
    } catch {
      return false;
    }
  }
  return true;
}
