import assert from "node:assert/strict";
import { gpuTest } from "../testing/gpu.ts";
import type { Need } from "../testing/requires.ts";
import { collectGarbage } from "./collect_garbage.ts";
import { copyForward } from "./copy.ts";
import { Gpu } from "./device.ts";
import { tensor } from "./tensor.ts";

const PROC_MAPS: Need = {
  missing() {
    try {
      Deno.statSync("/proc/self/maps");
      return null;
    } catch {
      return "needs /proc/self/maps (Linux) to count memory mappings";
    }
  },
};

const mappings = () => Deno.readTextFileSync("/proc/self/maps").split("\n").length;

Deno.test("collectGarbage() runs a collection under Deno without a command-line flag", () => {
  assert.equal(collectGarbage(), true);
  assert.equal(collectGarbage(), true, "and again");
});

gpuTest(
  "the Gpu collects garbage every gcEvery bind groups, so their memory mappings do not pile up",
  async (shared) => {
    // Mappings gained by 2,000 tiny dispatches (200 submits of 10) on a Gpu collecting every
    // `gcEvery` bind groups, counted after a collection of what earlier runs left.
    const grown = async (gcEvery: number) => {
      const gpu = new Gpu(shared.adapter, shared.device, false, gcEvery);
      const x = tensor(gpu, [64], "x"), out = tensor(gpu, [64], "out");
      await gpu.sync();
      collectGarbage();
      const before = mappings();
      for (let s = 0; s < 200; s++) {
        gpu.run("gc test", (b) => {
          for (let i = 0; i < 10; i++) copyForward(b, out, x);
        });
      }
      await gpu.sync("gc test");
      const n = mappings() - before;
      x.destroy();
      out.destroy();
      return n;
    };
    const never = await grown(0);
    const often = await grown(100);
    // Mesa's software drivers (lavapipe, llvmpipe) map memory for every bind group; other
    // drivers may map none, and then there is nothing to pile up.
    if (shared.isSoftware) assert.ok(never >= 1500, `never collecting: +${never} mappings`);
    assert.ok(often < 300, `collecting every 100: +${often} mappings, never: +${never}`);
  },
  [PROC_MAPS],
);
