/**
 * Play WebShop in the terminal, or replay demonstrations.
 *
 *   deno task shop [--catalog synthetic|<dir>] [--goal N] [--split test] [--seed S]
 *                  [--observation text_rich|text]
 *   deno task shop --replay il_trajs.jsonl [--catalog synthetic|<dir>]
 *
 * Playing: the page is printed with numbered actions; type a number, an action as the env takes
 * it (`search[red shoes]`, `click[buy now]`), a button or option text (`buy now`, `large`), or,
 * on the search page, any text to search for it. `q` quits. Input may be piped. WebShop's rules
 * hold: `search[<query>]` only on the search page and with a non-empty query; `click[<x>]` only
 * for a button, product or option value shown on the page (never `click[search]`). After an
 * episode, Enter plays the next goal of the split and `q` quits.
 *
 * Replaying exits 1 when any demonstration has a goal the catalog lacks or does not reach its
 * recorded outcome (usually: the wrong --catalog), so scripts can rely on the status.
 *
 * @module
 */

import { readDemonstrations, replayDemonstrations } from "../env/demos.ts";
import { describeLoad } from "../env/loaders.ts";
import { DEFAULT_REWARD_MODE, REWARD_MODES, type RewardMode } from "../env/reward.ts";
import { PRODUCT_WINDOW } from "../env/search.ts";
import { type LoadedCatalog, openCatalog } from "../env/catalog.ts";
import { GOAL_SPLITS } from "../env/goals.ts";
import { WebShopEnv } from "../env/webshop_env.ts";
import {
  choiceFlag,
  CliError,
  intFlag,
  MAX_SYNTHETIC_PRODUCTS,
  parseFlags,
  runMain,
  usageError,
} from "./_cli.ts";

const USAGE = `usage: deno task shop [options]
  --catalog <c>          "synthetic" (default) or a WebShop data folder
  --products <n>         synthetic catalog size (default 1000, at most ${MAX_SYNTHETIC_PRODUCTS})
  --synthetic-seed <s>   synthetic catalog seed (default 0)
  --goal <n>             goal index to play first (default: drawn from the split); its
                         own split is shown
  --split <s>            test, eval, train or all (default test): where goals are drawn
  --seed <s>             env seed: goal draw and random searches (default 0)
  --observation <m>      text_rich (default) or text
  --reward-mode <m>      webshop (default) or corrected
  --strict               fail on the first invalid record of a data folder
  --replay <file>        replay il_trajs demonstrations and report how many reach
                         their recorded outcome (exit 1 unless all do)
  --debug                stack traces on errors
  --help                 this text`;

function fail(msg: string): never {
  return usageError("shop", USAGE, msg);
}

