/**
 * Demonstrations in WebShop's il_trajs format (`il_trajs_finalized_images.jsonl`, read by
 * baseline_models/train_choice_il.py `get_data`): one JSON object per line with parallel lists
 * over the steps of an episode.
 *
 * - `states[t]`: the observation before action t (the first is the search page, whose
 *   instruction `process_goal` matches against `human_goals.json`).
 * - `available_actions[t]`: the choices at step t as the choice model sees them, `click[...]`
 *   with products named `item - <title>`; `[]` at a search step.
 * - `action_idxs[t]`: index of the taken action in `available_actions[t]`, -1 for a search.
 * - `actions[t]`: the action as the env takes it (`search[...]`, `click[<asin>]`, ...).
 * - `actions_translate[t]`: the same with products named `item - <title>`.
 * - `images[t]`: image features or 0 (train_choice_il.py turns 0 into 512 zeros).
 * - `rewards[t]`: reward of action t (the last is the episode's outcome). Not in the released
 *   file; written here so a replay can check that a demonstration still reaches its outcome.
 *
 * Readers stream the file and name bad lines by number; the writer writes a temporary file and
 * renames it, so a crash never leaves a half-written demonstration file behind.
 *
 * @module
 */

import { writeAtomically } from "../base/atomic.ts";
import { goalKey, processGoal } from "./goals.ts";
import { checkIlTrajectory } from "./loaders.ts";
import type { Policy } from "./policies.ts";
import type { RawIlTrajectory } from "./types.ts";
import type { WebShopEnv } from "./webshop_env.ts";

/** One demonstration as this module writes it: the il_trajs fields plus per-step rewards. */
export interface Demonstration extends RawIlTrajectory {
  states: string[];
  available_actions: string[][];
  action_idxs: number[];
  actions: string[];
  actions_translate: string[];
  images: number[];
  rewards: number[];
}

/** A demonstration with no steps yet. */
export function emptyDemonstration(): Demonstration {
  return {
    states: [],
    available_actions: [],
    action_idxs: [],
    actions: [],
    actions_translate: [],
    images: [],
    rewards: [],
  };
}

/**
 * The choice model's action list for the env's current page, without WebEnv's random cut to 16
 * (train_choice_il.py makes its own cut when it reads the file): `click[...]` for each clickable
 * but the search button, products as `click[item - <title>]`; `[]` on the search page.
 */
export function demoAvailableActions(env: WebShopEnv): string[] {
  const avail = env.availableActions();
  if (avail.has_search_bar) return [];
  return avail.clickables.filter((c) => c !== "search").map((c) => `click[${translate(env, c)}]`);
}

/** A clickable as the choice model names it: products become `item - <title>`. */
function translate(env: WebShopEnv, clickable: string): string {
  const p = env.page;
  if (p.kind === "results") {
    const product = p.results.find((r) => r.asin.toLowerCase() === clickable);
    if (product) return `item - ${product.Title.toLowerCase()}`;
  }
  return clickable;
}

/**
 * Plays one episode of `policy` on goal `goalIndex` and records it as a demonstration.
 * Throws when the policy takes an action that is not available on the page (a demonstration
 * must be replayable).
 *
 * @example
 * ```ts
 * const demo = recordDemonstration(env, new ExpertPolicy(), 3);
 * demo.rewards.at(-1); // 1 when the purchase matched the goal
 * ```
 */
