import assert from "node:assert/strict";
import { fixtureFiles, sharedFiles, TORCH_FIXTURE } from "./requires.ts";

Deno.test("fixtureFiles() and sharedFiles() say which file is missing, or nothing", () => {
  assert.equal(TORCH_FIXTURE.missing(), null, "the PyTorch fixture is checked in");
  assert.equal(
    fixtureFiles(["bert_tiny/config.json", "bert_tiny/absent.bin"], "a test file").missing(),
    "needs tests/fixtures/bert_tiny/absent.bin (a test file)",
  );
  assert.equal(
    sharedFiles(["no-such-folder/x.json"], "nothing").missing(),
    "needs ../shared/no-such-folder/x.json (nothing)",
  );
  // A folder is not the file a test needs.
  assert.match(fixtureFiles(["bert_tiny"], "a folder").missing()!, /bert_tiny/);
});
