/**
 * WebShop's standard evaluation of one agent: every goal of the split, greedy actions (or
 * `--sample`), step limit 100; mean score ×100, success rate, the reward components, mean steps,
 * per category; over several seeds with their spread.
 *
 *   deno task eval:greedy --agent runs/dpo/final.safetensors
 *   deno task eval:greedy --agent oracle --seeds 1
 *
 * For `random` and `oracle` the episodes are played one at a time on one env seeded with the
 * seed, as `deno task rollout --human-queries` plays them, so both print the same numbers for
 * the same catalog, goals and seed (`rollout` stays: the env-level tool over any data folder with
 * per-episode records; this is the agent evaluation). Writes runs/<name>/greedy.json.
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import {
  AGENT_FORMS,
  instantiateAgent,
  needsModel,
  parseAgentSource,
  prepareAgent,
} from "../eval/agents.ts";
import { EVAL_DATA, evalEnvConfig, loadEvalData } from "../eval/data.ts";
import { evaluateSeeds, formatGreedyTable } from "../eval/greedy.ts";
import { writeAtomically } from "../base/atomic.ts";
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

const TASK = "eval:greedy";
const USAGE = `usage: deno task ${TASK} --agent <a> [options]
  --agent <a>              ${AGENT_FORMS}
  --split <s>              test (default), eval, train or all: every goal of it is played
  --seeds <n>              seeds 0..n-1 (default 3): the env's draws, the random agent's, sampling's
  --seed <s>               first seed (default 0)
  --sample                 a checkpoint samples actions (default greedy)
  --temperature <t>        sampling temperature with --sample (default 1)
  --step-limit <n>         steps per episode (default 100, WebShop's)
  --envs <e>               episodes played at once (default 32 for a checkpoint; 1 for random and
                           oracle, as deno task rollout plays them)
  --name <n>               results folder runs/<n> (default greedy)
  --json                   print the result as one JSON object
  --debug                  stack traces for errors
data (default: the trainers' embedded default; the checkpoint's own data):
${configUsage(EVAL_DATA)}
  --help                   this text`;

async function main(): Promise<void> {
  const v = parseFlags(TASK, USAGE, {
    agent: { type: "string" },
    split: { type: "string" },
    seeds: { type: "string" },
    seed: { type: "string" },
    sample: { type: "boolean" },
    temperature: { type: "string" },
    "step-limit": { type: "string" },
    envs: { type: "string" },
    name: { type: "string" },
    json: { type: "boolean" },
    ...configFlagSpecs(EVAL_DATA),
  });
  if (!v) return;
  const flags = v as Record<string, unknown>;
  const int = (name: string, dflt: number, min: number, max?: number) =>
    intFlag(TASK, USAGE, name, flags[name] as string | undefined, dflt, min, max);
  if (!v.agent) usageError(TASK, USAGE, "--agent is required");
  const nSeeds = int("seeds", 3, 1, 1000), seed0 = int("seed", 0, 0);
  const stepLimit = int("step-limit", 100, 1, 10_000);
  const split = choiceFlag(
    TASK,
    USAGE,
    "split",
    v.split as string | undefined,
    "test",
    GOAL_SPLITS,
  );
  const temperature = positiveFlag(TASK, USAGE, "temperature", v.temperature as string, 1);
  const name = runNameFlag(TASK, USAGE, v.name as string | undefined, "greedy");
  let source, dataCfg;
  try {
    source = parseAgentSource(v.agent as string);
    dataCfg = applyConfigFlags(EVAL_DATA, flags);
  } catch (e) {
    usageError(TASK, USAGE, (e as Error).message);
  }
  const model = needsModel([source]);
  const envCount = int("envs", model ? 32 : 1, 1, 4096);
  const say = (line: string) => console.error(line);
  const data = await loadEvalData(dataCfg, { tokenizer: model, say });
  // The checkpoint is read and checked before a GPU is asked for or an episode starts.
  const prepared = await prepareAgent(source, data.tokenizer);
  const gpu = model ? await requestGpu() : null;
  if (gpu) say(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const agent = instantiateAgent(prepared, gpu, data.tokenizer, {
    mode: v.sample ? "sample" : "greedy",
    temperature,
  });
  const seeds = Array.from({ length: nSeeds }, (_, i) => seed0 + i);
  say(
    `${TASK}: ${agent.label} (${agent.source}${
      v.sample ? `, sampling at temperature ${temperature}` : ""
    }) on the ${split} goals of ${data.catalog.goals.length} (${data.catalog.products.length} ` +
      `products), seeds ${seeds.join(", ")}, step limit ${stepLimit}, ${envCount} at once, ` +
      `reward mode ${dataCfg.rewardMode}`,
  );
  const t0 = performance.now();
  let shown = 0;
  try {
    const result = await evaluateSeeds(agent, (s) => agent.withSeed(s), {
      env: evalEnvConfig(data, stepLimit),
      split,
      seeds,
      envs: envCount,
      onEpisode: (s, done, total) => {
        const all = (s - seed0) * total + done, of = total * seeds.length;
        if (all === of || all - shown >= of / 10) {
          shown = all;
          say(`  episodes ${progressText(all, of, t0)}`);
        }
      },
    });
    await Deno.mkdir(`runs/${name}`, { recursive: true });
    const path = `runs/${name}/greedy.json`;
    await writeAtomically(path, [JSON.stringify(result, null, 2) + "\n"]);
    if (v.json) console.log(JSON.stringify(result));
    else {
      console.log(formatGreedyTable(result));
      console.log(`written: ${path}`);
    }
  } finally {
    agent.destroy();
  }
}

if (import.meta.main) await runMain(TASK, main);
