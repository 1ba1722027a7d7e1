/**
 * Evaluation benchmark (`deno task bench:eval`): Thompson-sampling evaluation of three model
 * agents, batched (parallel runs, every live episode of every run in one submit per agent per
 * step) against one episode at a time (one run, batch 1: one decision per submit), measured in
 * the same run; prints rollouts/s of each, their ratio and the time the batched evaluation takes
 * for --rollouts rollouts, median of --reps repetitions. The agents are seeded random inits of
 * the chosen shape (default BERT tiny) on the embedded default's catalog and vocabulary: speed
 * does not depend on training, only on the shape, the token lengths and the episodes' lengths.
 * Both modes score with action caches (model/action_cache.ts), fresh for each measurement, as
 * `eval:thompson` does; `--no-cache` measures without them.
 * Each result is appended to runs/bench/eval.jsonl as measured.
 *
 * @module
 */

import { AgentEncoder } from "../agent/encoder.ts";
import { actionCacheFor, ModelPolicy } from "../agent/policy.ts";
import { EVAL_DATA, evalEnvConfig, loadEvalData } from "../eval/data.ts";
import { runThompson, type ThompsonArm, type ThompsonOptions } from "../eval/thompson.ts";
import { requestGpu } from "../kernels/device.ts";
import { BERT_PRESETS, type BertConfig } from "../model/config.ts";
import { choiceConfig, ChoiceModel } from "../model/choice_model.ts";
import { MAIN_ENCODER } from "../train/defaults.ts";
import { modelShape } from "../train/pipeline.ts";
import { intFlag, openJsonLines, parseFlags, runMain } from "./_cli.ts";
import { applyConfigFlags, configFlagSpecs, configUsage } from "./_config_flags.ts";

const TASK = "bench:eval";
const USAGE = `usage: deno task ${TASK} [options]
  --model <p>              agents' shape: nano, micro, tiny (default), mini
  --rollouts <n>           rollouts of the batched evaluation (default 1000)
  --runs <r>               its parallel runs (default 5; rollouts split evenly)
  --batch <b>              arms drawn per run per round (default 16)
  --sequential <n>         rollouts of the one-at-a-time evaluation (default 30)
  --step-limit <n>         steps per episode (default 20, the main job's evaluation limit)
  --reps <k>               repetitions, the median reported (default 3)
  --out <file>             JSON lines (default runs/bench/eval.jsonl)
  --no-cache               score without action caches (as before they existed)
data (default: the embedded default):
${configUsage(EVAL_DATA)}
  --help                   this text`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

