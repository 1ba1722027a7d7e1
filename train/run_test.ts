import assert from "node:assert/strict";
import { duration, RunLog } from "./run.ts";

Deno.test("duration() rounds before splitting minutes and seconds", () => {
  assert.equal(duration(119.6), "2m00s");
  assert.equal(duration(65), "1m05s");
  assert.equal(duration(12.4), "12s");
  assert.equal(duration(NaN), "?");
});

Deno.test("RunLog.metrics() stamps time_s, and a resumed log counts on from its last row", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await RunLog.open(dir, { quiet: true });
    await a.metrics({ step: 1, loss: 0.5 });
    a.close();
    // An earlier part that ran 100 s: the resumed log's clock starts there.
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, `{"step":2,"time_s":100}\n`, { append: true });
    const b = await RunLog.open(dir, { append: true, quiet: true });
    await b.metrics({ step: 3 });
    b.close();
    const rows = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 3);
    assert.equal(rows[0].loss, 0.5);
    assert.ok(rows[0].time_s >= 0 && rows[0].time_s < 5, `first time_s ${rows[0].time_s}`);
    assert.ok(rows[2].time_s >= 100 && rows[2].time_s < 105, `resumed time_s ${rows[2].time_s}`);
    const c = await RunLog.open(dir, { quiet: true }); // a fresh run starts at 0 again
    await c.metrics({ step: 1 });
    c.close();
    const fresh = JSON.parse((await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim());
    assert.ok(fresh.time_s < 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
