/**
 * Thompson-sampling comparison of agents (Feng 2024's evaluation): every agent an arm with a
 * Beta(1, 1) prior, several independent runs played together, one model submit per agent per
 * decision step.
 *
 *   deno task eval:thompson --agents oracle,random
 *   deno task eval:thompson --agents il=runs/cache/il-reference-<id>/final.safetensors,dpo=runs/dpo/final.safetensors,random
 *
 * Writes runs/<name>/thompson.json and runs/<name>/thompson_rollouts.jsonl; prints the table
 * (or, with --json, the result object).
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import {
  AGENT_FORMS,
  instantiateAgent,
  type LoadedAgent,
  needsModel,
  parseAgentList,
  prepareAgent,
} from "../eval/agents.ts";
import { EVAL_DATA, evalEnvConfig, loadEvalData } from "../eval/data.ts";
import {
  formatThompsonTable,
  runThompson,
  saveThompson,
  type ThompsonArmReward,
  type ThompsonRollout,
} from "../eval/thompson.ts";
import { GOAL_SPLITS } from "../env/goals.ts";
import {
  choiceFlag,
  intFlag,
  parseFlags,
  positiveFlag,
  progressText,
  runMain,
  runNameFlag,
  usageError,
} from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";

const TASK = "eval:thompson";
const USAGE = `usage: deno task ${TASK} --agents <a,b,...> [options]
  --agents <list>          comma-separated agents: ${AGENT_FORMS}
  --runs <r>               independent runs (default 5)
  --rollouts <n>           rollouts per run (default 1000)
  --split <s>              goals drawn from: test (default), eval, train or all
  --arm <a>                posterior update: success (default; reward = 1) or score (a
                           Bernoulli(score) draw)
  --batch <b>              arms drawn per run before their updates (default 16)
  --step-limit <n>         steps per episode (default 100, WebShop's)
  --sample                 checkpoint agents sample actions (default greedy)
  --temperature <t>        sampling temperature with --sample (default 1)
  --seed <s>               base seed of the runs, the random agent and sampling (default 0)
  --name <n>               results folder runs/<n> (default thompson)
  --json                   print the result as one JSON object
  --debug                  stack traces for errors
data (default: the trainers' embedded default; the checkpoints' own data):
${configUsage(EVAL_DATA)}
  --help                   this text`;

async function main(): Promise<void> {
  const v = parseFlags(TASK, USAGE, {
    agents: { type: "string" },
    runs: { type: "string" },
    rollouts: { type: "string" },
    split: { type: "string" },
    arm: { type: "string" },
    batch: { type: "string" },
    "step-limit": { type: "string" },
    sample: { type: "boolean" },
    temperature: { type: "string" },
    seed: { type: "string" },
    name: { type: "string" },
    json: { type: "boolean" },
    ...configFlagSpecs(EVAL_DATA),
  });
  if (!v) return;
  const flags = v as Record<string, unknown>;
  const int = (name: string, dflt: number, min: number, max?: number) =>
    intFlag(TASK, USAGE, name, flags[name] as string | undefined, dflt, min, max);
  if (!v.agents) usageError(TASK, USAGE, "--agents is required");
  const runs = int("runs", 5, 1, 1000), rollouts = int("rollouts", 1000, 1);
  const batch = int("batch", 16, 1), stepLimit = int("step-limit", 100, 1, 10_000);
  const seed = int("seed", 0, 0);
  const split = choiceFlag(
    TASK,
    USAGE,
    "split",
    v.split as string | undefined,
    "test",
    GOAL_SPLITS,
  );
  const arm = choiceFlag<ThompsonArmReward>(
    TASK,
    USAGE,
    "arm",
    v.arm as string | undefined,
    "success",
    [
      "success",
      "score",
    ],
  );
  const temperature = positiveFlag(TASK, USAGE, "temperature", v.temperature as string, 1);
  const name = runNameFlag(TASK, USAGE, v.name as string | undefined, "thompson");
  let sources, dataCfg;
  try {
    sources = parseAgentList(v.agents as string);
    dataCfg = applyConfigFlags(EVAL_DATA, flags);
  } catch (e) {
    usageError(TASK, USAGE, (e as Error).message);
  }
  // Stderr, so --json leaves stdout one JSON object.
  const say = (line: string) => console.error(line);
  const data = await loadEvalData(dataCfg, { tokenizer: needsModel(sources), say });
  // Every checkpoint is read and checked before a GPU is asked for or an episode starts.
  const prepared = [];
  for (const s of sources) prepared.push(await prepareAgent(s, data.tokenizer));
  const gpu = needsModel(sources) ? await requestGpu() : null;
  if (gpu) say(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const agents: LoadedAgent[] = prepared.map((p) =>
    instantiateAgent(p, gpu, data.tokenizer, {
      mode: v.sample ? "sample" : "greedy",
      temperature,
      seed,
    })
  );
  say(
    `${TASK}: ${agents.map((a) => `${a.label} (${a.source})`).join(", ")}; ${runs} runs x ` +
      `${rollouts} rollouts on the ${split} goals of ${data.catalog.goals.length} ` +
      `(${data.catalog.products.length} products), step limit ${stepLimit}, reward mode ` +
      `${dataCfg.rewardMode}`,
  );
  const lines: ThompsonRollout[] = [];
  const t0 = performance.now();
  let shown = 0;
  try {
    const result = await runThompson(
      agents.map((a) => ({ label: a.label, source: a.source, policy: a.policy })),
      {
        env: evalEnvConfig(data, stepLimit),
        split,
        runs,
        rollouts,
        arm,
        batch,
        seed,
        onRollout: (r) => lines.push(r),
        onProgress: (done, total) => {
          if (done === total || done - shown >= total / 20) {
            shown = done;
            say(`  rollouts ${progressText(done, total, t0)}`);
          }
        },
      },
    );
    const files = await saveThompson(`runs/${name}`, result, lines);
    if (v.json) console.log(JSON.stringify(result));
    else {
      console.log(formatThompsonTable(result));
      console.log(`written: ${files.json}, ${files.rollouts}`);
    }
  } finally {
    for (const a of agents) a.destroy();
  }
}

if (import.meta.main) await runMain(TASK, main);
