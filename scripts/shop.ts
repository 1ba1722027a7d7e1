/**
 * Play WebShop in the terminal, or replay demonstrations.
 *
 *   deno task shop [--catalog synthetic|<dir>] [--goal N] [--split test] [--seed S]
 *                  [--observation text_rich|text]
 *   deno task shop --replay il_trajs.jsonl [--catalog synthetic|<dir>]
 *
 * Playing: the page is printed with numbered actions; type a number, an action as the env takes
 * it (`search[red shoes]`, `click[buy now]`), a button or option text (`buy now`, `large`), or,
 * on the search page, any text to search for it. `q` quits. Input may be piped.
 *
 * @module
 */

import { readDemonstrations, replayDemonstrations } from "../env/demos.ts";
import { PRODUCT_WINDOW } from "../env/search.ts";
import { type LoadedCatalog, openCatalog } from "../env/synthetic.ts";
import { type GoalSplit, WebShopEnv } from "../env/webshop_env.ts";
import { intFlag, parseFlags, usageError } from "./_cli.ts";

const USAGE = `usage: deno task shop [options]
  --catalog <c>          "synthetic" (default) or a WebShop data folder
  --products <n>         synthetic catalog size (default 1000)
  --synthetic-seed <s>   synthetic catalog seed (default 0)
  --goal <n>             goal index to play (default: drawn from the split)
  --split <s>            test, eval, train or all (default test)
  --seed <s>             env seed: goal draw and random searches (default 0)
  --observation <m>      text_rich (default) or text
  --reward-mode <m>      corrected (default) or webshop
  --replay <file>        replay il_trajs demonstrations and report how many reach
                         their recorded outcome
  --help                 this text`;

function fail(msg: string): never {
  return usageError("shop", USAGE, msg);
}

function intArg(name: string, v: string | undefined, dflt: number, min = 0) {
  return intFlag("shop", USAGE, name, v, dflt, min);
}

/** Lines of stdin, whether typed or piped. */
async function* stdinLines(): AsyncGenerator<string> {
  const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        yield buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
      }
    }
    if (buf.length > 0) yield buf;
  } finally {
    reader.releaseLock();
  }
}

/** One numbered choice: what is shown and the action the env is given. */
interface Choice {
  label: string;
  action: string;
}

/** The numbered actions of the current page (products by ASIN: titles of lookalikes repeat). */
function choices(env: WebShopEnv): Choice[] {
  const page = env.page;
  if (page.kind === "search") {
    return env.validActions().map((a) => ({ label: a, action: a }));
  }
  const onPage = page.kind === "results"
    ? new Map(
      page.results
        .slice((page.page - 1) * PRODUCT_WINDOW, page.page * PRODUCT_WINDOW)
        .map((p) => [p.asin.toLowerCase(), p]),
    )
    : new Map();
  return env.availableActions().clickables
    .filter((c) => c !== "search")
    .map((c) => {
      const p = onPage.get(c);
      const label = p ? `click[${p.asin}] ${p.Title} (${p.Price})` : `click[${c}]`;
      return { label, action: `click[${c}]` };
    });
}

/** Turns what the person typed into an action, or null when it names nothing. */
function interpret(env: WebShopEnv, input: string, list: Choice[]): string | null {
  const s = input.trim();
  if (/^\d+$/.test(s)) {
    const i = Number(s) - 1;
    return i >= 0 && i < list.length ? list[i].action : null;
  }
  if (/^(search|click)\[.+\]$/s.test(s)) return s;
  const lower = s.toLowerCase();
  if (env.availableActions().clickables.includes(lower) && lower !== "search") {
    return `click[${lower}]`;
  }
  if (env.page.kind === "search" && s !== "") return `search[${s}]`;
  return null;
}

