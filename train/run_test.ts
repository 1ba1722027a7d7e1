import assert from "node:assert/strict";
import { duration } from "./run.ts";

Deno.test("duration() rounds before splitting minutes and seconds", () => {
  assert.equal(duration(119.6), "2m00s");
  assert.equal(duration(65), "1m05s");
  assert.equal(duration(12.4), "12s");
  assert.equal(duration(NaN), "?");
});
