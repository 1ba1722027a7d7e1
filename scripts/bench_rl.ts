/**
 * Online RL benchmark (`deno task bench:rl`): on the embedded default (the synthetic catalog,
 * its tokenizer and the main job's model shape and lengths), times the two halves of a PPO or
 * LOOP iteration through the trainers' own code: rollout collection (every live env's decision
 * in one scoring submit, sampled at temperature 1) and the update phase (one submit per
 * minibatch of 32 for forward, clipped loss, backward and AdamW; LOOP's loss, and PPO's with the
 * value and entropy terms). Reports decisions/s and the achieved GFLOP/s (matmul FLOPs of the
 * forwards; a training decision counts 3×) next to one 512×768×768 matmul timed in the same run,
 * median of `--reps` repetitions, and appends JSON lines to runs/bench/rl.jsonl.
 *
 * @module
 */

import { AgentEncoder } from "../agent/encoder.ts";
import { loadAgent } from "../agent/checkpoint.ts";
import { ModelPolicy } from "../agent/policy.ts";
import { makeEnvs, rollout } from "../agent/rollout.ts";
import { goalIndicesForSplit } from "../env/mod.ts";
import { requestGpu } from "../kernels/device.ts";
import { choiceForwardFlops, ChoiceModel } from "../model/choice_model.ts";
import { prepareData } from "../train/data.ts";
import { MAIN_DATA, MAIN_ENCODER } from "../train/defaults.ts";
import { loopClipBounds } from "../train/loop_loss.ts";
import { ModelOptimizer } from "../train/optimizer.ts";
import { createAgentModel, modelShape } from "../train/pipeline.ts";
import { PolicyLossGpu } from "../train/ppo_loss_gpu.ts";
import { choiceSteps, policyUpdate } from "../train/rl_update.ts";
import { intFlag, openJsonLines, parseFlags, progressText, runMain } from "./_cli.ts";
import { matmulReference, median } from "./_bench_ref.ts";

const USAGE = `usage: deno task bench:rl [options]
  --ref <ckpt>        policy checkpoint (default: the main job's model shape, random init)
  --episodes <n>      episodes per rollout repetition (default 32: LOOP's 8 goals x 4)
  --envs <n>          envs played at once (default 32)
  --step-limit <n>    steps before an episode ends (default 20)
  --minibatch <n>     decisions per update submit (default 32)
  --update <n>        decisions of each update repetition, from the first rollout (default 128)
  --reps <n>          timed repetitions of each case (default 3)
  --out <file>        JSON lines output (default runs/bench/rl.jsonl)
  --debug             stack traces for errors
  --help              this text`;

