/**
 * Writing the environment's data files so that a crash never leaves a half-written one: the
 * project's one atomic writer (`base/atomic.ts`), under the name env's callers use.
 *
 * @module
 */

export { writeAtomically as writeTextAtomically } from "../base/atomic.ts";