function intArg(name: string, v: string | undefined, dflt: number, min = 0, max?: number) {
  return intFlag("shop", USAGE, name, v, dflt, min, max);
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

/**
 * Turns what the person typed into an action by WebShop's rules (see the module doc), or a reason
 * why it is not one here.
 */
export function interpret(
  env: WebShopEnv,
  input: string,
  list: Choice[],
): { action: string } | { error: string } {
  const s = input.trim();
  const onSearchPage = env.page.kind === "search";
  const clickables = env.availableActions().clickables;
  if (/^\d+$/.test(s)) {
    const i = Number(s) - 1;
    return i >= 0 && i < list.length
      ? { action: list[i].action }
      : { error: `no action ${s} here (1-${list.length})` };
  }
  const m = /^(search|click)\[(.*)\]$/s.exec(s);
  if (m) {
    const [, name, arg] = m;
    if (name === "search") {
      if (!onSearchPage) return { error: "search only on the search page (click[back to search])" };
      if (arg.trim() === "") return { error: "search[] needs a query" };
      return { action: `search[${arg}]` };
    }
    const target = arg.toLowerCase();
    if (target !== "search" && clickables.includes(target)) return { action: `click[${target}]` };
    return { error: `nothing to click called "${arg}" on this page` };
  }
  const lower = s.toLowerCase();
  if (clickables.includes(lower) && lower !== "search") return { action: `click[${lower}]` };
  if (onSearchPage && s !== "") return { action: `search[${s}]` };
  return { error: `not an action here: "${input}"` };
}

/** The split of goal `index` by the catalog's split bounds. */
function splitOf(cat: LoadedCatalog, index: number): string {
  for (const name of ["test", "eval", "train"] as const) {
    const [a, b] = cat.splits[name];
    if (index >= a && index < b) return name;
  }
  return "no";
}

/** Plays one episode; false when input ended or the person quit. */
async function play(
  cat: LoadedCatalog,
  env: WebShopEnv,
  goal: number | undefined,
  lines: AsyncGenerator<string>,
): Promise<boolean> {
  const { observation } = env.reset(goal);
  console.log(
    `Goal ${env.goalIndex} of ${cat.goals.length} (${cat.source}, ` +
      `${splitOf(cat, env.goalIndex)} split; reward mode ${env.rewardMode}). ` +
      `Type a number, an action, or q to quit.\n`,
  );
  let obs = observation;
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
        return false;
      }
      const input = next.value.trim();
      if (input === "q" || input === "quit") {
        console.log("(quit)");
        return false;
      }
      const r = interpret(env, input, list);
      if ("error" in r) console.log(r.error);
      else action = r.action;
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
        console.log(
          `\nReward: ${r.reward.toFixed(3)} after ${env.steps} steps (reward mode ` +
            `${env.rewardMode})`,
        );
        if (info) {
          const parts = [`type ${info.r_type}`, `attributes ${info.r_att.toFixed(2)}`];
          if (info.r_option !== undefined) parts.push(`options ${info.r_option.toFixed(2)}`);
          if (info.r_price !== undefined) parts.push(`price ${info.r_price ? 1 : 0}`);
          console.log(`(${parts.join(", ")}; goal asin ${env.goal.asin})`);
        }
      }
      return true;
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
    "reward-mode": { type: "string", default: DEFAULT_REWARD_MODE },
    strict: { type: "boolean" },
    replay: { type: "string" },
  });
  if (!args) return;
  const split = choiceFlag("shop", USAGE, "split", args.split, "test", GOAL_SPLITS);
  const mode = args.observation;
  if (mode !== "text_rich" && mode !== "text") {
    fail(`--observation must be text_rich or text, got "${mode}"`);
  }
  const rewardMode = args["reward-mode"] as RewardMode;
  if (!REWARD_MODES.includes(rewardMode)) {
    fail(`--reward-mode must be ${REWARD_MODES.join(" or ")}, got "${rewardMode}"`);
  }
  const numProducts = intArg("products", args.products, 1000, 1, MAX_SYNTHETIC_PRODUCTS);
  const synthSeed = intArg("synthetic-seed", args["synthetic-seed"], 0);
  const seed = intArg("seed", args.seed, 0);
  const goal = args.goal === undefined ? undefined : intArg("goal", args.goal, 0);

  const cat = await openCatalog(args.catalog, {
    numProducts,
    seed: synthSeed,
    strict: args.strict,
  });
  // Stderr: the play transcript on stdout stays the pages and actions.
  console.error(
    `catalog ${cat.source}: ${describeLoad(cat.stats)}; ${cat.goals.length} ${cat.goalKind} goals`,
  );
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
      `${report.demos} demonstrations replayed on ${cat.source} (${cat.goals.length} goals, ` +
        `reward mode ${rewardMode}): ${report.reached}/${report.withOutcome} reach their ` +
        `recorded outcome (${pct}%), ${report.goalNotFound} with an unknown goal, ` +
        `${report.stateMismatch} with a state that differs, ${bad} bad lines; mean reward ` +
        `${report.meanReward.toFixed(3)} (recorded ${report.meanRecorded.toFixed(3)})`,
    );
    for (const f of report.failures) {
      console.log(
        `  not reached: line ${f.index}, goal ${f.goalIndex}, recorded ${f.recorded}, ` +
          `replayed ${f.reward}`,
      );
    }
    console.log(JSON.stringify({ replay: args.replay, rewardMode, ...report, badLines: bad }));
    const missed = report.withOutcome - report.reached;
    if (report.goalNotFound > 0 || missed > 0) {
      throw new CliError(
        `replay failed: ${missed} of ${report.withOutcome} demonstrations miss their recorded ` +
          `outcome, ${report.goalNotFound} of ${report.demos} have a goal ${cat.source} lacks; ` +
          "are they from this catalog and reward mode?",
        args.replay,
      );
    }
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
  if (goal !== undefined && split !== "all" && splitOf(cat, goal) !== split) {
    console.log(
      `(goal ${goal} is a ${splitOf(cat, goal)} goal; later episodes come from the ${split} split)`,
    );
  }
  const lines = stdinLines();
  let next = goal;
  while (await play(cat, env, next, lines)) {
    next = undefined;
    await Deno.stdout.write(
      new TextEncoder().encode(
        `\nEpisode over. Enter: next episode (a ${split} goal), q: quit.\n> `,
      ),
    );
    const line = await lines.next();
    if (line.done || ["q", "quit"].includes(line.value.trim())) break;
  }
  // The stdin reader may still hold a pending read; nothing else is left to do.
  Deno.exit(0);
}

if (import.meta.main) await runMain("shop", main);
