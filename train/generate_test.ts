import assert from "node:assert/strict";
import { pruneLoops } from "./generate.ts";

const steps = (states: string[]) => states.map((state, i) => ({ state, i }));

Deno.test("pruneLoops() cuts a return to an earlier state out of the path", () => {
  // search -> results -> item A -> results (back) -> item B -> buy
  const s = steps(["search", "results", "itemA", "results", "itemB"]);
  assert.deepEqual(pruneLoops(s).map((x) => x.i), [0, 3, 4]);
  assert.deepEqual(pruneLoops(s).map((x) => x.state), ["search", "results", "itemB"]);
});

Deno.test("pruneLoops() handles nested and repeated loops and leaves loop-free paths alone", () => {
  assert.deepEqual(pruneLoops(steps(["a", "b", "c", "d"])).map((x) => x.i), [0, 1, 2, 3]);
  // a b c b c d: the second visit of b cuts b c; the second c is then new.
  assert.deepEqual(pruneLoops(steps(["a", "b", "c", "b", "c", "d"])).map((x) => x.i), [0, 3, 4, 5]);
  // a b a b a c: back to a twice.
  assert.deepEqual(pruneLoops(steps(["a", "b", "a", "b", "a", "c"])).map((x) => x.i), [4, 5]);
  // A loop inside a loop: a b c b a d -> a d.
  assert.deepEqual(pruneLoops(steps(["a", "b", "c", "b", "a", "d"])).map((x) => x.i), [4, 5]);
  assert.deepEqual(pruneLoops([]), []);
});
