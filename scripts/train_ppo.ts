/**
 * PPO from the IL reference (`deno task train:ppo`) with WebShop's RL recipe (train_rl.py: 4
 * envs, updates every 8 env steps, γ 0.9, rewards ×10, value head bootstrapped returns, w_pg,
 * w_td, w_en 1) and PPO's clipped surrogate in place of the policy-gradient term; then a greedy
 * test evaluation.
 *
 *   deno task train:ppo                                    # the embedded default (IL reference cached)
 *   deno task train:ppo --ref runs/il/final.safetensors --time-budget 3
 *   deno task train:ppo --resume runs/ppo
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import { MAIN_DATA, MAIN_ENCODER, MAIN_IL, MAIN_PPO } from "../train/defaults.ts";
import { validateIlConfig } from "../train/il.ts";
import { collectorStateOf, trainPpo, validatePpoConfig } from "../train/ppo.ts";
import { runRl } from "../train/rl_pipeline.ts";
import { parseRlFlags, RL_FLAGS, rlUsage } from "./_rl_flags.ts";
import { runMain, usageError } from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";
import { resumeCheckpoint } from "../train/run.ts";

const USAGE = `usage: deno task train:ppo [options]
${rlUsage("ppo")}
PPO (WebShop train_rl.py defaults; --steps rollouts, --time-budget minutes of training, 0 for none):
${configUsage(MAIN_PPO)}
data:
${configUsage(MAIN_DATA)}
IL reference (when it is trained here):
${configUsage(MAIN_IL, "il-")}
  --help                   this text`;

async function main(): Promise<void> {
  const v = parseRlFlags("train:ppo", USAGE, {
    ...RL_FLAGS,
    ...configFlagSpecs(MAIN_PPO),
    ...configFlagSpecs(MAIN_DATA),
    ...configFlagSpecs(MAIN_IL, "il-"),
  });
  if (!v) return;
  let ppo, run;
  try {
    const il = validateIlConfig(applyConfigFlags(MAIN_IL, v.values, "il-"));
    ppo = validatePpoConfig(applyConfigFlags(MAIN_PPO, v.values));
    run = v.run("ppo", applyConfigFlags(MAIN_DATA, v.values), il, MAIN_ENCODER);
  } catch (e) {
    usageError("train:ppo", USAGE, (e as Error).message);
  }
  // Checked before any data is made or any GPU is asked for.
  if (run.resume) await resumeCheckpoint(`${run.runsDir}/${run.name}`);
  const gpu = await requestGpu();
  console.log(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const cfg = ppo;
  const result = await runRl(gpu, run, {
    name: "ppo",
    config: cfg,
    train: (ctx, setup, opt, resumed) =>
      trainPpo(ctx, cfg, setup, opt, {
        start: resumed?.step ?? 0,
        resumed: resumed ? collectorStateOf(resumed.extra) : undefined,
      }),
  });
  if (v.values.json) console.log(JSON.stringify(result));
}

if (import.meta.main) await runMain("train:ppo", main);
