/**
 * What every script shares: strict flag parsing with `--help` and `--debug`, a usage error that
 * names the task and exits 2, integer flags checked against bounds, and {@linkcode runMain}, which
 * turns an expected error into one line `<task>: <what> (<file/flag/record>)` and exit 1.
 *
 * @example
 * ```ts
 * if (import.meta.main) await runMain("rollout", main);
 * // inside main: throw new CliError("no product file", dir);  ->  "rollout: no product file (dir)"
 * ```
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** Prints `task: msg` and the usage to stderr, then exits with status 2. */
export function usageError(task: string, usage: string, msg: string): never {
  console.error(`${task}: ${msg}\n${usage}`);
  Deno.exit(2);
}

/**
 * The integer value of flag `--name` (`dflt` when absent); a usage error unless it is an
 * integer in [`min`, `max`]. Give `max` where a larger value would exhaust memory or time.
 */
export function intFlag<D extends number | undefined>(
  task: string,
  usage: string,
  name: string,
  v: string | undefined,
  dflt: D,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | D {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    usageError(task, usage, `--${name} must be an integer >= ${min}, got "${v}"`);
  }
  if (n > max) usageError(task, usage, `--${name} must be at most ${max}, got ${v}`);
  return n;
}

/** The value of flag `--name` (`dflt` when absent); a usage error unless it is one of `allowed`. */
export function choiceFlag<T extends string>(
  task: string,
  usage: string,
  name: string,
  v: string | undefined,
  dflt: T,
  allowed: readonly T[],
): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) {
    usageError(task, usage, `--${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  }
  return v as T;
}

/** The positive number of flag `--name` (`dflt` when absent); a usage error otherwise. */
export function positiveFlag(
  task: string,
  usage: string,
  name: string,
  v: string | undefined,
  dflt: number,
): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!(x > 0) || !Number.isFinite(x)) {
    usageError(task, usage, `--${name} must be a positive number, got "${v}"`);
  }
  return x;
}

/** A run folder name for `runs/<name>` (`dflt` when absent): letters, digits, `_`, `.`, `-`. */
export function runNameFlag(task: string, usage: string, v: string | undefined, dflt: string) {
  const name = v ?? dflt;
  if (!/^[\w.-]+$/.test(name)) usageError(task, usage, `--name must be a plain folder name`);
  return name;
}

/**
 * Most products a synthetic catalog may be asked for: twice bench:env's largest case (100k);
 * far beyond it a command runs for minutes and then out of memory (100M did after 76 s).
 */
export const MAX_SYNTHETIC_PRODUCTS = 200_000;

/**
 * An expected failure (bad file, missing folder, no GPU adapter, a run that did not meet its
 * bar): {@linkcode runMain} prints it as `<task>: <what> (<where>)`, without a stack trace.
 */
export class CliError extends Error {
  constructor(what: string, where?: string, readonly code = 1) {
    super(where ? `${what} (${where})` : what);
    this.name = "CliError";
  }
}

/** Errors that mean a bug in our code rather than bad input: these keep their stack trace. */
function isInternal(e: unknown): boolean {
  return e instanceof ReferenceError ||
    (e instanceof TypeError && /undefined|null|not a function|not iterable/.test(e.message));
}

/**
 * Runs a script's `main` and turns any error into one line on stderr, `<task>: <message>`, and
 * exit status 1 (a {@linkcode CliError}'s `code` when it has one). The stack trace is printed too
 * with `--debug`, and for errors that look like internal bugs (ReferenceError, TypeError on
 * undefined). Usage errors exit 2 earlier, through {@linkcode usageError}.
 */
export async function runMain(task: string, main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const msg = err.message.replace(/\s*\n\s*/g, " ").trim() || err.name;
    // A library message that already starts with the task's name is not prefixed twice.
    console.error(msg.startsWith(`${task}:`) ? msg : `${task}: ${msg}`);
    if (Deno.args.includes("--debug") || isInternal(err)) {
      console.error(isInternal(err) ? `internal error, please report:\n${err.stack}` : err.stack);
    }
    Deno.exit(err instanceof CliError ? err.code : 1);
  }
}

/** The option specs of {@linkcode parseFlags}: node:util's parseArgs options. */
export type FlagSpecs = NonNullable<ParseArgsConfig["options"]>;

/**
 * Deno.args parsed strictly (no positionals) with `--help` and `--debug` (stack traces, read by
 * {@linkcode runMain}) added: the flag values, or null after printing the usage for `--help`. An
 * unknown or malformed flag is a usage error.
 */
export function parseFlags<O extends FlagSpecs>(task: string, usage: string, options: O) {
  const config = {
    args: Deno.args,
    options: { ...options, help: { type: "boolean" }, debug: { type: "boolean" } } as O & {
      help: { type: "boolean" };
      debug: { type: "boolean" };
    },
    strict: true,
    allowPositionals: false,
  } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    usageError(task, usage, (e as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    return null;
  }
  return parsed.values;
}

/**
 * A JSON-lines results file written one line at a time as results are measured, so a run that
 * is stopped keeps everything up to its last result. The folder is created; an existing file is
 * appended to.
 *
 * @example
 * ```ts
 * const out = openJsonLines("runs/bench/kernels.jsonl");
 * out.write({ op: "matmul", ms: 1.5 });
 * out.close();
 * ```
 */
export function openJsonLines(
  path: string,
): { path: string; write(v: unknown): void; close(): void } {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  if (dir && !isDir(dir)) Deno.mkdirSync(dir, { recursive: true });
  const file = Deno.openSync(path, { write: true, create: true, append: true });
  const enc = new TextEncoder();
  return {
    path,
    write(v: unknown) {
      const b = enc.encode(JSON.stringify(v) + "\n");
      let off = 0;
      while (off < b.length) off += file.writeSync(b.subarray(off));
    },
    close: () => file.close(),
  };
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Progress text with an estimate of the time left: "12/100, 3.1 s, about 23 s left". */
export function progressText(done: number, total: number, startMs: number): string {
  const s = (performance.now() - startMs) / 1000;
  const left = done > 0 ? (s / done) * (total - done) : NaN;
  const fmt = (x: number) => (x >= 120 ? `${(x / 60).toFixed(1)} min` : `${x.toFixed(1)} s`);
  return `${done}/${total}, ${fmt(s)}` +
    (done > 0 && done < total ? `, about ${fmt(left)} left` : "");
}
