import { assertClose, assertRejects, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { randn } from "../testing/numeric.ts";
import { copyForward, copyRows } from "./copy.ts";
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

gpuTest("copyRows() copies and accumulates strided rows", async (gpu) => {
  // src (3 rows of stride 5), take 2 values from offset 1 into dst rows of stride 4 at offset 2.
  const src = tensor(gpu, [15], "src", Array.from({ length: 15 }, (_, i) => i));
  const dst = tensor(gpu, [12], "dst", new Float32Array(12).fill(100));
  const d = { R: 3, width: 2, dStride: 4, dOff: 2, sStride: 5, sOff: 1 };
  gpu.run("copyRows", (b) => {
    copyRows(b, dst, src, d);
    copyRows(b, dst, src, { ...d, accumulate: true });
  });
  const e = [100, 100, 2, 4, 100, 100, 12, 14, 100, 100, 22, 24];
  assertClose(await dst.read(), e, { atol: 0, rtol: 0 }, "copyRows");
  const b = gpu.batch("bad");
  assertThrows(() => copyRows(b, dst, src, { ...d, R: 4 }), GpuError, "copyRows: src");
  b.submit();
});
