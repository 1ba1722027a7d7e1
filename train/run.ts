/**
 * What every trainer shares: a run folder `runs/<name>/` with the resolved config
 * (`config.json`), one JSON object per step in `metrics.jsonl` (appended as it is measured), one
 * readable progress line per log step (step, steps/s, ETA, loss, a key metric), and Ctrl-C
 * turned into a flag the loop checks, so it can write a checkpoint and exit cleanly.
 *
 * @module
 */

import { writeAtomically } from "../base/atomic.ts";

/** A run folder and its metrics stream. */
export class RunLog {
  readonly dir: string;
  readonly #metrics: Deno.FsFile;
  readonly #enc = new TextEncoder();
  readonly #quiet: boolean;
  #t0 = performance.now();
  #s0 = 0;
  /** Wall-clock origin of `time_s`: when the log opened, less the time an earlier part ran. */
  readonly #wall0: number;

  private constructor(dir: string, metrics: Deno.FsFile, quiet: boolean, before: number) {
    this.dir = dir;
    this.#metrics = metrics;
    this.#quiet = quiet;
    this.#wall0 = performance.now() - 1000 * before;
  }

  /**
   * Opens `dir` (created when absent); `append` keeps an existing metrics.jsonl (resume, and
   * `time_s` continues from its last row), otherwise it starts empty.
   */
  static async open(
    dir: string,
    opts: { append?: boolean; quiet?: boolean } = {},
  ): Promise<RunLog> {
    await Deno.mkdir(dir, { recursive: true });
    const before = opts.append ? await lastTime(`${dir}/metrics.jsonl`) : 0;
    const f = await Deno.open(`${dir}/metrics.jsonl`, {
      write: true,
      create: true,
      append: opts.append ?? false,
      truncate: !(opts.append ?? false),
    });
    return new RunLog(dir, f, opts.quiet ?? false, before);
  }

  /** Writes `config.json` (atomically). */
  async writeConfig(config: unknown): Promise<void> {
    await writeAtomically(`${this.dir}/config.json`, [JSON.stringify(config, null, 2) + "\n"]);
  }

  /**
   * Appends one JSON line, with `time_s`: seconds of wall-clock since the run began (a resumed
   * run counts on from its last row, so curves against wall-clock leave out the pause).
   */
  async metrics(row: Record<string, unknown>): Promise<void> {
    const time_s = Math.round(performance.now() - this.#wall0) / 1000;
    await this.#metrics.write(this.#enc.encode(JSON.stringify({ ...row, time_s }) + "\n"));
  }

  /** Starts the rate clock at `step` (after warm-up, or at the resumed step). */
  startClock(step: number): void {
    this.#t0 = performance.now();
    this.#s0 = step;
  }

  /** Prints `<label> step s/N · x steps/s · ETA · k=v ...`. */
  progress(label: string, step: number, total: number, fields: Record<string, number>): void {
    if (this.#quiet) return;
    const dt = (performance.now() - this.#t0) / 1000;
    const rate = dt > 0 ? (step - this.#s0) / dt : 0;
    const eta = rate > 0 ? (total - step) / rate : NaN;
    const kv = Object.entries(fields).map(([k, v]) => `${k} ${fmt(v)}`).join(" · ");
    console.log(
      `${label} step ${step}/${total} · ${rate.toFixed(2)} steps/s · ETA ${duration(eta)}` +
        (kv ? ` · ${kv}` : ""),
    );
  }

  /** Prints a line unless quiet. */
  say(line: string): void {
    if (!this.#quiet) console.log(line);
  }

  close(): void {
    try {
      this.#metrics.close();
    } catch { /* already closed */ }
  }
}

/** `time_s` of the last row of a metrics file (0 when there is none). */
async function lastTime(path: string): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return 0;
  }
  const lines = text.trimEnd().split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const t = JSON.parse(lines[i]).time_s;
      if (typeof t === "number" && Number.isFinite(t)) return t;
    } catch { /* a torn last line: look further up */ }
  }
  return 0;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4);
}

/** Seconds as "1m05s" / "12s". */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.round(s), m = Math.floor(t / 60), r = t - 60 * m;
  return m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

/**
 * A wall-clock budget in minutes (0: none), started when made or at `startMs`
 * (`performance.now()` time) so that it can cover work before the trainer's loop. `exhausted()`
 * is true once one more unit of work as long as the longest so far (`lap`) would overrun it, so
 * a trainer stops in time and its final evaluation starts within the budget.
 */
export class TimeBudget {
  readonly minutes: number;
  readonly #t0: number;
  #longest = 0;

  constructor(minutes: number, startMs = performance.now()) {
    if (!(minutes >= 0 && Number.isFinite(minutes))) {
      throw new RangeError(`time budget must be >= 0 minutes, got ${minutes}`);
    }
    this.minutes = minutes;
    this.#t0 = startMs;
  }

  /** Seconds since the start. */
  elapsed(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** Records one unit of work's duration in seconds. */
  lap(seconds: number): void {
    this.#longest = Math.max(this.#longest, seconds);
  }

  /** Whether another unit of work would end past the budget (never without a budget). */
  exhausted(): boolean {
    return this.minutes > 0 && this.elapsed() + this.#longest > 60 * this.minutes;
  }
}

/** Ctrl-C as a flag: the first SIGINT asks the loop to stop; a second one exits at once. */
export class Interrupt {
  requested = false;
  readonly #handler = () => {
    if (this.requested) Deno.exit(130);
    this.requested = true;
    console.error("\ninterrupt: writing a checkpoint, then stopping (Ctrl-C again to quit now)");
  };
  #on = false;

  listen(): this {
    if (!this.#on && Deno.build.os !== "windows") {
      Deno.addSignalListener("SIGINT", this.#handler);
      this.#on = true;
    }
    return this;
  }

  close(): void {
    if (this.#on) Deno.removeSignalListener("SIGINT", this.#handler);
    this.#on = false;
  }
}

/** A non-finite loss or gradient: stops the run naming the step. */
export class NonFiniteError extends Error {
  constructor(what: string, step: number, lastGood: string | null) {
    super(
      `${what} is not finite at step ${step}; stopped` +
        (lastGood ? ` (last good checkpoint: ${lastGood})` : " (no checkpoint was written yet)"),
    );
    this.name = "NonFiniteError";
  }
}

/** `<dir>/last.safetensors`, or an error saying there is nothing to resume in `dir`. */
export async function resumeCheckpoint(dir: string): Promise<string> {
  const path = `${dir}/last.safetensors`;
  try {
    await Deno.stat(path);
  } catch {
    throw new Error(`--resume ${dir}: no last.safetensors there (nothing to resume)`);
  }
  return path;
}
