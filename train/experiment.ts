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
import { actionCacheFor, ModelPolicy } from "../agent/policy.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { writeDemonstrations } from "../env/demos.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import type { WebShopEnv } from "../env/webshop_env.ts";
import { resolveAgent } from "../eval/agents.ts";
import { type EvalResult, evaluate, type GreedySeedResult } from "../eval/greedy.ts";
import { meanStd } from "../eval/spread.ts";
import {
  formatThompsonTable,
  runThompson,
  saveThompson,
  type ThompsonRollout,
} from "../eval/thompson.ts";
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
import { type IlConfig, validateIlConfig } from "./il.ts";
import { isValueHead, type LoopConfig, trainLoop, validateLoopConfig } from "./loop.ts";
import { type PpoConfig, trainPpo, validatePpoConfig } from "./ppo.ts";
import type { RlTrainer } from "./rl_pipeline.ts";
import type { RlEnvSetup } from "./rl_envs.ts";
import { ModelOptimizer } from "./optimizer.ts";
import { ilReference, type ModelShape, modelShape, splitExamples } from "./pipeline.ts";
import { MAIN_DATA, MAIN_DPO, MAIN_ENCODER, MAIN_IL, MAIN_LOOP, MAIN_PPO } from "./defaults.ts";
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
  /** Every PPO and LOOP run: bounded by `trainerMinutes` and by `steps`. */
  ppo: PpoConfig;
  loop: LoopConfig;
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
  /** The env settings every episode plays with. */
  envConfig: RlEnvSetup["envConfig"];
  interrupt: Interrupt;
  /** Finished phases' results by id. */
  done: Map<string, PhaseResult>;
}

/** A trainer of the comparison: from the IL reference, for `trainerMinutes` of training. */
export interface Trainer {
  id: string;
  label: string;
  /** Why it cannot run in this tree (its module is absent), or null. */
  missing: string | null;
  /** Why what it needs besides the reference is absent (e.g. no generated trajectory), or null. */
  needs: (done: Map<string, PhaseResult>) => string | null;
  /** Planned seconds of a run's set-up, outside its budget (DPO's reference pass). */
  setup: (cfg: Omit<ExperimentConfig, "trainerMinutes">) => number;
  train?: (
    p: PhaseContext,
    seed: number,
    dir: string,
  ) => Promise<{ checkpoint: string; updates: number }>;
}

/** DPO from the reference on `data`'s demonstrations, for the seed, within the budget. */
async function dpoRun(
  p: PhaseContext,
  data: TrainData,
  seed: number,
  dir: string,
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
    // The reference pass is set-up, like the RL trainers' kernel warm-up: the budget (cfg's
    // timeBudget) starts with the first update, as PPO's and LOOP's start with their first
    // rollout.
    const refLogps = await referenceLogps(ctx, episodes, visit);
    const out = await trainDpo(ctx, cfg, episodes, refLogps, opt);
    if (out.interrupted) throw new Error(`interrupted during ${dir}; checkpoint ${out.checkpoint}`);
    return { checkpoint: out.checkpoint, updates: out.steps };
  } finally {
    log.close();
    opt.destroy();
    model.destroy();
  }
}

/**
 * An online RL trainer (PPO, LOOP) from the reference, as train/rl_pipeline.ts runs it: one
 * model from the reference, the trainer's own time budget (it starts when the trainer does).
 */
