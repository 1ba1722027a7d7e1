/**
 * What `deno task report` reads: the files that evaluations and trainers leave in their run
 * folders, found in each given folder and the folders below it, each checked against the
 * fields the report uses. A file that cannot be read, is not JSON or lacks a field is an
 * {@linkcode ReportInputError} naming the file (and line) and the problem.
 *
 * - `thompson.json` (eval:thompson) and its `thompson_rollouts.jsonl`, one line per rollout;
 * - `greedy.json` (eval:greedy);
 * - `metrics.jsonl` with its `config.json` (train:il, train:dpo and the other trainers);
 * - `experiment.json` (deno task experiment: its phases, their commands and configs).
 *
 * @module
 */

/** A file the report cannot use: `<file>: <problem>`. */
export class ReportInputError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ReportInputError";
  }
}

/** Mean and spread of one agent's statistics in a Thompson comparison. */
export interface ThompsonSummary {
  pulls: number;
  meanScore: number | null;
  successRate: number | null;
  posteriorMean: number;
}

/** `thompson.json` as eval:thompson writes it. */
export interface ThompsonFile {
  kind: "webshop-thompson";
  config: {
    agents: { label: string; source: string }[];
    runs: number;
    rollouts: number;
    split: string;
    arm: "success" | "score";
    batch: number;
    seed: number;
  };
  agents: {
    label: string;
    source: string;
    perRun: {
      pulls: number;
      meanScore: number | null;
      successRate: number | null;
      posteriorMean: number;
      credible: [number, number];
    }[];
    mean: ThompsonSummary;
    std: ThompsonSummary;
  }[];
  runs: {
    run: number;
    seed: number;
    pulls: Record<string, number>;
    regret: number[];
    bestArm: string;
  }[];
  rollouts: number;
  seconds: number;
  rolloutsPerSecond: number;
}

/** One line of `thompson_rollouts.jsonl`. */
export interface ThompsonRolloutRow {
  run: number;
  t: number;
  agent: string;
  goal: number;
  score: number;
  success: boolean;
  posteriorMeans: Record<string, number>;
}

/** One seed of a greedy evaluation. */
export interface GreedySeed {
  seed: number;
  score: number;
  successRate: number;
  components: { r_att: number; r_option: number; r_price: number; r_type: number };
  meanSteps: number;
  categories: Record<string, { episodes: number; score: number; successRate: number }>;
}

/** `greedy.json` as eval:greedy writes it. */
export interface GreedyFile {
  kind: "webshop-greedy";
  agent: { label: string; source: string };
  split: string;
  seeds: number[];
  perSeed: GreedySeed[];
  mean: { score: number; successRate: number; meanSteps: number };
  std: { score: number; successRate: number; meanSteps: number };
  rolloutsPerSecond: number;
}

/** One phase of an experiment, as `experiment.json` records it. */
export interface ExperimentPhase {
  id: string;
  /** done, skipped (with the reason) or pending. */
  status: "done" | "skipped" | "pending";
  reason?: string;
  /** What reproduces it. */
  command: string;
  seconds?: number;
  config?: unknown;
}

/** One trained agent of an experiment and its greedy test evaluation. */
export interface ExperimentAgent {
  /** Trainer id (il, dpo-demos, ...) and its name in tables. */
  trainer: string;
  label: string;
  /** Training seed. */
  seed: number;
  checkpoint: string;
  updates: number;
  trainSeconds: number;
  greedy: {
    episodes: number;
    score: number;
    successRate: number;
    meanSteps: number;
    seconds: number;
  } | null;
}

/** `experiment.json` as deno task experiment writes it. */
export interface ExperimentFile {
  kind: "webshop-experiment";
  command: string;
  config: unknown;
  phases: ExperimentPhase[];
  /** Every trained agent (empty until the greedy phase is done). */
  agents: ExperimentAgent[];
}

/** A trainer's run folder: its config and its metrics rows, in file order. */
export interface TrainingRun {
  /** The folder, as given or found. */
  dir: string;
  config: unknown;
  rows: Record<string, unknown>[];
}

/** Everything found under the given folders. */
export interface ReportInputs {
  thompson: { path: string; data: ThompsonFile; rollouts: ThompsonRolloutRow[] | null }[];
  greedy: { path: string; data: GreedyFile }[];
  training: TrainingRun[];
  experiments: { path: string; data: ExperimentFile }[];
}

/** Folders below a run folder that never hold inputs (caches, earlier reports). */
const SKIP_DIRS = new Set(["cache", "report_charts"]);
/** How deep below a given folder inputs are looked for (an experiment nests two levels). */
const MAX_DEPTH = 3;

/**
 * Reads every input in `dirs` and below. A folder that cannot be read, or one that holds no
 * input at all, is an error naming it.
 */