export function recordDemonstration(
  env: WebShopEnv,
  policy: Policy,
  goalIndex: number,
): Demonstration {
  const first = env.reset(goalIndex);
  policy.reset(env);
  const demo = emptyDemonstration();
  let state = first.observation;
  for (;;) {
    const action = policy.act(env);
    const m = /^(search|click)\[(.*)\]$/s.exec(action);
    let available: string[] = [];
    let idx = -1;
    let translated = action;
    if (m && m[1] === "click") {
      const clickables = env.availableActions().clickables.filter((c) => c !== "search");
      const arg = m[2].toLowerCase();
      idx = clickables.indexOf(arg);
      if (idx < 0) {
        throw new Error(
          `recordDemonstration: goal ${goalIndex} step ${demo.actions.length}: ` +
            `${policy.name} chose "${action}", not clickable on this ${env.page.kind} page`,
        );
      }
      available = demoAvailableActions(env);
      translated = available[idx];
    } else if (!m) {
      throw new Error(
        `recordDemonstration: goal ${goalIndex} step ${demo.actions.length}: ` +
          `${policy.name} chose "${action}", which is neither search[...] nor click[...]`,
      );
    }
    demo.states.push(state);
    demo.available_actions.push(available);
    demo.action_idxs.push(idx);
    demo.actions.push(action);
    demo.actions_translate.push(translated);
    demo.images.push(0);
    const r = env.step(action);
    demo.rewards.push(r.reward);
    state = r.observation;
    if (r.done) break;
  }
  return demo;
}

/** Progress of {@linkcode generateDemonstrations}. */
export type DemoProgress = (done: number, total: number) => void;

/** Records one demonstration per goal index, in order. */
export function generateDemonstrations(
  env: WebShopEnv,
  policy: Policy,
  goalIndices: readonly number[],
  onProgress?: DemoProgress,
): Demonstration[] {
  const out: Demonstration[] = [];
  for (const g of goalIndices) {
    out.push(recordDemonstration(env, policy, g));
    if (onProgress && (out.length % 100 === 0 || out.length === goalIndices.length)) {
      onProgress(out.length, goalIndices.length);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading and writing
// ---------------------------------------------------------------------------------------------

/** One line of an il_trajs file that could not be used. */
export interface DemoLineIssue {
  file: string;
  /** 1-based line number. */
  line: number;
  reason: string;
}

/** A bad line met in strict reading. */
export class DemoLineError extends Error {
  constructor(readonly issue: DemoLineIssue) {
    super(`${issue.file}:${issue.line}: ${issue.reason}`);
    this.name = "DemoLineError";
  }
}

/**
 * Parses one il_trajs line; returns the trajectory or the reason it is unusable (malformed
 * JSON, missing or mistyped lists, an action index outside its action list).
 */
export function parseDemoLine(text: string): RawIlTrajectory | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `malformed JSON (${(e as Error).message})`;
  }
  const reason = checkIlTrajectory(value);
  if (reason) return reason;
  const t = value as RawIlTrajectory;
  if (t.actions !== undefined) {
    if (!Array.isArray(t.actions) || !t.actions.every((a) => typeof a === "string")) {
      return "'actions' not strings";
    }
  }
  if (t.rewards !== undefined) {
    const r = t.rewards;
    if (!Array.isArray(r) || !r.every((x) => typeof x === "number" && Number.isFinite(x))) {
      return "'rewards' not finite numbers";
    }
  }
  return t;
}

/** Options of {@linkcode readDemonstrations}. */
export interface ReadDemoOptions {
  /** Throw `DemoLineError` on the first bad line (default false: report it and go on). */
  strict?: boolean;
  /** Called with each bad line when not strict. */
  onIssue?: (issue: DemoLineIssue) => void;
}

/**
 * Streams an il_trajs jsonl file: yields `{line, trajectory}` for each usable line (blank lines
 * are skipped); bad lines go to `onIssue` with their number, or throw under `strict`.
 *
 * @example
 * ```ts
 * for await (const { line, trajectory } of readDemonstrations("il_trajs.jsonl")) { ... }
 * ```
 */
export async function* readDemonstrations(
  path: string,
  opts: ReadDemoOptions = {},
): AsyncGenerator<{ line: number; trajectory: RawIlTrajectory }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new Error(`readDemonstrations: cannot open ${path}: ${(e as Error).message}`);
  }
  const reader = file.readable.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let line = 0;
  const handle = (text: string) => {
    line++;
    if (text.trim() === "") return null;
    const r = parseDemoLine(text);
    if (typeof r !== "string") return { line, trajectory: r };
    const issue = { file: path, line, reason: r };
    if (opts.strict) throw new DemoLineError(issue);
    opts.onIssue?.(issue);
    return null;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const rec = handle(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (rec) yield rec;
      }
    }
    if (buf.length > 0) {
      const rec = handle(buf);
      if (rec) yield rec;
    }
  } finally {
    // Stops the stream (and closes the file) when the consumer leaves early or a line throws.
    await reader.cancel().catch(() => {});
  }
}

