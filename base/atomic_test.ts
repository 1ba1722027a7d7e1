import assert from "node:assert/strict";
import { writeAtomically } from "./atomic.ts";

Deno.test("writeAtomically() writes text and bytes, and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atomic_test_" });
  try {
    const path = `${dir}/out.txt`;
    await Deno.writeTextFile(path, "old");
    const n = await writeAtomically(path, ["héllo ", new Uint8Array([0x77, 0x6f]), "rld"]);
    assert.equal(await Deno.readTextFile(path), "héllo world");
    assert.equal(n, 12);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function* failing(): AsyncIterable<string> {
  yield "partial";
  throw new Error("source failed");
}

Deno.test("writeAtomically() keeps the old file and removes its temporary one on error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atomic_test_" });
  try {
    const path = `${dir}/out.txt`;
    await Deno.writeTextFile(path, "old");
    await assert.rejects(() => writeAtomically(path, failing()), /source failed/);
    assert.equal(await Deno.readTextFile(path), "old");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.txt"]);
    await assert.rejects(
      () => writeAtomically(`${dir}/no/such/dir/x`, ["x"]),
      Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
