/**
 * What every script's flag handling shares: strict flag parsing with `--help`, a usage error that
 * names the task and exits 2, and integer flags checked against a minimum.
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
 * integer >= `min`.
 */
export function intFlag<D extends number | undefined>(
  task: string,
  usage: string,
  name: string,
  v: string | undefined,
  dflt: D,
  min = 0,
): number | D {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    usageError(task, usage, `--${name} must be an integer >= ${min}, got "${v}"`);
  }
  return n;
}

/** The option specs of {@linkcode parseFlags}: node:util's parseArgs options. */
export type FlagSpecs = NonNullable<ParseArgsConfig["options"]>;

/**
 * Deno.args parsed strictly (no positionals) with `--help` added: the flag values, or null after
 * printing the usage for `--help`. An unknown or malformed flag is a usage error.
 */
export function parseFlags<O extends FlagSpecs>(task: string, usage: string, options: O) {
  const config = {
    args: Deno.args,
    options: { ...options, help: { type: "boolean" } } as O & { help: { type: "boolean" } },
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
