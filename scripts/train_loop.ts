/**
 * LOOP (Chen et al. 2025) from the IL reference (`deno task train:loop`): T goals × K rollouts
 * per iteration at temperature 1, leave-one-out advantages, PPO's per-action clipped objective
 * with asymmetric bounds, no value network and no reference model; then a greedy test evaluation.
 *
 *   deno task train:loop                                   # the embedded default (IL reference cached)
 *   deno task train:loop --ref runs/il/final.safetensors --time-budget 3
 *   deno task train:loop --resume runs/loop
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import { MAIN_DATA, MAIN_ENCODER, MAIN_IL, MAIN_LOOP } from "../train/defaults.ts";
import { validateIlConfig } from "../train/il.ts";
import { isValueHead, trainLoop, validateLoopConfig } from "../train/loop.ts";
import { runRl } from "../train/rl_pipeline.ts";
import { parseRlFlags, RL_FLAGS, rlUsage } from "./_rl_flags.ts";
import { runMain, usageError } from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";
import { resumeCheckpoint } from "../train/run.ts";

const USAGE = `usage: deno task train:loop [options]
${rlUsage("loop")}
LOOP (Chen et al. 2025; --steps iterations, --time-budget minutes of training, 0 for none):
${configUsage(MAIN_LOOP)}
data:
${configUsage(MAIN_DATA)}
IL reference (when it is trained here):
${configUsage(MAIN_IL, "il-")}
  --help                   this text`;

async function main(): Promise<void> {
  const v = parseRlFlags("train:loop", USAGE, {
    ...RL_FLAGS,
    ...configFlagSpecs(MAIN_LOOP),
    ...configFlagSpecs(MAIN_DATA),
    ...configFlagSpecs(MAIN_IL, "il-"),
  });
  if (!v) return;
  let loop, run;
  try {
    const il = validateIlConfig(applyConfigFlags(MAIN_IL, v.values, "il-"));
    loop = validateLoopConfig(applyConfigFlags(MAIN_LOOP, v.values));
    run = v.run("loop", applyConfigFlags(MAIN_DATA, v.values), il, MAIN_ENCODER);
  } catch (e) {
    usageError("train:loop", USAGE, (e as Error).message);
  }
  // Checked before any data is made or any GPU is asked for.
  if (run.resume) await resumeCheckpoint(`${run.runsDir}/${run.name}`);
  const gpu = await requestGpu();
  console.log(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const cfg = loop;
  const result = await runRl(gpu, run, {
    name: "loop",
    config: cfg,
    frozen: isValueHead,
    train: (ctx, setup, opt, resumed) =>
      trainLoop(ctx, cfg, setup, opt, { start: resumed?.step ?? 0 }),
  });
  if (v.values.json) console.log(JSON.stringify(result));
}

if (import.meta.main) await runMain("train:loop", main);
