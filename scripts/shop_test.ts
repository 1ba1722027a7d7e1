import assert from "node:assert/strict";
import { generateDemonstrations, writeDemonstrations } from "../env/demos.ts";
import { ExpertPolicy } from "../env/expert.ts";
import { runEpisode } from "../env/policies.ts";
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
  const env = new WebShopEnv({ catalog: cat.products, goals: cat.goals, rewardMode: "corrected" });
  const { actions, reward } = runEpisode(env, new ExpertPolicy({ imperfectRate: 0 }), 2);
  assert.equal(reward, 1);
  const { code, out } = await shop(
    ["--products", String(PRODUCTS), "--goal", "2"],
    actions.join("\n") + "\n",
  );
  assert.equal(code, 0);
  assert.match(out, /Goal 2 of \d+ \(synthetic, test split\)/);
  assert.match(out, /Actions:\n\s+1\. search\[/);
  assert.match(out, /Reward: 1\.000 after \d+ steps/);
});

Deno.test("shop takes numbers and button texts, and stops on q or end of input", async () => {
  const args = ["--products", String(PRODUCTS), "--goal", "0", "--observation", "text"];
  // 1: first search candidate; 99: not an action; "back to search" by its text; q: quit.
  const quit = await shop(args, "1\n99\nback to search\nq\n");
  assert.equal(quit.code, 0);
  assert.match(quit.out, />>> search\[/);
  assert.match(quit.out, /not an action here: "99"/);
  assert.match(quit.out, />>> click\[back to search\]/);
  assert.match(quit.out, /\(quit\)/);
  assert.match(quit.out, /WebShop \[SEP\] Instruction:/, "text observation mode");
  const eof = await shop(args, "some free text query\n");
  assert.match(eof.out, />>> search\[some free text query\]/);
  assert.match(eof.out, /end of input: episode left unfinished/);
});

Deno.test("shop --replay reports how many demonstrations reach their outcome", async () => {
  const cat = loadSyntheticCatalog({ numProducts: PRODUCTS, seed: 0 });
  const env = new WebShopEnv({ catalog: cat.products, goals: cat.goals, rewardMode: "corrected" });
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shop prints usage on an unknown flag", async () => {
  const { code, err } = await shop(["--nope"]);
  assert.equal(code, 2);
  assert.match(err, /usage: deno task shop/);
});