async function play(cat: LoadedCatalog, env: WebShopEnv, goal: number | undefined, split: string) {
  const { observation } = env.reset(goal);
  console.log(
    `Goal ${env.goalIndex} of ${cat.goals.length} (${cat.source}, ${split} split). ` +
      `Type a number, an action, or q to quit.\n`,
  );
  let obs = observation;
  const lines = stdinLines();
  for (;;) {
    console.log(obs);
    const list = choices(env);
    console.log("\nActions:");
    list.forEach((c, i) => console.log(`  ${String(i + 1).padStart(2)}. ${c.label}`));
    let action: string | null = null;
    while (action === null) {
      await Deno.stdout.write(new TextEncoder().encode("> "));
      const next = await lines.next();
      if (next.done) {
        console.log("\n(end of input: episode left unfinished)");
        return;
      }
      const input = next.value.trim();
      if (input === "q" || input === "quit") {
        console.log("(quit)");
        return;
      }
      action = interpret(env, input, list);
      if (action === null) console.log(`not an action here: "${input}"`);
    }
    console.log(`\n>>> ${action}\n`);
    const r = env.step(action);
    if (!r.info.actionValid) console.log("(that action had no effect)");
    obs = r.observation;
    if (r.done) {
      console.log(obs);
      if (r.info.truncated) {
        console.log(`\nStep limit reached: reward 0 after ${env.steps} steps.`);
      } else {
        const info = r.info.rewardInfo;
        console.log(`\nReward: ${r.reward.toFixed(3)} after ${env.steps} steps`);
        if (info) {
          const parts = [`type ${info.r_type}`, `attributes ${info.r_att.toFixed(2)}`];
          if (info.r_option !== undefined) parts.push(`options ${info.r_option.toFixed(2)}`);
          if (info.r_price !== undefined) parts.push(`price ${info.r_price ? 1 : 0}`);
          console.log(`(${parts.join(", ")}; goal asin ${env.goal.asin})`);
        }
      }
      return;
    }
  }
}

async function main(): Promise<void> {
  const args = parseFlags("shop", USAGE, {
    catalog: { type: "string", default: "synthetic" },
    products: { type: "string" },
    "synthetic-seed": { type: "string" },
    goal: { type: "string" },
    split: { type: "string", default: "test" },
    seed: { type: "string" },
    observation: { type: "string", default: "text_rich" },
    "reward-mode": { type: "string", default: "corrected" },
    replay: { type: "string" },
  });
  if (!args) return;
  const split = args.split as GoalSplit;
  if (!["test", "eval", "train", "all"].includes(split)) {
    fail(`--split must be test, eval, train or all, got "${split}"`);
  }
  const mode = args.observation;
  if (mode !== "text_rich" && mode !== "text") {
    fail(`--observation must be text_rich or text, got "${mode}"`);
  }
  const rewardMode = args["reward-mode"];
  if (rewardMode !== "corrected" && rewardMode !== "webshop") {
    fail(`--reward-mode must be corrected or webshop, got "${rewardMode}"`);
  }
  const numProducts = intArg("products", args.products, 1000, 1);
  const synthSeed = intArg("synthetic-seed", args["synthetic-seed"], 0);
  const seed = intArg("seed", args.seed, 0);
  const goal = args.goal === undefined ? undefined : intArg("goal", args.goal, 0);

  const cat = await openCatalog(args.catalog, { numProducts, seed: synthSeed });
  if (goal !== undefined && goal >= cat.goals.length) {
    fail(`--goal ${goal} is out of range: the catalog has ${cat.goals.length} goals`);
  }

  if (args.replay) {
    const env = new WebShopEnv({
      catalog: cat.products,
      goals: cat.goals,
      observationMode: mode,
      rewardMode,
    });
    let bad = 0;
    const report = await replayDemonstrations(
      env,
      readDemonstrations(args.replay, {
        onIssue: (i) => {
          bad++;
          console.error(`skipped ${i.file}:${i.line}: ${i.reason}`);
        },
      }),
    );
    const pct = report.withOutcome ? (100 * report.reached / report.withOutcome).toFixed(1) : "-";
    console.log(
      `${report.demos} demonstrations replayed on ${cat.source} (${cat.goals.length} goals): ` +
        `${report.reached}/${report.withOutcome} reach their recorded outcome (${pct}%), ` +
        `${report.goalNotFound} with an unknown goal, ${report.stateMismatch} with a state ` +
        `that differs, ${bad} bad lines; mean reward ${report.meanReward.toFixed(3)} ` +
        `(recorded ${report.meanRecorded.toFixed(3)})`,
    );
    for (const f of report.failures) {
      console.log(
        `  not reached: line ${f.index}, goal ${f.goalIndex}, recorded ${f.recorded}, ` +
          `replayed ${f.reward}`,
      );
    }
    console.log(JSON.stringify({ replay: args.replay, ...report, badLines: bad }));
    return;
  }

  const env = new WebShopEnv({
    catalog: cat.products,
    goals: cat.goals,
    split,
    seed,
    observationMode: mode,
    rewardMode,
    goalQueryMap: cat.goalQueryMap ?? null,
  });
  await play(cat, env, goal, split);
}

if (import.meta.main) await main();
