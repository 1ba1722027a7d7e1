import { assertClose, assertRejects, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { randn } from "../testing/numeric.ts";
import { copyForward } from "./copy.ts";
import { copyCpu } from "./cpu/copy.ts";
import { tensor } from "./tensor.ts";
import { GpuError, packParams } from "./device.ts";

gpuTest("copyForward() copies sizes that are not multiples of the tile", async (gpu) => {
  for (const n of [1, 3, 1023, 4097]) {
    const data = randn(n, n);
    const x = tensor(gpu, [n], "x", data), out = tensor(gpu, [n], "out");
    gpu.run("copy test", (b) => copyForward(b, out, x));
    const expected = new Float32Array(n);
    copyCpu(expected, data);
    assertClose(await out.read(), expected, { atol: 0, rtol: 0 }, `copy n=${n}`);
  }
});

gpuTest("copyForward() rejects an output that is too small before dispatch", (gpu) => {
  const x = tensor(gpu, [8], "x"), out = tensor(gpu, [4], "out");
  const b = gpu.batch("bad");
  assertThrows(() => copyForward(b, out, x), GpuError, "copy: out 'out' [4] holds 4 elements");
  b.submit();
});

gpuTest("a kernel that fails to compile surfaces as a GpuError naming it", async (gpu) => {
  gpu.pipeline("broken_kernel_for_test", "this is not wgsl");
  await assertRejects(() => gpu.sync("after broken kernel"), GpuError, "broken_kernel_for_test");
});

Deno.test("packParams() rejects a u32 that is negative", () => {
  assertThrows(() => packParams([1, -2]), RangeError, "field 1");
});
