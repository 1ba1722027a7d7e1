/**
 * Moved to `testing/` (the shared test utilities); these names are re-exported for tests on
 * other branches that still import them from here. New tests import `testing/` directly.
 *
 * @module
 */

export { assertClose, type Tolerance } from "../testing/assert.ts";
export { gpuTest } from "../testing/gpu.ts";
export { dot, numericGrad, randn, rng } from "../testing/numeric.ts";
