/**
 * The two assertions the standard library would give (jsr: is unreachable here): a thrown or
 * rejected error of a class whose message contains a substring.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

function check(e: unknown, cls: ErrorClass, includes?: string): void {
  if (!(e instanceof cls)) {
    throw new Error(`expected ${cls.name}, got ${e instanceof Error ? e.name : typeof e}: ${e}`);
  }
  if (includes && !e.message.includes(includes)) {
    throw new Error(`expected message to include '${includes}', got: ${e.message}`);
  }
}

/** Throws unless `fn` throws a `cls` whose message includes `includes`. */
export function assertThrows(fn: () => unknown, cls: ErrorClass, includes?: string): void {
  try {
    fn();
  } catch (e) {
    check(e, cls, includes);
    return;
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}

/** Rejects unless `fn` rejects with a `cls` whose message includes `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls: ErrorClass,
  includes?: string,
): Promise<void> {
  try {
    await fn();
  } catch (e) {
    check(e, cls, includes);
    return;
  }
  throw new Error(`expected ${cls.name} to be rejected`);
}
