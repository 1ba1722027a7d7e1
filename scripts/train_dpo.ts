/**
 * The project's main job (`deno task train:dpo`): an imitation-learned reference (trained and
 * cached when none is given), DPO on demonstrations against it (Feng 2024, §3.1), the IL control
 * for as many updates, and a greedy test evaluation of all three with 95% intervals.
 *
 *   deno task train:dpo                                  # the embedded default, end to end
 *   deno task train:dpo --ref runs/il/final.safetensors --demos runs/gen/il_trajs.jsonl
 *   deno task train:dpo --catalog data/webshop --demos il_trajs_finalized_images.jsonl \
 *     --tokenizer bert-base-uncased --init bert-base-uncased --steps 3000   # the paper's setup
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import { MAIN_DATA, MAIN_DPO, MAIN_ENCODER, MAIN_IL } from "../train/defaults.ts";
import { validateDpoConfig } from "../train/dpo.ts";
import { validateIlConfig } from "../train/il.ts";
import { modelShape, type PipelineConfig, runPipeline } from "../train/pipeline.ts";
import { resumeCheckpoint } from "../train/run.ts";
import { intFlag, parseFlags, runMain, usageError } from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";

const USAGE = `usage: deno task train:dpo [options]
  --name <n>               run folder runs/<n> (default dpo)
  --resume <dir>           continue the DPO run in <dir> (runs/<name>) from its last.safetensors,
                           with the same flags; then the control and the evaluation
  --ref <ckpt>             IL reference checkpoint (default: train one, cached under runs/cache)
  --init <i>               start of the IL reference: random, a Hugging Face BERT folder, or a
                           checkpoint (default random)
  --model <p>              encoder size: nano, micro, tiny, mini, small, base (default nano)
  --state-len <n>          tokens per state (default ${MAIN_ENCODER.stateLen}; WebShop 512)
  --action-len <n>         tokens per action (default ${MAIN_ENCODER.actionLen}; WebShop 128)
  --test-goals <n>         test goals evaluated, 0 for the whole split (default 0)
  --eval-goals <n>         eval goals of a greedy evaluation after each phase (default 0: none)
  --envs <n>               episodes played at once in evaluation (default 32)
  --step-limit <n>         steps before an evaluation episode ends with reward 0 (default 20;
                           WebShop 100)
  --sample-seeds <n>       seeds of the sampled test evaluation, each agent sampling on every
                           test goal once per seed (default 8; 0: greedy only)
  --no-control             skip the IL control
  --control-lr <x>         learning rate of the IL control (default: DPO's, so that the control
                           differs from DPO only in its loss)
  --json                   print the result as one JSON object at the end
  --debug                  stack traces for errors
data (what the catalog, tokenizer and demonstrations are):
${configUsage(MAIN_DATA)}
DPO (TRL's names; --demos selects the demonstrations, e.g. from deno task generate):
${configUsage(MAIN_DPO)}
IL reference (when it is trained here):
${configUsage(MAIN_IL, "il-")}
  --help                   this text`;

async function main(): Promise<void> {
  const v = parseFlags("train:dpo", USAGE, {
    name: { type: "string" },
    resume: { type: "string" },
    ref: { type: "string" },
    init: { type: "string" },
    model: { type: "string" },
    "state-len": { type: "string" },
    "action-len": { type: "string" },
    "test-goals": { type: "string" },
    "eval-goals": { type: "string" },
    envs: { type: "string" },
    "step-limit": { type: "string" },
    "sample-seeds": { type: "string" },
    "no-control": { type: "boolean" },
    "control-lr": { type: "string" },
    json: { type: "boolean" },
    ...configFlagSpecs(MAIN_DATA),
    ...configFlagSpecs(MAIN_DPO),
    ...configFlagSpecs(MAIN_IL, "il-"),
  });
  if (!v) return;
  const int = (name: string, dflt: number, min: number) =>
    intFlag(
      "train:dpo",
      USAGE,
      name,
      (v as Record<string, unknown>)[name] as string | undefined,
      dflt,
      min,
    );
  let cfg: PipelineConfig;
  try {
    const il = validateIlConfig(applyConfigFlags(MAIN_IL, v as Record<string, unknown>, "il-"));
    const dpo = validateDpoConfig(applyConfigFlags(MAIN_DPO, v as Record<string, unknown>));
    const controlLr = v["control-lr"] === undefined ? dpo.lr : Number(v["control-lr"]);
    if (!(controlLr > 0)) throw new RangeError(`--control-lr must be positive`);
    cfg = {
      name: v.resume
        ? (v.resume as string).replace(/\/$/, "").split("/").pop()!
        : (v.name as string | undefined) ?? "dpo",
      runsDir: v.resume
        ? (v.resume as string).replace(/\/$/, "").split("/").slice(0, -1).join("/") || "."
        : "runs",
      resume: !!v.resume,
      data: applyConfigFlags(MAIN_DATA, v as Record<string, unknown>),
      model: modelShape((v.model as string | undefined) ?? "nano"),
      encoder: {
        stateLen: int("state-len", MAIN_ENCODER.stateLen, 3),
        actionLen: int("action-len", MAIN_ENCODER.actionLen, 3),
      },
      init: (v.init as string | undefined) ?? "random",
      reference: (v.ref as string | undefined) ?? "",
      il,
      dpo,
      control: !v["no-control"],
      controlLr,
      testGoals: int("test-goals", 0, 0),
      evalGoals: int("eval-goals", 0, 0),
      envs: int("envs", 32, 1),
      stepLimit: int("step-limit", 20, 1),
      sampleSeeds: int("sample-seeds", 8, 0),
      seed: il.seed,
    };
  } catch (e) {
    usageError("train:dpo", USAGE, (e as Error).message);
  }
  // Checked before any data is made or any GPU is asked for.
  if (cfg.resume) await resumeCheckpoint(`${cfg.runsDir}/${cfg.name}`);
  const gpu = await requestGpu();
  console.log(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const result = await runPipeline(gpu, cfg);
  if (v.json) console.log(JSON.stringify(result));
}

if (import.meta.main) await runMain("train:dpo", main);
