/**
 * Self-generated demonstrations (`deno task generate`, Feng 2024 §3.2): the reference agent
 * samples episodes on training goals; those ending with reward 1 are kept, loops pruned, and
 * written in WebShop's il_trajs format until --n are kept; prints the acceptance rate.
 *
 *   deno task generate --ref runs/cache/il-reference-<id>/final.safetensors --n 100
 *   deno task train:dpo --ref <same> --demos runs/generate/il_trajs_generated.jsonl
 *
 * @module
 */

import { loadAgent } from "../agent/checkpoint.ts";
import { AgentEncoder } from "../agent/encoder.ts";
import { actionCacheFor, ModelPolicy } from "../agent/policy.ts";
import { makeEnvs } from "../agent/rollout.ts";
import { writeDemonstrations } from "../env/demos.ts";
import { goalIndicesForSplit } from "../env/goals.ts";
import { requestGpu } from "../kernels/device.ts";
import { ChoiceModel } from "../model/choice_model.ts";
import { prepareData } from "../train/data.ts";
import { MAIN_DATA } from "../train/defaults.ts";
import { generateTrajectories } from "../train/generate.ts";
import { intFlag, parseFlags, runMain, usageError } from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";

const USAGE = `usage: deno task generate --ref <ckpt> [options]
  --ref <ckpt>             the agent that plays (an IL reference checkpoint)
  --n <k>                  trajectories to keep (default 100)
  --max-episodes <m>       give up after m episodes (default 20 x n)
  --temperature <t>        sampling temperature (default 1)
  --envs <e>               episodes played at once (default 32)
  --step-limit <s>         steps per episode (default 20; WebShop 100)
  --seed <s>               seed of sampling and of the goal order (default 0)
  --out <file>             il_trajs jsonl to write (default runs/generate/il_trajs_generated.jsonl)
  --debug                  stack traces for errors
data (the same as the reference was trained on):
${configUsage(MAIN_DATA)}
  --help                   this text`;

async function main(): Promise<void> {
  const v = parseFlags("generate", USAGE, {
    ref: { type: "string" },
    n: { type: "string" },
    "max-episodes": { type: "string" },
    temperature: { type: "string" },
    envs: { type: "string" },
    "step-limit": { type: "string" },
    seed: { type: "string" },
    out: { type: "string" },
    ...configFlagSpecs(MAIN_DATA),
  });
  if (!v) return;
  const flags = v as Record<string, unknown>;
  const int = (name: string, dflt: number, min: number) =>
    intFlag("generate", USAGE, name, flags[name] as string | undefined, dflt, min);
  if (!v.ref) usageError("generate", USAGE, "--ref is required");
  const n = int("n", 100, 1), maxEpisodes = int("max-episodes", 20 * n, 1);
  const seed = int("seed", 0, 0), envCount = int("envs", 32, 1);
  const temperature = v.temperature === undefined ? 1 : Number(v.temperature);
  if (!(temperature > 0)) usageError("generate", USAGE, "--temperature must be positive");
  let dataCfg;
  try {
    dataCfg = applyConfigFlags(MAIN_DATA, flags);
  } catch (e) {
    usageError("generate", USAGE, (e as Error).message);
  }
  const out = (v.out as string | undefined) ?? "runs/generate/il_trajs_generated.jsonl";
  const gpu = await requestGpu();
  const data = await prepareData(dataCfg);
  const ck = await loadAgent(v.ref as string, { tokenizer: data.tokenizer.identity });
  const model = ChoiceModel.create(gpu, ck.spec.model, ck.weights);
  const encoder = new AgentEncoder(data.tokenizer, ck.spec.encoder);
  const policy = new ModelPolicy(model, encoder, {
    mode: "sample",
    temperature,
    seed,
    name: "reference",
    actionCache: actionCacheFor(model, encoder),
  });
  const envs = makeEnvs(envCount, {
    catalog: data.engine,
    goals: data.catalog.goals,
    rewardMode: dataCfg.rewardMode,
    goalQueryMap: data.catalog.goalQueryMap,
    stepLimit: int("step-limit", 20, 1),
    seed,
  });
  const train = goalIndicesForSplit(data.catalog.goals.length, "train");
  const { kept, played, prunedSteps } = await generateTrajectories(envs, policy, train, {
    n,
    maxEpisodes,
    seed,
    onRound: (g) =>
      console.log(
        `generate: ${g.kept.length}/${n} kept of ${g.played} episodes ` +
          `(acceptance ${(100 * g.kept.length / g.played).toFixed(1)}%), ${
            (g.played / g.seconds).toFixed(1)
          } episodes/s`,
      ),
  });
  await Deno.mkdir(out.slice(0, Math.max(0, out.lastIndexOf("/"))) || ".", { recursive: true });
  await writeDemonstrations(out, kept);
  console.log(
    `generate: wrote ${kept.length} trajectories with reward 1 to ${out}; acceptance ` +
      `${(100 * kept.length / Math.max(1, played)).toFixed(1)}% of ${played} episodes; ` +
      `${prunedSteps} looped steps pruned`,
  );
  if (kept.length < n) {
    console.error(
      `generate: only ${kept.length} of ${n} after ${played} episodes (--max-episodes)`,
    );
    Deno.exit(1);
  }
  policy.actionCache?.destroy();
  model.destroy();
}

if (import.meta.main) await runMain("generate", main);
