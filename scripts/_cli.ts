/**
 * What every script's flag handling shares: a usage error that names the task and exits 2, and
 * integer flags checked against a minimum.
 *
 * @module
 */

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
