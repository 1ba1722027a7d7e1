/**
 * Test assertions: a thrown or rejected error of a class whose message contains a substring (the
 * two the standard library would give; jsr: is unreachable here), and an elementwise comparison
 * that prints the first mismatches and the max error.
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

/** Tolerances for {@linkcode assertClose}: passes where |a-b| <= atol + rtol*|b|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * Throws unless `actual` matches `expected` elementwise within `tol`, printing the first
 * mismatches (index, actual, expected) and the max absolute and relative error.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  label: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  let maxAbs = 0, maxRel = 0, bad = 0;
  const first: string[] = [];
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const d = Math.abs(a - e);
    const ok = d <= tol.atol + tol.rtol * Math.abs(e);
    if (!Number.isNaN(d)) {
      maxAbs = Math.max(maxAbs, d);
      maxRel = Math.max(maxRel, d / Math.max(Math.abs(e), 1e-30));
    }
    if (!ok) {
      bad++;
      if (first.length < 5) first.push(`  [${i}] got ${a}, expected ${e}`);
    }
  }
  if (bad) {
    throw new Error(
      `${label}: ${bad}/${actual.length} mismatches (max abs ${maxAbs.toExponential(3)}, ` +
        `max rel ${maxRel.toExponential(3)}, tol atol=${tol.atol} rtol=${tol.rtol})\n` +
        first.join("\n"),
    );
  }
}