/** Reads a whole il_trajs file, collecting the bad lines. */
export async function loadDemonstrations(
  path: string,
  opts: { strict?: boolean } = {},
): Promise<{ trajectories: RawIlTrajectory[]; issues: DemoLineIssue[] }> {
  const trajectories: RawIlTrajectory[] = [];
  const issues: DemoLineIssue[] = [];
  for await (
    const { trajectory } of readDemonstrations(path, {
      strict: opts.strict,
      onIssue: (i) => issues.push(i),
    })
  ) {
    trajectories.push(trajectory);
  }
  return { trajectories, issues };
}

/**
 * Writes demonstrations as jsonl to `path` through a temporary file in the same folder, renamed
 * into place at the end. Returns the number of lines written.
 */
export async function writeDemonstrations(
  path: string,
  demos: Iterable<RawIlTrajectory> | AsyncIterable<RawIlTrajectory>,
): Promise<number> {
  let n = 0;
  async function* lines(): AsyncGenerator<string> {
    for await (const d of demos) {
      n++;
      yield JSON.stringify(d) + "\n";
    }
  }
  await writeAtomically(path, lines());
  return n;
}

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

/**
 * The instruction of a demonstration's first state in `human_goals.json` form: text_rich states
 * as train_choice_il.py `process_goal` reads them, and `text` states (" [SEP] "-joined) by the
 * segment after "Instruction:".
 */
export function demoGoalText(firstState: string): string {
  let s = firstState;
  if (s.includes(" [SEP] ")) {
    const parts = s.split(" [SEP] ");
    const i = parts.findIndex((p) => p.trim().toLowerCase() === "instruction:");
    if (i >= 0 && i + 1 < parts.length) s = parts[i + 1];
  }
  // Trimmed after the price cut too, so that it equals goalKey() of the goal's instruction.
  return processGoal(s).trim();
}

/** What replaying one demonstration gave. */
export interface ReplayOutcome {
  /** Env goal index used (-1 when the instruction matched no goal). */
  goalIndex: number;
  /** The demonstration's recorded final reward (null when it records none). */
  recorded: number | null;
  /** The final reward of the replay (0 when it did not end). */
  reward: number;
  /** Whether the replayed actions ended the episode. */
  done: boolean;
  /** Whether the replay reached the recorded outcome (same final reward, episode ended). */
  reached: boolean;
  /** Steps whose observation differed from the recorded state. */
  stateMismatches: number;
  /** Actions the env rejected as invalid. */
  invalidActions: number;
}

/** Summary of a replay run. */
export interface ReplayReport {
  demos: number;
  /** Demonstrations whose instruction matched no goal of the env. */
  goalNotFound: number;
  /** Demonstrations with a recorded outcome. */
  withOutcome: number;
  /** Of those, how many reached it. */
  reached: number;
  /** Demonstrations with at least one state that differed from the replay. */
  stateMismatch: number;
  meanReward: number;
  meanRecorded: number;
  /** The first few that did not reach their outcome: line/index, goal, recorded, reward. */
  failures: { index: number; goalIndex: number; recorded: number | null; reward: number }[];
}

/** Instruction key -> goal indices of `env`, for finding a demonstration's goal. */
export function goalIndexByKey(env: WebShopEnv): Map<string, number[]> {
  const m = new Map<string, number[]>();
  env.goals.forEach((g, i) => {
    const k = goalKey(g.instruction_text);
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  });
  return m;
}