export async function readReportInputs(dirs: readonly string[]): Promise<ReportInputs> {
  const out: ReportInputs = { thompson: [], greedy: [], training: [], experiments: [] };
  for (const dir of dirs) {
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(dir);
    } catch (e) {
      throw new ReportInputError(dir, `cannot read (${(e as Error).message})`);
    }
    if (!stat.isDirectory) throw new ReportInputError(dir, "not a folder (give a run folder)");
    const before = count(out);
    await scan(dir.replace(/\/+$/, ""), 0, out);
    if (count(out) === before) {
      throw new ReportInputError(
        dir,
        "no thompson.json, greedy.json, metrics.jsonl or experiment.json here or below",
      );
    }
  }
  return out;
}

function count(r: ReportInputs): number {
  return r.thompson.length + r.greedy.length + r.training.length + r.experiments.length;
}

async function scan(dir: string, depth: number, out: ReportInputs): Promise<void> {
  const names: string[] = [], subdirs: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) subdirs.push(e.name);
      else names.push(e.name);
    }
  } catch (e) {
    throw new ReportInputError(dir, `cannot read (${(e as Error).message})`);
  }
  const has = new Set(names);
  if (has.has("experiment.json")) {
    const path = `${dir}/experiment.json`;
    out.experiments.push({ path, data: checkExperiment(await readJson(path), path) });
  }
  if (has.has("thompson.json")) {
    const path = `${dir}/thompson.json`;
    const data = checkThompson(await readJson(path), path);
    const rpath = `${dir}/thompson_rollouts.jsonl`;
    const rollouts = has.has("thompson_rollouts.jsonl")
      ? (await readJsonLines(rpath)).map((r, i) => checkRollout(r, `${rpath}: line ${i + 1}`, data))
      : null;
    out.thompson.push({ path, data, rollouts });
  }
  if (has.has("greedy.json")) {
    const path = `${dir}/greedy.json`;
    out.greedy.push({ path, data: checkGreedy(await readJson(path), path) });
  }
  if (has.has("metrics.jsonl")) {
    const mpath = `${dir}/metrics.jsonl`;
    const rows = (await readJsonLines(mpath)).map((r, i) => {
      const where = `${mpath}: line ${i + 1}`;
      const row = obj(r, where);
      num(row, "step", where);
      return row;
    });
    const config = has.has("config.json") ? await readJson(`${dir}/config.json`) : null;
    out.training.push({ dir, config, rows });
  }
  if (depth >= MAX_DEPTH) return;
  for (const s of subdirs.sort()) {
    if (!SKIP_DIRS.has(s) && !s.startsWith(".")) await scan(`${dir}/${s}`, depth + 1, out);
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new ReportInputError(path, `cannot read (${(e as Error).message})`);
  }
}

async function readJson(path: string): Promise<unknown> {
  const text = await readText(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ReportInputError(path, `not JSON (${(e as Error).message})`);
  }
}

async function readJsonLines(path: string): Promise<unknown[]> {
  const text = await readText(path);
  const out: unknown[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((line, i) => {
    if (line.trim() === "") throw new ReportInputError(path, `line ${i + 1}: empty`);
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw new ReportInputError(path, `line ${i + 1}: not JSON (${(e as Error).message})`);
    }
  });
  if (text.length > 0 && !text.endsWith("\n")) {
    // A writer appends whole lines; one without its newline was cut off mid-write.
    throw new ReportInputError(path, `line ${lines.length}: truncated (no newline at the end)`);
  }
  return out;
}

// Field checks: each throws `<where>: <field> ...` naming the path of the field.

type Obj = Record<string, unknown>;

function fail(where: string, problem: string): never {
  const i = where.indexOf(": ");
  if (i < 0) throw new ReportInputError(where, problem);
  throw new ReportInputError(where.slice(0, i), `${where.slice(i + 2)}: ${problem}`);
}

function obj(v: unknown, where: string, field = ""): Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    fail(where, `${field || "the record"} is not an object`);
  }
  return v as Obj;
}

function num(o: Obj, k: string, where: string, nullable = false): number | null {
  const v = o[k];
  if (nullable && v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    fail(where, `${k} is ${v === undefined ? "missing" : JSON.stringify(v)}, not a finite number`);
  }
  return v;
}

function str(o: Obj, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== "string") fail(where, `${k} is ${v === undefined ? "missing" : "not a string"}`);
  return v;
}

function arr(o: Obj, k: string, where: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) fail(where, `${k} is ${v === undefined ? "missing" : "not an array"}`);
  return v;
}

function kind(o: Obj, want: string, where: string): void {
  if (o.kind !== want) {
    fail(where, `kind is ${JSON.stringify(o.kind)}, expected "${want}"`);
  }
}

