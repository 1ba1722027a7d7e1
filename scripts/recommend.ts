/**
 * The agent as a recommender (Feng 2024, §6): it shops --runs times for a free-text instruction,
 * sampling its actions, and the products it bought are ranked by count and score (the mean
 * reward where the instruction is one of the catalog's goals, else the value head's mean
 * estimate at the decision to buy).
 *
 *   deno task recommend --agent runs/dpo/final.safetensors --instruction "i need a red dress"
 *   deno task recommend --agent oracle --instruction "<a goal's instruction>" --runs 5
 *   deno task recommend --agent <ckpt> --catalog <webshop data folder> --instruction "..."
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import { makeEnvs } from "../agent/rollout.ts";
import {
  AGENT_FORMS,
  instantiateAgent,
  needsModel,
  parseAgentSource,
  prepareAgent,
} from "../eval/agents.ts";
import { EVAL_DATA, evalEnvConfig, loadEvalData } from "../eval/data.ts";
import { formatRecommendations, recommend } from "../eval/recommend.ts";
import { intFlag, parseFlags, positiveFlag, runMain, usageError } from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";

const TASK = "recommend";
const USAGE = `usage: deno task ${TASK} --agent <a> --instruction "..." [options]
  --agent <a>              ${AGENT_FORMS}
  --instruction <text>     what the shopper asks for (free text, or a goal's instruction)
  --k <k>                  products listed (default 10)
  --runs <m>               episodes (default 20)
  --temperature <t>        sampling temperature of a checkpoint (default 1)
  --step-limit <n>         steps per episode (default 100, WebShop's)
  --envs <e>               episodes played at once (default 20)
  --seed <s>               seed of sampling, the random agent and the env (default 0)
  --json                   print the result as one JSON object
  --debug                  stack traces for errors
data (default: the trainers' embedded default; --catalog <folder> for WebShop's data):
${configUsage(EVAL_DATA)}
  --help                   this text`;

async function main(): Promise<void> {
  const v = parseFlags(TASK, USAGE, {
    agent: { type: "string" },
    instruction: { type: "string" },
    k: { type: "string" },
    runs: { type: "string" },
    temperature: { type: "string" },
    "step-limit": { type: "string" },
    envs: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
    ...configFlagSpecs(EVAL_DATA),
  });
  if (!v) return;
  const flags = v as Record<string, unknown>;
  const int = (name: string, dflt: number, min: number, max?: number) =>
    intFlag(TASK, USAGE, name, flags[name] as string | undefined, dflt, min, max);
  if (!v.agent) usageError(TASK, USAGE, "--agent is required");
  const instruction = ((v.instruction as string | undefined) ?? "").trim();
  if (!instruction) usageError(TASK, USAGE, "--instruction is required");
  const k = int("k", 10, 1), runs = int("runs", 20, 1, 100_000);
  const stepLimit = int("step-limit", 100, 1, 10_000), seed = int("seed", 0, 0);
  const envCount = int("envs", Math.min(runs, 20), 1, 4096);
  const temperature = positiveFlag(TASK, USAGE, "temperature", v.temperature as string, 1);
  let source, dataCfg;
  try {
    source = parseAgentSource(v.agent as string);
    dataCfg = applyConfigFlags(EVAL_DATA, flags);
  } catch (e) {
    usageError(TASK, USAGE, (e as Error).message);
  }
  const model = needsModel([source]);
  const say = (line: string) => console.error(line);
  const data = await loadEvalData(dataCfg, { tokenizer: model, say });
  const prepared = await prepareAgent(source, data.tokenizer);
  const gpu = model ? await requestGpu() : null;
  if (gpu) say(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const agent = instantiateAgent(prepared, gpu, data.tokenizer, {
    mode: "sample",
    temperature,
    seed,
    values: true,
  });
  try {
    const envs = makeEnvs(envCount, { ...evalEnvConfig(data, stepLimit), seed });
    const r = await recommend(envs, agent.policy, instruction, { runs, k });
    if (v.json) {
      console.log(JSON.stringify({ agent: { label: agent.label, source: agent.source }, ...r }));
    } else {
      console.log(formatRecommendations(r));
      console.log(
        `${runs} episodes in ${r.seconds.toFixed(1)} s (${(runs / r.seconds).toFixed(1)}/s)`,
      );
    }
  } finally {
    agent.destroy();
  }
}

if (import.meta.main) await runMain(TASK, main);