/**
 * Re-plays one demonstration's `actions` in `env` from its goal (found by its first state's
 * instruction; among goals with the same instruction, the one whose start page equals the first
 * state) and compares the outcome with the recorded one.
 */
export function replayDemonstration(
  env: WebShopEnv,
  demo: RawIlTrajectory,
  index?: Map<string, number[]>,
): ReplayOutcome {
  const idx = index ?? goalIndexByKey(env);
  const rewards = Array.isArray(demo.rewards) ? demo.rewards as number[] : null;
  const recorded = rewards && rewards.length > 0 ? rewards[rewards.length - 1] : null;
  const candidates = idx.get(demoGoalText(demo.states[0])) ?? [];
  const none: ReplayOutcome = {
    goalIndex: -1,
    recorded,
    reward: 0,
    done: false,
    reached: false,
    stateMismatches: 0,
    invalidActions: 0,
  };
  if (candidates.length === 0) return none;
  let goalIndex = candidates[0];
  if (candidates.length > 1) {
    for (const c of candidates) {
      if (env.reset(c).observation === demo.states[0]) {
        goalIndex = c;
        break;
      }
    }
  }
  let obs = env.reset(goalIndex).observation;
  const actions = demo.actions ?? [];
  let mismatches = 0, invalid = 0, reward = 0, done = false;
  for (let t = 0; t < actions.length && !done; t++) {
    if (t < demo.states.length && demo.states[t] !== obs) mismatches++;
    const r = env.step(actions[t]);
    if (!r.info.actionValid) invalid++;
    obs = r.observation;
    reward = r.reward;
    done = r.done;
  }
  const reached = recorded !== null && done && Math.abs(reward - recorded) < 1e-9;
  return {
    goalIndex,
    recorded,
    reward: done ? reward : 0,
    done,
    reached,
    stateMismatches: mismatches,
    invalidActions: invalid,
  };
}

/**
 * Replays demonstrations and reports how many reach their recorded outcome.
 *
 * @example
 * ```ts
 * const report = await replayDemonstrations(env, readDemonstrations("il_trajs.jsonl"));
 * console.log(`${report.reached}/${report.withOutcome} reach their recorded outcome`);
 * ```
 */
export async function replayDemonstrations(
  env: WebShopEnv,
  demos:
    | Iterable<RawIlTrajectory>
    | AsyncIterable<RawIlTrajectory | { line: number; trajectory: RawIlTrajectory }>,
): Promise<ReplayReport> {
  const index = goalIndexByKey(env);
  const report: ReplayReport = {
    demos: 0,
    goalNotFound: 0,
    withOutcome: 0,
    reached: 0,
    stateMismatch: 0,
    meanReward: 0,
    meanRecorded: 0,
    failures: [],
  };
  let sumReward = 0, sumRecorded = 0;
  for await (const item of demos as AsyncIterable<unknown>) {
    const rec = item as { line?: number; trajectory?: RawIlTrajectory };
    const demo = rec.trajectory ?? (item as RawIlTrajectory);
    const where = rec.line ?? report.demos;
    report.demos++;
    const o = replayDemonstration(env, demo, index);
    if (o.goalIndex < 0) report.goalNotFound++;
    if (o.stateMismatches > 0) report.stateMismatch++;
    sumReward += o.reward;
    if (o.recorded !== null) {
      report.withOutcome++;
      sumRecorded += o.recorded;
      if (o.reached) report.reached++;
    }
    if (!o.reached && report.failures.length < 10) {
      report.failures.push({
        index: where,
        goalIndex: o.goalIndex,
        recorded: o.recorded,
        reward: o.reward,
      });
    }
  }
  report.meanReward = report.demos > 0 ? sumReward / report.demos : 0;
  report.meanRecorded = report.withOutcome > 0 ? sumRecorded / report.withOutcome : 0;
  return report;
}