async function rlRun(
  p: PhaseContext,
  dir: string,
  trainer: Pick<RlTrainer, "name" | "config" | "frozen">,
  train: (
    ctx: TrainContext,
    setup: RlEnvSetup,
    opt: ModelOptimizer,
  ) => Promise<{ checkpoint: string; steps: number; interrupted: boolean }>,
): Promise<{ checkpoint: string; updates: number }> {
  const refPath = p.done.get("il")!.checkpoint!;
  const ref = await loadAgent(refPath, { tokenizer: p.data.tokenizer.identity });
  const model = ChoiceModel.create(p.gpu, ref.spec.model, ref.weights);
  const enc = new AgentEncoder(p.data.tokenizer, ref.spec.encoder);
  const log = await RunLog.open(dir);
  const meta: AgentMeta = {
    spec: ref.spec,
    trainer: { name: trainer.name, config: trainer.config },
  };
  await log.writeConfig({ ...meta, reference: refPath, data: p.cfg.data });
  const ctx: TrainContext = {
    model,
    encoder: enc,
    tokenizer: p.data.tokenizer.identity,
    meta,
    log,
    interrupt: p.interrupt,
  };
  const opt = new ModelOptimizer(model, trainer.config, { frozen: trainer.frozen });
  try {
    const setup: RlEnvSetup = {
      envConfig: p.envConfig,
      trainGoals: goalIndicesForSplit(p.data.catalog.goals.length, "train"),
      demos: splitExamples(p.data, p.cfg.il.searchSteps, p.cfg.il.seed).train.examples,
    };
    const out = await train(ctx, setup, opt);
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
    setup: (cfg) => RATE.referenceEpisode * cfg.data.numDemos,
    train: (p, seed, dir) => dpoRun(p, p.data, seed, dir),
  },
  {
    id: "dpo-generated",
    label: "DPO (generated)",
    missing: null,
    setup: (cfg) => RATE.referenceEpisode * cfg.generate.n,
    needs: (done) => {
      const g = done.get("generate");
      if (!g) return "needs the generate phase, which did not finish";
      return g.file ? null : `generate kept no trajectory with reward 1 (of ${g.played} episodes)`;
    },
    train: async (p, seed, dir) => {
      const file = p.done.get("generate")!.file!;
      const data = await prepareData({ ...p.cfg.data, demos: file }, () => {});
      return await dpoRun(p, data, seed, dir);
    },
  },
  {
    id: "ppo",
    label: "PPO",
    missing: null,
    needs: () => null,
    setup: () => RATE.runSetup,
    train: (p, seed, dir) => {
      const cfg: PpoConfig = { ...p.cfg.ppo, seed, timeBudget: p.cfg.trainerMinutes };
      return rlRun(
        p,
        dir,
        { name: "ppo", config: cfg },
        (ctx, setup, opt) => trainPpo(ctx, cfg, setup, opt),
      );
    },
  },
  {
    id: "loop",
    label: "LOOP",
    missing: null,
    needs: () => null,
    setup: () => RATE.runSetup,
    train: (p, seed, dir) => {
      const cfg: LoopConfig = { ...p.cfg.loop, seed, timeBudget: p.cfg.trainerMinutes };
      return rlRun(
        p,
        dir,
        { name: "loop", config: cfg, frozen: isValueHead },
        (ctx, setup, opt) => trainLoop(ctx, cfg, setup, opt),
      );
    },
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
  /** Seconds of `estimate` fixed by a time budget (a trainer's), which no pace scales. */
  budget?: number;
  /** Why it is skipped, or null. */
  skip: (done: Map<string, PhaseResult>) => string | null;
  run: (p: PhaseContext) => Promise<PhaseResult>;
  /** Run every time (cheap, and it reflects the other phases). */
  always?: boolean;
}

/**
 * Seconds per IL update, generated episode, evaluated goal, Thompson rollout, episode of DPO's
 * reference pass and PPO or LOOP run set-up, for the plan and the first ETA: 1.5 times what one
 * run of the defaults measured on the 2-core CI machine (lavapipe, nano model: 0.78, 0.067, 0.12,
 * 0.10, 0.105 and under 5 s), as machines of that kind run up to 2x slower on some days.
 */
const RATE = {
  ilUpdate: 1.2,
  episode: 0.1,
  goal: 0.18,
  rollout: 0.17,
  referenceEpisode: 0.16,
  runSetup: 10,
};

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
    command: `${command} (phase il: the main job's IL reference, train/pipeline.ts ilReference)`,
    estimate: RATE.ilUpdate * (cfg.il.maxSteps || 1000),
    skip: () => null,
    run: async (p) => {
      const t0 = performance.now();
      // The main job's reference: cached under runs/cache by its settings, trained when absent.
      const ex = splitExamples(p.data, cfg.il.searchSteps, cfg.il.seed);
      const ref = await ilReference(
        p.gpu,
        {
          data: cfg.data,
          model: cfg.model,
          encoder: cfg.encoder,
          init: "random",
          il: cfg.il,
          seed: cfg.il.seed,
          reference: "",
        },
        p.data,
        ex,
        { envs: p.envs, goals: [] },
        p.interrupt,
      );
      const ck = await loadAgent(ref.path, { tokenizer: p.data.tokenizer.identity });
      return { checkpoint: ref.path, updates: ck.step, seconds: (performance.now() - t0) / 1000 };
    },
  });
  const trainerPhase = (t: Trainer, seed: number): Phase => {
    const budget = t.missing ? 0 : 60 * cfg.trainerMinutes;
    return {
      id: `${t.id}-s${seed}`,
      what: `${t.label}, seed ${seed}, ${cfg.trainerMinutes} min`,
      command: `${command} (phase ${t.id}-s${seed})`,
      // Set-up (model, warm-up, DPO's reference pass) comes on top of the training budget.
      estimate: t.missing ? 0 : budget + t.setup(cfg),
      budget,
      skip: (done) => t.missing ?? t.needs(done),
      run: async (p) => {
        const t0 = performance.now();
        const r = await t.train!(p, seed, `${p.dir}/${t.id}-s${seed}`);
        return { ...r, seconds: (performance.now() - t0) / 1000 };
      },
    };
  };
  for (const s of seeds) phases.push(trainerPhase(TRAINERS[0], s));
  phases.push({
    id: "generate",
    what: `${cfg.generate.n} self-generated trajectories with reward 1`,
    command:
      `deno task generate --ref <il checkpoint> --n ${cfg.generate.n} --max-episodes ${cfg.generate.maxEpisodes}`,
    // At the reference's ~3% acceptance it plays every episode it may.
    estimate: RATE.episode * cfg.generate.maxEpisodes,
    skip: () => null,
    run: async (p) => {
      const refPath = p.done.get("il")!.checkpoint!;
      const ck = await loadAgent(refPath, { tokenizer: p.data.tokenizer.identity });
      const model = ChoiceModel.create(p.gpu, ck.spec.model, ck.weights);
      const encoder = new AgentEncoder(p.data.tokenizer, ck.spec.encoder);
      const actionCache = actionCacheFor(model, encoder);
      try {
        const policy = new ModelPolicy(model, encoder, {
          mode: "sample",
          temperature: cfg.generate.temperature,
          seed: 0,
          name: "reference",
          actionCache,
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
        actionCache.destroy();
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
      const results: EvalResult[] = [];
      for (const a of list) {
        const ck = await loadAgent(a.checkpoint, { tokenizer: p.data.tokenizer.identity });
        const model = ChoiceModel.create(p.gpu, ck.spec.model, ck.weights);
        try {
          const enc = new AgentEncoder(p.data.tokenizer, ck.spec.encoder);
          const actionCache = actionCacheFor(model, enc);
          const r = await evaluate(
            p.envs,
            new ModelPolicy(model, enc, { mode: "greedy", name: a.label, actionCache }),
            goals,
          ).finally(() => actionCache.destroy());
          results.push(r);
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
      await writeGreedyFiles(`${p.dir}/greedy`, agents, results, goals.length, cfg.testGoals);
      return { agents };
    },
  });
  phases.push({
    id: "thompson",
    what: `Thompson sampling, ${cfg.thompson.runs} runs × ${cfg.thompson.rollouts} rollouts`,
    command: `deno task eval:thompson --agents <the seed-0 agents> --runs ${cfg.thompson.runs} ` +
      `--rollouts ${cfg.thompson.rollouts} --batch ${cfg.thompson.batch} --step-limit ${cfg.stepLimit}`,
    estimate: RATE.rollout * cfg.thompson.runs * cfg.thompson.rollouts,
    skip: (done) => (done.get("greedy")?.agents?.length ?? 0) < 2 ? "fewer than two agents" : null,
    run: async (p) => {
      // One arm per trainer: its first seed's agent (the comparison the paper draws).
      const arms = [];
      const seen = new Set<string>();
      for (const a of p.done.get("greedy")!.agents!) {
        if (seen.has(a.label)) continue;
        seen.add(a.label);
        arms.push(
          await resolveAgent({ label: a.label, source: a.checkpoint }, {
            tokenizer: p.data.tokenizer,
            gpu: () => Promise.resolve(p.gpu),
          }),
        );
      }
      try {
        const lines: ThompsonRollout[] = [];
        const t0 = performance.now();
        let shown = 0;
        const result = await runThompson(
          arms.map((a) => ({ label: a.label, source: a.source, policy: a.policy })),
          {
            env: p.envConfig,
            split: "test",
            runs: cfg.thompson.runs,
            rollouts: cfg.thompson.rollouts,
            batch: cfg.thompson.batch,
            seed: 0,
            onRollout: (r) => lines.push(r),
            onProgress: (n, total) => {
              if (n === total || n - shown >= total / 10) {
                shown = n;
                const sec = (performance.now() - t0) / 1000;
                console.log(
                  `thompson: ${n}/${total} rollouts · ${(n / sec).toFixed(1)}/s · ETA ${
                    duration((sec / n) * (total - n))
                  }`,
                );
              }
            },
          },
        );
        const files = await saveThompson(`${p.dir}/thompson`, result, lines);
        console.log(formatThompsonTable(result));
        return { file: files.json };
      } finally {
        for (const a of arms) a.destroy();
      }
    },
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

/**
 * Seconds the phases `left` should take: their time budgets as planned, the rest of each
 * estimate times `pace` (actual over planned seconds so far). A phase that may yet be skipped
 * counts: whether it is depends on phases not yet run.
 */
export function secondsLeft(left: Pick<Phase, "estimate" | "budget">[], pace: number): number {
  return left.reduce((a, q) => a + (q.budget ?? 0) + (q.estimate - (q.budget ?? 0)) * pace, 0);
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
  validatePpoConfig(cfg.ppo);
  validateLoopConfig(cfg.loop);
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
    const envConfig = {
      catalog: data.engine,
      goals: data.catalog.goals,
      rewardMode: cfg.data.rewardMode,
      goalQueryMap: data.catalog.goalQueryMap,
      stepLimit: cfg.stepLimit,
    };
    const envs = makeEnvs(cfg.envs, envConfig);
    const done = new Map<string, PhaseResult>();
    const p: PhaseContext = { gpu, cfg, dir, data, envs, envConfig, interrupt, done };
    // Actual over planned seconds of the phases run so far (budgets aside) is the pace.
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
      const left = secondsLeft(
        phases.filter((_, i) => i >= k && records[i].status !== "done"),
        planned > 0 ? spent / planned : 1,
      );
      console.log(
        `experiment [${k + 1}/${phases.length}] ${ph.id}: ${ph.what} · elapsed ${
          duration((performance.now() - t0) / 1000)
        } · ETA ${duration(left)}`,
      );
      if (ph.id === "report") break; // written below, after the state file
      const tP = performance.now();
      const result = await ph.run(p);
      const seconds = (performance.now() - tP) / 1000;
      const budget = ph.budget ?? 0;
      spent += Math.max(0, seconds - budget);
      planned += ph.estimate - budget || Math.max(0, seconds - budget);
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
    // The reference's own folder (under runs/cache) holds its training curves.
    const refDir = done.get("il")!.checkpoint!.replace(/\/[^/]+$/, "");
    const inputs = await readReportInputs([dir, refDir]);
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

/**
 * One `greedy.json` per trainer (eval:greedy's form, read by the report), its per-seed entries
 * being the trainer's training seeds: the spread is over training runs, not evaluation seeds.
 */
async function writeGreedyFiles(
  dir: string,
  agents: readonly ExperimentAgent[],
  results: readonly EvalResult[],
  goals: number,
  testGoals: number,
): Promise<void> {
  for (const trainer of new Set(agents.map((a) => a.trainer))) {
    const idx = agents.flatMap((a, i) => (a.trainer === trainer ? [i] : []));
    const perSeed: GreedySeedResult[] = idx.map((i) => ({
      seed: agents[i].seed,
      score: results[i].score,
      successRate: results[i].successRate,
      components: results[i].components,
      meanSteps: results[i].meanSteps,
      categories: results[i].categories,
    }));
    const stat = (f: (s: GreedySeedResult) => number) => meanStd(perSeed.map(f));
    const score = stat((s) => s.score), succ = stat((s) => s.successRate);
    const steps = stat((s) => s.meanSteps);
    const seconds = idx.reduce((a, i) => a + results[i].seconds, 0);
    const file = {
      kind: "webshop-greedy",
      agent: {
        label: agents[idx[0]].label,
        source: idx.map((i) => agents[i].checkpoint).join(", "),
      },
      split: testGoals > 0 ? `test (first ${goals})` : "test",
      seeds: perSeed.map((s) => s.seed),
      perSeed,
      mean: { score: score.mean!, successRate: succ.mean!, meanSteps: steps.mean! },
      std: { score: score.std!, successRate: succ.std!, meanSteps: steps.std! },
      rolloutsPerSecond: (goals * idx.length) / seconds,
    };
    await Deno.mkdir(`${dir}/${trainer}`, { recursive: true });
    await writeAtomically(`${dir}/${trainer}/greedy.json`, [JSON.stringify(file, null, 2) + "\n"]);
  }
}

/** The part of the config a phase ran with (shown in the report). */
function phaseConfig(cfg: ExperimentConfig, id: string): unknown {
  if (id === "il") return { il: cfg.il, model: cfg.model, encoder: cfg.encoder, data: cfg.data };
  if (id.startsWith("dpo")) return { dpo: { ...cfg.dpo, timeBudget: cfg.trainerMinutes } };
  if (id.startsWith("ppo")) return { ppo: { ...cfg.ppo, timeBudget: cfg.trainerMinutes } };
  if (id.startsWith("loop")) return { loop: { ...cfg.loop, timeBudget: cfg.trainerMinutes } };
  if (id === "thompson") return { thompson: cfg.thompson, stepLimit: cfg.stepLimit };
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
      // The budget bounds each run; 1,000 updates is only a ceiling, above what it allows here.
      dpo: { ...MAIN_DPO, steps: 1000, checkpointEvery: 100 },
      ppo: { ...MAIN_PPO, steps: 100_000 },
      loop: { ...MAIN_LOOP, steps: 10_000 },
      generate: { n: 100, maxEpisodes: 3200, temperature: 1 },
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
