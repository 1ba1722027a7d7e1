import assert from "node:assert/strict";
import { generateDemonstrations, writeDemonstrations } from "../env/demos.ts";
import { ExpertPolicy } from "../env/expert.ts";
import { runEpisode } from "../env/policies.ts";
import { DEFAULT_REWARD_MODE } from "../env/reward.ts";
import { loadSyntheticCatalog } from "../env/synthetic.ts";
import { WebShopEnv } from "../env/webshop_env.ts";

const SHOP = new URL("./shop.ts", import.meta.url).pathname;
const PRODUCTS = 120;

/** Runs the shop CLI with `input` piped to stdin; returns exit code and output. */
async function shop(
  args: string[],
  input = "",
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", SHOP, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

Deno.test("shop plays a scripted episode from piped stdin to reward 1", async () => {
  // The expert's actions on the same catalog and goal, typed as a person would.
  const cat = loadSyntheticCatalog({ numProducts: PRODUCTS, seed: 0 });
  const env = new WebShopEnv({ catalog: cat.products, goals: cat.goals });
  const { actions, reward } = runEpisode(env, new ExpertPolicy({ imperfectRate: 0 }), 2);
  assert.equal(reward, 1);
  const { code, out } = await shop(
    ["--products", String(PRODUCTS), "--goal", "2"],
    // Then Enter (the next episode) and q.
    actions.join("\n") + "\n\nq\n",
  );
  assert.equal(code, 0);
  assert.match(out, /Goal 2 of \d+ \(synthetic, test split; reward mode webshop\)/);
  assert.match(out, /Actions:\n\s+1\. search\[/);
  assert.match(out, /Reward: 1\.000 after \d+ steps \(reward mode webshop\)/);
  assert.match(out, /Episode over\. Enter: next episode \(a test goal\), q: quit\./);
  assert.equal(out.match(/Goal \d+ of \d+ \(/g)?.length, 2, "Enter started a second episode");
  assert.match(out, /\(quit\)\n$/);
});

Deno.test("shop follows WebShop's action rules and labels a goal with its own split", async () => {
  const args = ["--products", String(PRODUCTS), "--goal", "0", "--observation", "text"];
  // search[] is no search; after a search, search[...] is not on the page; click[nope] is absent.
  const r = await shop(args, "search[]\nsearch[mug]\nsearch[cup]\nclick[nope]\nq\n");
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /search\[\] needs a query/);
  assert.doesNotMatch(r.out, /search\[search\[\]\]/);
  assert.match(r.out, />>> search\[mug\]/);
  assert.match(r.out, /search only on the search page \(click\[back to search\]\)/);
  assert.doesNotMatch(r.out, />>> search\[cup\]/);
  assert.match(r.out, /nothing to click called "nope" on this page/);
  // Goal 0 is a test goal: no note; an episode to its end, then Enter gives the next one.
  assert.match(r.out, /Goal 0 of \d+ \(synthetic, test split/);
  assert.doesNotMatch(r.out, /is a \w+ goal;/);
  // The label is the goal's own split, whatever --split draws from.
  const train = await shop(["--products", String(PRODUCTS), "--goal", "200"], "q\n");
  assert.match(train.out, /Goal 200 of \d+ \(synthetic, train split/);
  assert.match(train.out, /\(goal 200 is a train goal; later episodes come from the test split\)/);
});

Deno.test("shop takes numbers and button texts, and stops on q or end of input", async () => {
  const args = ["--products", String(PRODUCTS), "--goal", "0", "--observation", "text"];
  // 1: first search candidate; 99: not an action; "back to search" by its text; q: quit.
  const quit = await shop(args, "1\n99\nback to search\nq\n");
  assert.equal(quit.code, 0);
  assert.match(quit.out, />>> search\[/);
  assert.match(quit.out, /no action 99 here \(1-\d+\)/);
  assert.match(quit.out, />>> click\[back to search\]/);
  assert.match(quit.out, /\(quit\)/);
  assert.match(quit.out, /WebShop \[SEP\] Instruction:/, "text observation mode");
  const eof = await shop(args, "some free text query\n");
  assert.match(eof.out, />>> search\[some free text query\]/);
  assert.match(eof.out, /end of input: episode left unfinished/);
});

Deno.test("shop --replay reports how many demonstrations reach their outcome", async () => {
  const cat = loadSyntheticCatalog({ numProducts: PRODUCTS, seed: 0 });
  const env = new WebShopEnv({ catalog: cat.products, goals: cat.goals });
  const demos = generateDemonstrations(env, new ExpertPolicy({ seed: 1 }), [0, 3, 6, 9, 12]);
  const dir = await Deno.makeTempDir({ prefix: "shop_test_" });
  try {
    const path = `${dir}/il.jsonl`;
    await writeDemonstrations(path, demos);
    await Deno.writeTextFile(path, "not json\n", { append: true });
    const { code, out, err } = await shop(["--replay", path, "--products", String(PRODUCTS)]);
    assert.equal(code, 0, err);
    assert.match(
      out,
      /5 demonstrations replayed on synthetic .*: 5\/5 reach their recorded outcome/,
    );
    assert.match(err, /il\.jsonl:6: malformed JSON/);
    const json = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.equal(json.reached, 5);
    assert.equal(json.badLines, 1);
    assert.equal(json.rewardMode, DEFAULT_REWARD_MODE);
    // Against another catalog the goals are unknown: a failed replay exits 1 with one line.
    const wrong = await shop(["--replay", path, "--products", "60", "--synthetic-seed", "3"]);
    assert.equal(wrong.code, 1, wrong.out);
    assert.match(wrong.out, /0\/5 reach their recorded outcome .*5 with an unknown goal/);
    assert.match(
      wrong.err,
      /\nshop: replay failed: 5 of 5 demonstrations miss .*, 5 of 5 have a goal synthetic lacks; .*\(.*il\.jsonl\)\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shop prints usage on an unknown flag and one error line for a bad folder", async () => {
  const { code, err } = await shop(["--nope"]);
  assert.equal(code, 2);
  assert.match(err, /usage: deno task shop/);
  const dir = await Deno.makeTempDir({ prefix: "shop_test_" });
  try {
    const missing = await shop(["--catalog", `${dir}/nowhere`]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^shop: .*cannot read folder .*nowhere/);
    assert.equal(missing.err.trim().split("\n").length, 1, missing.err);
    const empty = await shop(["--catalog", dir]);
    assert.equal(empty.code, 1);
    assert.match(empty.err, /^shop: no product file, looked for items_shuffle\*\.json .*\n$/);
    await Deno.writeTextFile(`${dir}/items_shuffle.json`, "[{]");
    const bad = await shop(["--catalog", dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^shop: .*items_shuffle\.json.*\n$/);
    const debug = await shop(["--catalog", dir, "--debug"]);
    assert.match(debug.err, /\n\s+at /, "--debug prints the stack");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
