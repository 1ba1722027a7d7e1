/**
 * GPU tests: {@linkcode gpuTest} runs a test on the shared device where a WebGPU adapter exists
 * and registers it as ignored (reason in the name) where none does, through `requires`.
 *
 * @module
 */

import { type Gpu, tryRequestGpu } from "../kernels/device.ts";
import { type Need, requires } from "./requires.ts";

/** The shared GPU of this test module, or null on a machine without a WebGPU adapter. */
const GPU: Gpu | null = await tryRequestGpu();

/** A WebGPU adapter. `.ci/run` fails when a test name says "ignored: no WebGPU adapter". */
export const ADAPTER: Need = {
  missing: () => GPU ? null : "no WebGPU adapter on this machine",
};

/**
 * Registers a Deno test that runs `fn` on the shared GPU; `needs` adds further requirements.
 * Resource sanitizers are off: the device outlives each test.
 */
export function gpuTest(
  name: string,
  fn: (gpu: Gpu) => Promise<void> | void,
  needs: readonly Need[] = [],
): void {
  requires([ADAPTER, ...needs], {
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => fn(GPU!),
  });
}
