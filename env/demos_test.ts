import { assertRejects } from "../testing/assert.ts";
import assert from "node:assert/strict";
import {
  demoGoalText,
  DemoLineError,
  type Demonstration,
  generateDemonstrations,
  loadDemonstrations,
  readDemonstrations,
  recordDemonstration,
  replayDemonstration,
  replayDemonstrations,
  writeDemonstrations,
} from "./demos.ts";
import { ExpertPolicy } from "./expert.ts";
import { checkIlTrajectory } from "./loaders.ts";
import { renderSearchPage } from "./pages.ts";
import { loadSyntheticCatalog } from "./synthetic.ts";
import { WebShopEnv } from "./webshop_env.ts";

const CAT = loadSyntheticCatalog({ numProducts: 200, seed: 21 });

function env(observationMode: "text_rich" | "text" = "text_rich"): WebShopEnv {
  return new WebShopEnv({
    catalog: CAT.products,
    goals: CAT.goals,
    rewardMode: "corrected",
    observationMode,
  });
}

// Recorded once: 80 goals spread over the whole goal list.
const GOALS = Array.from({ length: 80 }, (_, i) => i * 5);
const DEMOS = generateDemonstrations(env(), new ExpertPolicy({ seed: 1 }), GOALS);

Deno.test("recordDemonstration() writes the il_trajs fields train_choice_il.py reads", () => {
  for (const [k, d] of DEMOS.entries()) {
    const n = d.actions.length;
    for (const key of ["states", "available_actions", "action_idxs", "actions_translate"]) {
      assert.equal((d[key] as unknown[]).length, n, key);
    }
    assert.equal(d.images.length, n);
    assert.equal(d.rewards.length, n);
    assert.equal(checkIlTrajectory(d), null);
    // process_goal of the first state is the goal's human_goals.json entry (same index).
    assert.equal(demoGoalText(d.states[0]), CAT.humanGoals![GOALS[k]]);
    for (let t = 0; t < n; t++) {
      if (d.actions[t].startsWith("search[")) {
        assert.equal(d.action_idxs[t], -1);
        assert.deepEqual(d.available_actions[t], []);
      } else {
        assert.equal(d.available_actions[t][d.action_idxs[t]], d.actions_translate[t]);
        assert.ok(d.available_actions[t].every((a) => a.startsWith("click[")));
      }
      if (/^click\[b0/.test(d.actions[t])) {
        assert.match(d.actions_translate[t], /^click\[item - /);
      }
    }
    assert.ok(d.rewards.slice(0, -1).every((r) => r === 0));
  }
  const success = DEMOS.filter((d) => d.rewards.at(-1) === 1).length;
  assert.ok(success / DEMOS.length >= 0.95, `demos with reward 1: ${success}/${DEMOS.length}`);
});

Deno.test("demonstrations replay to their recorded outcome", async () => {
  const report = await replayDemonstrations(env(), DEMOS);
  assert.equal(report.demos, DEMOS.length);
  assert.equal(report.goalNotFound, 0);
  assert.equal(report.withOutcome, DEMOS.length);
  assert.equal(report.reached, DEMOS.length, JSON.stringify(report.failures));
  assert.equal(report.stateMismatch, 0);
});

Deno.test("replay reports a demonstration that does not reach its outcome", () => {
  const e = env();
  const d = structuredClone(DEMOS.find((x) => x.rewards.at(-1) === 1)!) as Demonstration;
  // The true outcome is reached; a falsified outcome, a cut episode or an unknown goal is not.
  const ok = replayDemonstration(e, d);
  assert.ok(ok.reached);
  d.rewards[d.rewards.length - 1] = 0.5;
  const claimed = replayDemonstration(e, d);
  assert.equal(claimed.reached, false);
  assert.equal(claimed.reward, 1);
  const cut = { ...d, actions: d.actions.slice(0, -1) };
  const unfinished = replayDemonstration(e, cut);
  assert.equal(unfinished.done, false);
  assert.equal(unfinished.reached, false);
  const stranger = {
    ...d,
    states: ["WebShop\nInstruction: \nno such goal\n[button] Search [button_]"],
  };
  assert.equal(replayDemonstration(e, stranger).goalIndex, -1);
});

Deno.test("demonstrations in text observation mode replay too", async () => {
  const e = env("text");
  const demos = generateDemonstrations(e, new ExpertPolicy({ seed: 3 }), [0, 1, 2, 3, 4]);
  assert.ok(demos[0].states[0].includes(" [SEP] "));
  assert.equal(demoGoalText(demos[0].states[0]), CAT.humanGoals![0]);
  const report = await replayDemonstrations(env("text"), demos);
  assert.equal(report.reached, 5);
  assert.equal(report.stateMismatch, 0);
});

Deno.test("demoGoalText() matches train_choice_il.py process_goal", () => {
  const s = renderSearchPage(
    "text_rich",
    'I\'d like "Blue" socks, and price lower than 30.00 dollars',
  );
  assert.equal(demoGoalText(s), "id like blue socks");
  const old = "Amazon Shopping Game\nInstruction: \ni need soap\n[button] Search [button_]";
  assert.equal(demoGoalText(old), "i need soap");
  const text =
    "WebShop [SEP] Instruction: [SEP] i need soap, and price lower than 10.00 dollars [SEP] Search";
  assert.equal(demoGoalText(text), "i need soap");
});

Deno.test("il_trajs jsonl round-trips through writeDemonstrations / readDemonstrations", async () => {
  const dir = await Deno.makeTempDir({ prefix: "demos_test_" });
  try {
    const path = `${dir}/il_trajs.jsonl`;
    assert.equal(await writeDemonstrations(path, DEMOS), DEMOS.length);
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["il_trajs.jsonl"], "no temporary file is left");
    const { trajectories, issues } = await loadDemonstrations(path);
    assert.deepEqual(issues, []);
    assert.deepEqual(trajectories, DEMOS);
    // Streaming yields line numbers.
    const lines: number[] = [];
    for await (const { line } of readDemonstrations(path)) lines.push(line);
    assert.deepEqual(lines, DEMOS.map((_, i) => i + 1));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDemonstrations() names bad lines by number", async () => {
  const dir = await Deno.makeTempDir({ prefix: "demos_test_" });
  try {
    const path = `${dir}/bad.jsonl`;
    const good = JSON.stringify(DEMOS[0]);
    const outOfRange = JSON.stringify({
      ...DEMOS[0],
      action_idxs: DEMOS[0].action_idxs.map(() => 99),
    });
    const badRewards = JSON.stringify({ ...DEMOS[0], rewards: ["x"] });
    await Deno.writeTextFile(
      path,
      [good, "{not json", "", outOfRange, badRewards, good].join("\n"),
    );
    const issues: { line: number; reason: string }[] = [];
    const kept: number[] = [];
    for await (const { line } of readDemonstrations(path, { onIssue: (i) => issues.push(i) })) {
      kept.push(line);
    }
    assert.deepEqual(kept, [1, 6]);
    assert.deepEqual(issues.map((i) => i.line), [2, 4, 5]);
    assert.match(issues[0].reason, /malformed JSON/);
    assert.match(issues[1].reason, /action_idxs\[0\] = 99/);
    assert.match(issues[2].reason, /rewards/);
    await assertRejects(
      async () => {
        for await (const _ of readDemonstrations(path, { strict: true })) { /* drain */ }
      },
      DemoLineError,
      "bad.jsonl:2: malformed JSON",
    );
    await assertRejects(
      () => loadDemonstrations(`${dir}/missing.jsonl`),
      Error,
      "cannot open",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recordDemonstration() refuses an action the page does not offer", () => {
  const e = env();
  const bad = {
    name: "bad",
    reset() {},
    act: () => "click[no such button]",
  };
  assert.throws(() => recordDemonstration(e, bad, 0), /not clickable on this search page/);
});