/** Checks a parsed `thompson.json`. */
export function checkThompson(v: unknown, path: string): ThompsonFile {
  const o = obj(v, path);
  kind(o, "webshop-thompson", path);
  const c = obj(o.config, path, "config");
  for (const k of ["runs", "rollouts", "batch", "seed"]) num(c, k, `${path}: config`);
  str(c, "split", `${path}: config`);
  if (c.arm !== "success" && c.arm !== "score") fail(path, `config.arm is not success or score`);
  const labels = new Set<string>();
  arr(o, "agents", path).forEach((a, i) => {
    const w = `${path}: agents[${i}]`;
    const ao = obj(a, w);
    labels.add(str(ao, "label", w));
    str(ao, "source", w);
    arr(ao, "perRun", w).forEach((r, j) => {
      const rw = `${w}.perRun[${j}]`, ro = obj(r, rw);
      num(ro, "pulls", rw);
      num(ro, "meanScore", rw, true);
      num(ro, "successRate", rw, true);
      num(ro, "posteriorMean", rw);
      const cr = arr(ro, "credible", rw);
      if (cr.length !== 2 || !cr.every((x) => typeof x === "number" && Number.isFinite(x))) {
        fail(rw, "credible is not [lo, hi]");
      }
    });
    for (const s of ["mean", "std"]) {
      const so = obj(ao[s], w, s), sw = `${w}.${s}`;
      num(so, "pulls", sw);
      num(so, "meanScore", sw, true);
      num(so, "successRate", sw, true);
      num(so, "posteriorMean", sw);
    }
  });
  if (labels.size === 0) fail(path, "agents is empty");
  arr(o, "runs", path).forEach((r, i) => {
    const w = `${path}: runs[${i}]`, ro = obj(r, w);
    num(ro, "run", w);
    num(ro, "seed", w);
    const p = obj(ro.pulls, w, "pulls");
    for (const l of labels) num(p, l, `${w}.pulls`);
    arr(ro, "regret", w).forEach((x, t) => {
      if (typeof x !== "number" || !Number.isFinite(x)) fail(w, `regret[${t}] is not a number`);
    });
    str(ro, "bestArm", w);
  });
  for (const k of ["rollouts", "seconds", "rolloutsPerSecond"]) num(o, k, path);
  return o as unknown as ThompsonFile;
}

function checkRollout(v: unknown, where: string, th: ThompsonFile): ThompsonRolloutRow {
  const o = obj(v, where);
  num(o, "run", where);
  num(o, "t", where);
  const agent = str(o, "agent", where);
  if (!th.agents.some((a) => a.label === agent)) {
    fail(where, `agent "${agent}" is not one of thompson.json's agents`);
  }
  num(o, "score", where);
  if (typeof o.success !== "boolean") fail(where, "success is not true or false");
  const pm = obj(o.posteriorMeans, where, "posteriorMeans");
  for (const a of th.agents) num(pm, a.label, `${where}: posteriorMeans`);
  return o as unknown as ThompsonRolloutRow;
}

/** Checks a parsed `greedy.json`. */
export function checkGreedy(v: unknown, path: string): GreedyFile {
  const o = obj(v, path);
  kind(o, "webshop-greedy", path);
  const a = obj(o.agent, path, "agent");
  str(a, "label", `${path}: agent`);
  str(a, "source", `${path}: agent`);
  str(o, "split", path);
  arr(o, "seeds", path);
  const per = arr(o, "perSeed", path);
  if (per.length === 0) fail(path, "perSeed is empty");
  per.forEach((s, i) => {
    const w = `${path}: perSeed[${i}]`, so = obj(s, w);
    for (const k of ["seed", "score", "successRate", "meanSteps"]) num(so, k, w);
    const c = obj(so.components, w, "components");
    for (const k of ["r_att", "r_option", "r_price", "r_type"]) num(c, k, `${w}.components`);
    const cats = obj(so.categories, w, "categories");
    for (const [name, cv] of Object.entries(cats)) {
      const cw = `${w}.categories.${name}`, co = obj(cv, cw);
      for (const k of ["episodes", "score", "successRate"]) num(co, k, cw);
    }
  });
  for (const s of ["mean", "std"]) {
    const so = obj(o[s], path, s);
    for (const k of ["score", "successRate", "meanSteps"]) num(so, k, `${path}: ${s}`);
  }
  num(o, "rolloutsPerSecond", path);
  return o as unknown as GreedyFile;
}

/** Checks a parsed `experiment.json`. */
export function checkExperiment(v: unknown, path: string): ExperimentFile {
  const o = obj(v, path);
  kind(o, "webshop-experiment", path);
  str(o, "command", path);
  arr(o, "phases", path).forEach((p, i) => {
    const w = `${path}: phases[${i}]`, po = obj(p, w);
    str(po, "id", w);
    str(po, "command", w);
    if (!["done", "skipped", "pending"].includes(po.status as string)) {
      fail(w, `status is ${JSON.stringify(po.status)}, not done, skipped or pending`);
    }
    if (po.seconds !== undefined) num(po, "seconds", w);
  });
  arr(o, "agents", path).forEach((a, i) => {
    const w = `${path}: agents[${i}]`, ao = obj(a, w);
    for (const k of ["trainer", "label", "checkpoint"]) str(ao, k, w);
    for (const k of ["seed", "updates", "trainSeconds"]) num(ao, k, w);
    if (ao.greedy !== null) {
      const g = obj(ao.greedy, w, "greedy");
      for (const k of ["episodes", "score", "successRate", "meanSteps", "seconds"]) {
        num(g, k, `${w}.greedy`);
      }
    }
  });
  return o as unknown as ExperimentFile;
}