async function main(): Promise<void> {
  const v = parseFlags("bench:rl", USAGE, {
    ref: { type: "string" },
    episodes: { type: "string" },
    envs: { type: "string" },
    "step-limit": { type: "string" },
    minibatch: { type: "string" },
    update: { type: "string" },
    reps: { type: "string" },
    out: { type: "string" },
  });
  if (!v) return;
  const int = (name: string, dflt: number) =>
    intFlag("bench:rl", USAGE, name, (v as Record<string, string | undefined>)[name], dflt, 1);
  const episodes = int("episodes", 32), nEnvs = int("envs", 32), reps = int("reps", 3);
  const stepLimit = int("step-limit", 20), minibatch = int("minibatch", 32);
  const updateDecisions = int("update", 128);
  const outPath = (v.out as string | undefined) ?? "runs/bench/rl.jsonl";

  const data = await prepareData(MAIN_DATA, () => {});
  // A bad --ref is one line before the GPU is asked for or anything is measured or written.
  const ck = v.ref
    ? await loadAgent(v.ref as string, { tokenizer: data.tokenizer.identity })
    : null;
  const gpu = await requestGpu();
  const device = `${gpu.report.description || gpu.report.vendor} (${gpu.report.backend})`;
  console.log(`device: ${device}`);
  const stamp = new Date().toISOString();
  const results = openJsonLines(outPath);
  const ref = await matmulReference(gpu);
  console.log(`matmul 512x768x768: ${ref.ms.toFixed(2)} ms, ${ref.gflops.toFixed(1)} GFLOP/s`);
  results.write({ bench: "rl", case: "matmul", shape: "512x768x768", ...ref, device, stamp });

  let model: ChoiceModel, encoderCfg = MAIN_ENCODER, from: string;
  if (ck) {
    model = ChoiceModel.create(gpu, ck.spec.model, ck.weights);
    encoderCfg = ck.spec.encoder;
    from = v.ref as string;
  } else {
    const made = await createAgentModel(
      gpu,
      "random",
      modelShape("nano"),
      MAIN_ENCODER,
      data.tokenizer.vocabSize,
      0,
    );
    model = made.model;
    from = "nano, random init";
  }
  const encoder = new AgentEncoder(data.tokenizer, encoderCfg);
  // Matmul FLOPs of every forward the trainers' code records (the bench's only instrumentation).
  let flops = 0;
  const forward = model.forward.bind(model);
  model.forward = (b, o) => {
    flops += choiceForwardFlops(model.config, model.dims);
    return forward(b, o);
  };
  const envConfig = {
    catalog: data.engine,
    goals: data.catalog.goals,
    goalQueryMap: data.catalog.goalQueryMap,
    rewardMode: MAIN_DATA.rewardMode,
    stepLimit,
  };
  const train = goalIndicesForSplit(data.catalog.goals.length, "train");
  const rows: string[][] = [];
  const cases = ["rollout", "update loop", "update ppo"];
  const t0 = performance.now();
  let done = 0;
  const record = (
    name: string,
    decisions: number[],
    seconds: number[],
    gflop: number[],
    k: number,
  ) => {
    const i = seconds.indexOf(median(seconds));
    const rate = decisions[i] / seconds[i], gflops = k * gflop[i] / seconds[i];
    const row = {
      bench: "rl",
      case: name,
      model: from,
      decisions: decisions[i],
      seconds: seconds[i],
      decisionsPerS: rate,
      gflops,
      vsMatmul: gflops / ref.gflops,
      reps,
      episodes,
      envs: nEnvs,
      stepLimit,
      minibatch,
      device,
      stamp,
    };
    results.write(row);
    rows.push([
      name,
      String(decisions[i]),
      seconds[i].toFixed(2),
      rate.toFixed(1),
      gflops.toFixed(2),
      (gflops / ref.gflops).toFixed(3),
    ]);
    console.log(rows.at(-1)!.join("\t"));
  };
  // One rollout first compiles every scoring kernel; its samples feed the update cases.
  const play = async (rep: number) => {
    const envs = makeEnvs(nEnvs, { ...envConfig, seed: rep });
    const policy = new ModelPolicy(model, encoder, { mode: "sample", seed: rep, values: false });
    const goals = train.slice(rep * episodes, (rep + 1) * episodes);
    return await rollout(envs, policy, goals);
  };
  await play(reps);
  const dec: number[] = [], sec: number[] = [], gf: number[] = [];
  let samples = [] as ReturnType<typeof choiceSteps>;
  for (let r = 0; r < reps; r++) {
    console.error(`rollout rep ${r + 1}/${reps} (cases ${progressText(done, cases.length, t0)})`);
    flops = 0;
    const t = performance.now();
    const trajs = await play(r);
    sec.push((performance.now() - t) / 1000);
    dec.push(trajs.reduce((a, x) => a + x.steps.length, 0));
    gf.push(flops / 1e9);
    if (r === 0) {
      samples = trajs.flatMap((x) => choiceSteps(x, (i) => (i % 2 ? 1 : -1) * 0.5))
        .slice(0, updateDecisions);
    }
  }
  record("rollout", dec, sec, gf, 1);
  done++;
  for (const kind of ["loop", "ppo"] as const) {
    const loss = new PolicyLossGpu(
      gpu,
      kind === "loop"
        ? { ...loopClipBounds(0.1), wPg: 1, wVf: 0, wEn: 0, clipValue: 0 }
        : { clipLow: 0.8, clipHigh: 1.2, wPg: 1, wVf: 1, wEn: 1, clipValue: 0 },
    );
    loss.warm();
    const opt = new ModelOptimizer(model, {
      lr: 1e-9,
      weightDecay: 0,
      clip: 1,
      schedule: "constant",
      warmupSteps: 0,
    });
    opt.warm();
    const u = { epochs: 1, minibatch, dropout: false, seed: 0 };
    const few = samples.slice(0, minibatch);
    await policyUpdate({ model, encoder }, loss, opt, few, u, "warm-up", 1e-9, 0, null);
    const d2: number[] = [], s2: number[] = [], g2: number[] = [];
    for (let r = 0; r < reps; r++) {
      console.error(
        `update ${kind} rep ${r + 1}/${reps} (cases ${progressText(done, cases.length, t0)})`,
      );
      flops = 0;
      const t = performance.now();
      const up = await policyUpdate(
        { model, encoder },
        loss,
        opt,
        samples,
        u,
        String(r),
        1e-9,
        0,
        null,
      );
      s2.push((performance.now() - t) / 1000);
      d2.push(up.decisions);
      g2.push(flops / 1e9);
    }
    // A training decision: forward, then a backward of about twice its FLOPs.
    record(`update ${kind}`, d2, s2, g2, 3);
    done++;
    loss.destroy();
    opt.destroy();
  }
  model.destroy();
  const head = ["case", "decisions", "s", "dec/s", "GFLOP/s", "vs matmul"];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padStart(width[i])).join("  ");
  console.log(`\n${fmt(head)}\n${rows.map(fmt).join("\n")}`);
  console.log(
    `matmul 512x768x768 reference: ${ref.gflops.toFixed(1)} GFLOP/s; model ${from}; ` +
      `${episodes} episodes on ${nEnvs} envs, step limit ${stepLimit}, minibatch ${minibatch}`,
  );
  results.close();
  console.log(`appended to ${outPath}`);
}

if (import.meta.main) await runMain("bench:rl", main);
