/**
 * A full garbage collection on demand, for the WebGPU objects V8 does not know are heavy.
 *
 * Deno frees the driver memory behind a bind group only when its JS object is collected, and to
 * V8 that object is a few bytes, so a long run makes them far faster than V8 collects them. On lavapipe each holds a memory mapping (~85 per scoring submit of the main
 * job's model), and at Linux's default limit of 65,530 mappings per process the driver's next
 * `mmap` fails and the process segfaults: `deno task experiment` did, after ~1,200 generated
 * episodes. {@linkcode Gpu} therefore collects after every so many bind groups.
 *
 * `--expose-gc` set at run time (node:v8) exposes `gc` to contexts created afterwards, so no
 * command-line flag is needed.
 *
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";

let gc: (() => void) | null | undefined;

/** Runs a full collection; false where the runtime offers none. */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      const f = vm.runInNewContext("gc");
      gc = typeof f === "function" ? f as () => void : null;
    } catch {
      gc = null;
    }
  }
  if (!gc) return false;
  gc();
  return true;
}
