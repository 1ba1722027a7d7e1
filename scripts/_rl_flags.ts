/**
 * The flags `train:loop` and `train:ppo` share (run folder, resume, reference, model, lengths,
 * evaluation, step limit), parsed into the run config of `train/rl_pipeline.ts`.
 *
 * @module
 */

import type { EncoderConfig } from "../agent/encoder.ts";
import type { DataConfig } from "../train/data.ts";
import type { IlConfig } from "../train/il.ts";
import { modelShape } from "../train/pipeline.ts";
import type { RlRunConfig } from "../train/rl_pipeline.ts";
import { type FlagSpecs, intFlag, parseFlags } from "./_cli.ts";

/** The shared flags. */
export const RL_FLAGS: FlagSpecs = {
  name: { type: "string" },
  resume: { type: "string" },
  ref: { type: "string" },
  init: { type: "string" },
  model: { type: "string" },
  "state-len": { type: "string" },
  "action-len": { type: "string" },
  "test-goals": { type: "string" },
  "eval-goals": { type: "string" },
  "eval-envs": { type: "string" },
  "step-limit": { type: "string" },
  "eval-reference": { type: "boolean" },
  "sample-seeds": { type: "string" },
  json: { type: "boolean" },
};

/** Usage lines of the shared flags. */
export function rlUsage(name: string): string {
  return `  --name <n>               run folder runs/<n> (default ${name})
  --resume <dir>           continue the run in <dir> from its last.safetensors, same flags
  --ref <ckpt>             IL reference checkpoint to start from (default: the main job's, cached
                           under runs/cache, trained first when absent)
  --init <i>               start of an IL reference trained here: random, a Hugging Face BERT
                           folder, or a checkpoint (default random)
  --model <p>              encoder size of a reference trained here (default nano)
  --state-len <n>          tokens per state (default 384; WebShop 512)
  --action-len <n>         tokens per action (default 32; WebShop 64 in RL)
  --test-goals <n>         test goals of the final greedy evaluation, 0 for all (default 0)
  --eval-goals <n>         eval goals of the greedy evaluation at the end of training (default 0)
  --eval-envs <n>          episodes played at once in evaluation (default 32)
  --step-limit <n>         steps before an episode ends with reward 0, in training and
                           evaluation (default 20; WebShop 100)
  --eval-reference         also evaluate the IL reference on the test goals (paired)
  --sample-seeds <n>       seeds of the sampled test evaluation (softmax at temperature 1, as
                           WebShop's test.py), every test goal once per seed (default 2; 0: none)
  --json                   print the result as one JSON object at the end
  --debug                  stack traces for errors`;
}

/** Parsed flags: the raw values and a builder of the run config. */
export function parseRlFlags(task: string, usage: string, specs: FlagSpecs) {
  const v = parseFlags(task, usage, specs);
  if (!v) return null;
  const values = v as Record<string, unknown>;
  const int = (name: string, dflt: number, min: number) =>
    intFlag(task, usage, name, values[name] as string | undefined, dflt, min);
  return {
    values,
    run(name: string, data: DataConfig, il: IlConfig, encoder: EncoderConfig): RlRunConfig {
      const resume = (values.resume as string | undefined)?.replace(/\/$/, "");
      return {
        name: resume ? resume.split("/").pop()! : (values.name as string | undefined) ?? name,
        runsDir: resume ? resume.split("/").slice(0, -1).join("/") || "." : "runs",
        resume: !!resume,
        data,
        model: modelShape((values.model as string | undefined) ?? "nano"),
        encoder: {
          stateLen: int("state-len", encoder.stateLen, 3),
          actionLen: int("action-len", encoder.actionLen, 3),
        },
        init: (values.init as string | undefined) ?? "random",
        reference: (values.ref as string | undefined) ?? "",
        il,
        testGoals: int("test-goals", 0, 0),
        evalGoals: int("eval-goals", 0, 0),
        envs: int("eval-envs", 32, 1),
        stepLimit: int("step-limit", 20, 1),
        sampleSeeds: int("sample-seeds", 2, 0),
        seed: il.seed,
        evalReference: !!values["eval-reference"],
      };
    },
  };
}
