import assert from "node:assert/strict";
import { assertClose, assertRejects, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { randn } from "../testing/numeric.ts";
import { copyForward, copyRows, gatherRows } from "./copy.ts";
import { copyCpu, gatherRowsCpu } from "./cpu/copy.ts";
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

gpuTest("gatherRows() reads indexed rows as the CPU reference does", async (gpu) => {
  // 5 source rows of stride 7; take the first 3 values of rows 4, 0, 4, 2, and of row 9 (past
  // the source: NaN).
  const src = randn(35, 7);
  const idx = [4, 0, 4, 2, 9], d = { R: 5, width: 3, sStride: 7 };
  const s = tensor(gpu, [35], "src", src), dst = tensor(gpu, [15], "dst");
  const index = tensor(gpu, [5], "index", Uint32Array.from(idx), "u32");
  gpu.run("gatherRows", (b) => gatherRows(b, dst, s, index, d));
  const want = new Float32Array(15);
  gatherRowsCpu(want, src, idx, d);
  assertClose(
    (await dst.read()).subarray(0, 12),
    want.subarray(0, 12),
    { atol: 0, rtol: 0 },
    "rows",
  );
  assertClose(want.subarray(0, 3), src.subarray(28, 31), { atol: 0, rtol: 0 }, "row 4 by hand");
  const got = await dst.read();
  for (let c = 12; c < 15; c++) assert.ok(Number.isNaN(got[c]) && Number.isNaN(want[c]));
  const b = gpu.batch("bad");
  assertThrows(() => gatherRows(b, dst, s, index, { ...d, width: 8 }), GpuError, "exceeds");
  assertThrows(() => gatherRows(b, dst, s, index, { ...d, R: 6 }), GpuError, "gatherRows: index");
  b.submit();
});