async function main(): Promise<void> {
  const v = parseFlags(TASK, USAGE, {
    model: { type: "string" },
    rollouts: { type: "string" },
    runs: { type: "string" },
    batch: { type: "string" },
    sequential: { type: "string" },
    "step-limit": { type: "string" },
    reps: { type: "string" },
    out: { type: "string" },
    "no-cache": { type: "boolean" },
    ...configFlagSpecs(EVAL_DATA),
  });
  if (!v) return;
  const flags = v as Record<string, unknown>;
  const int = (name: string, dflt: number, min: number) =>
    intFlag(TASK, USAGE, name, flags[name] as string | undefined, dflt, min);
  const rollouts = int("rollouts", 1000, 1), runs = int("runs", 5, 1), batch = int("batch", 16, 1);
  const sequential = int("sequential", 30, 1), stepLimit = int("step-limit", 20, 1);
  const reps = int("reps", 3, 1);
  const shapeName = (v.model as string | undefined) ?? "tiny";
  const dataCfg = applyConfigFlags(EVAL_DATA, flags);
  const data = await loadEvalData(dataCfg, { tokenizer: true });
  const gpu = await requestGpu();
  console.log(`device: ${gpu.report.description} (${gpu.report.backend})`);
  const bert: BertConfig = {
    ...BERT_PRESETS.tiny,
    ...modelShape(shapeName),
    vocabSize: data.tokenizer!.vocabSize,
    maxPositionEmbeddings: 512,
  };
  const config = choiceConfig(bert);
  const encoder = new AgentEncoder(data.tokenizer!, MAIN_ENCODER);
  const models = [0, 1, 2].map((s) => ChoiceModel.create(gpu, config, undefined, { seed: s }));
  // Each measurement gets fresh action caches (as eval:thompson makes one per checkpoint), so
  // neither mode starts with the other's encodings; --no-cache scores without them.
  const noCache = !!v["no-cache"];
  const armsWithCaches = (): { arms: ThompsonArm[]; done: () => void } => {
    const caches = noCache ? [] : models.map((m) => actionCacheFor(m, encoder));
    const arms = models.map((m, i) => ({
      label: `${shapeName}-${i}`,
      source: `random init, seed ${i}`,
      policy: new ModelPolicy(m, encoder, {
        name: `${shapeName}-${i}`,
        maxBatch: 128,
        actionCache: caches[i],
      }),
    }));
    return { arms, done: () => caches.forEach((c) => c.destroy()) };
  };
  const thompson = async (opts: Omit<ThompsonOptions, "env">) => {
    const { arms, done } = armsWithCaches();
    try {
      return await runThompson(arms, { env, ...opts });
    } finally {
      done();
    }
  };
  const env = evalEnvConfig(data, stepLimit);
  // Compiles every kernel at the shapes used (the first dispatch compiles; not timed).
  await thompson({ runs: 2, rollouts: 4, batch: 2, seed: 99 });
  const out = openJsonLines((v.out as string | undefined) ?? "runs/bench/eval.jsonl");
  const perRun = Math.ceil(rollouts / runs);
  const rows: { batched: number; seq: number; batchedS: number }[] = [];
  for (let k = 0; k < reps; k++) {
    const b = await thompson({ runs, rollouts: perRun, batch, seed: k });
    const s = await thompson({ runs: 1, rollouts: sequential, batch: 1, seed: k });
    const row = {
      batched: b.rolloutsPerSecond,
      seq: s.rolloutsPerSecond,
      batchedS: b.seconds,
    };
    rows.push(row);
    out.write({
      kind: "bench:eval",
      rep: k,
      model: shapeName,
      stepLimit,
      agents: 3,
      actionCache: !noCache,
      batched: {
        runs,
        rollouts: runs * perRun,
        batch,
        seconds: b.seconds,
        rps: b.rolloutsPerSecond,
      },
      sequential: { rollouts: sequential, seconds: s.seconds, rps: s.rolloutsPerSecond },
      ratio: b.rolloutsPerSecond / s.rolloutsPerSecond,
      device: gpu.report.description,
      at: new Date().toISOString(),
    });
    console.log(
      `rep ${k + 1}/${reps}: batched ${b.rolloutsPerSecond.toFixed(2)} rollouts/s ` +
        `(${runs * perRun} in ${b.seconds.toFixed(1)} s), one at a time ` +
        `${s.rolloutsPerSecond.toFixed(2)} rollouts/s (${sequential} in ${s.seconds.toFixed(1)} s)`,
    );
  }
  out.close();
  const mb = median(rows.map((r) => r.batched)), ms = median(rows.map((r) => r.seq));
  const mt = median(rows.map((r) => r.batchedS));
  console.log(
    `\n| agents | action cache | step limit | batched rollouts/s | one at a time rollouts/s | ratio | ` +
      `${runs * perRun} batched rollouts |\n|---|---|---:|---:|---:|---:|---:|\n` +
      `| 3 x ${shapeName} | ${noCache ? "no" : "yes"} | ${stepLimit} | ${mb.toFixed(2)} | ${
        ms.toFixed(2)
      } | ` +
      `${(mb / ms).toFixed(1)}x (target >= 4x) | ${mt.toFixed(1)} s (target <= 180 s) |`,
  );
  for (const m of models) m.destroy();
}

if (import.meta.main) await runMain(TASK, main);
