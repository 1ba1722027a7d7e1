/**
 * Model benchmark (`deno task bench:model`): forward and training-step time of WebShop's choice
 * model at BERT tiny, mini and base sizes on realistic decisions (a state of 512 tokens with 16
 * actions of 64 tokens), for one decision and a batch of decisions. Prints tokens/s and achieved
 * GFLOP/s (matmul FLOPs; a training step counts 3× the forward's), next to one 512×768×768
 * matmul timed in the same run, and appends JSON lines to runs/bench/model.jsonl.
 *
 * Where a python3 with torch is installed, the same model at the same shapes in PyTorch
 * (scripts/bench_model_torch.py, a reference only) runs beside ours, one torch rep after each of
 * ours, and the table adds its ms and our speed relative to it (ours dec/s ÷ torch dec/s).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { requestGpu } from "../kernels/device.ts";
import { BERT_PRESETS } from "../model/config.ts";
import {
  type ChoiceBatch,
  choiceConfig,
  choiceForwardFlops,
  ChoiceModel,
  packChoiceBatch,
} from "../model/choice_model.ts";
import { seededUniform } from "../model/init.ts";
import { modelShape } from "../train/pipeline.ts";
import { openJsonLines, progressText } from "./_cli.ts";
import { matmulReference, median } from "./_bench_ref.ts";
import { imitationMicroStep } from "../train/il.ts";
import { ImitationLoss } from "../train/imitation_loss.ts";
import { ModelOptimizer } from "../train/optimizer.ts";
import { torchInfoText, TorchPeer } from "./_bench_torch.ts";

const USAGE = `usage: deno task bench:model [options]
  --presets LIST      sizes, comma-separated: main (the main job's model: nano, vocab 3014),
                      nano, micro, tiny, mini, small, base (default main,tiny,mini,base)
  --decisions LIST    decisions per batch (default 1,4)
  --state-len N       tokens per state (default 512)
  --actions N         actions per decision (default 16)
  --action-len N      tokens per action (default 64)
  --reps N            timed repetitions (default 3; base uses 1)
  --no-train          time the forward only
  --no-torch          skip the PyTorch peer (scripts/bench_model_torch.py)
  --torch-threads N   torch and OpenBLAS threads of the peer (default 2)
  --out FILE          JSON lines output (default runs/bench/model.jsonl)
  --help              this text`;

function decisionsBatch(
  n: number,
  stateLen: number,
  actions: number,
  actionLen: number,
  vocab: number,
): ChoiceBatch {
  const r = seededUniform(1234);
  const toks = (len: number) => [
    101,
    ...Array.from({ length: len - 2 }, () => 1000 + Math.floor(r() * (vocab - 1000))),
    102,
  ];
  const states = Array.from({ length: n }, () => toks(stateLen));
  const acts = Array.from(
    { length: n },
    () => Array.from({ length: actions }, () => toks(actionLen)),
  );
  return packChoiceBatch(states, acts);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      args: Deno.args,
      options: {
        presets: { type: "string", default: "main,tiny,mini,base" },
        decisions: { type: "string", default: "1,4" },
        "state-len": { type: "string", default: "512" },
        actions: { type: "string", default: "16" },
        "action-len": { type: "string", default: "64" },
        reps: { type: "string" },
        "no-train": { type: "boolean", default: false },
        "no-torch": { type: "boolean", default: false },
        "torch-threads": { type: "string", default: "2" },
        out: { type: "string", default: "runs/bench/model.jsonl" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  const v = args.values;
  if (v.help) {
    console.log(USAGE);
    return;
  }
  const int = (s: string, name: string) => {
    const x = Number(s);
    if (!Number.isInteger(x) || x < 1) {
      console.error(`--${name} must be a positive integer, got '${s}'\n${USAGE}`);
      Deno.exit(2);
    }
    return x;
  };
  const presets = v.presets!.split(",");
  const known = ["main", "nano", "micro", ...Object.keys(BERT_PRESETS)];
  for (const p of presets) {
    if (!known.includes(p)) {
      console.error(`unknown preset '${p}' (have ${known.join(", ")})`);
      Deno.exit(2);
    }
  }
  const decisions = v.decisions!.split(",").map((s) => int(s, "decisions"));
  const stateLen = int(v["state-len"]!, "state-len"), actions = int(v.actions!, "actions");
  const actionLen = int(v["action-len"]!, "action-len");
  const train = !v["no-train"];
  const torchThreads = int(v["torch-threads"]!, "torch-threads");

  const gpu = await requestGpu();
  const device = `${gpu.report.description || gpu.report.vendor} (${gpu.report.backend})`;
  console.log(`device: ${device}`);
  const stamp = new Date().toISOString();
  const lines: Record<string, unknown>[] = [];
  // Each result is appended as it is measured, so a stopped run keeps what it measured.
  const results = openJsonLines(v.out!);

  // The reference: one 512×768×768 matmul, median of several submits.
  {
    const { ms, gflops } = await matmulReference(gpu);
    console.log(`matmul 512x768x768: ${ms.toFixed(2)} ms, ${gflops.toFixed(1)} GFLOP/s`);
    lines.push({ bench: "model", case: "matmul", shape: "512x768x768", ms, gflops, device, stamp });
    results.write(lines.at(-1));
  }
  const matmulGflops = lines[0].gflops as number;

  // The PyTorch peer, where installed: started after our matmul so its start is not timed.
  let torch: TorchPeer | null = null;
  if (!v["no-torch"]) {
    const started = await TorchPeer.start(torchThreads);
    if (typeof started === "string") console.log(started);
    else {
      torch = started;
      console.log(`torch peer: ${torchInfoText(torch.info)}`);
    }
  }
  const dropTorch = async (e: unknown) => {
    console.log(`${(e as Error).message}; continuing without torch`);
    await torch?.close();
    torch = null;
  };

  const rows: string[][] = [];
  // Progress over the (preset, decisions, mode) cases, with the time left.
  const totalCases = presets.length * decisions.length * (train ? 2 : 1);
  let casesDone = 0;
  const benchStart = performance.now();
  for (const preset of presets) {
    // "main" is the main job's model and vocabulary (train/defaults.ts, the learned WordPiece).
    const bertCfg = {
      ...BERT_PRESETS.tiny,
      ...modelShape(preset === "main" ? "nano" : preset),
      vocabSize: preset === "main" || preset === "nano" || preset === "micro" ? 3014 : 30526,
    };
    const cfg = choiceConfig(bertCfg);
    const model = ChoiceModel.create(gpu, cfg, undefined, { seed: 1 });
    const loss = new ImitationLoss(gpu);
    const made: { opt?: ModelOptimizer } = {};
    const opt = (m: ChoiceModel) =>
      made.opt ??= new ModelOptimizer(m, {
        lr: 1e-5,
        weightDecay: 0,
        clip: 1,
        schedule: "constant",
        warmupSteps: 0,
      });
    const isBase = preset === "base";
    const reps = v.reps ? int(v.reps, "reps") : isBase ? 1 : 3;
    const warmup = isBase ? 0 : 1;
    for (const n of decisions) {
      const inp = decisionsBatch(n, stateLen, actions, actionLen, bertCfg.vocabSize);
      const dims = model.setInputs(inp);
      const tokens = dims.S * dims.Ts + dims.A * dims.Ta;
      const fwdFlops = choiceForwardFlops(cfg, dims);
      const modes = train ? ["forward", "train"] as const : ["forward"] as const;
      if (torch) {
        await torch.setCase({
          vocab: bertCfg.vocabSize,
          hidden: bertCfg.hiddenSize,
          layers: bertCfg.numHiddenLayers,
          heads: bertCfg.numAttentionHeads,
          intermediate: bertCfg.intermediateSize,
          max_positions: bertCfg.maxPositionEmbeddings,
          value_hidden: cfg.valueHidden,
          dropout: bertCfg.hiddenDropoutProb,
          attention_dropout: bertCfg.attentionProbsDropoutProb,
          eps: bertCfg.layerNormEps,
          decisions: n,
          state_len: stateLen,
          actions,
          action_len: actionLen,
        }).catch(dropTorch);
      }
      for (const mode of modes) {
        const times: number[] = [], torchTimes: number[] = [];
        for (let i = 0; i < warmup + reps; i++) {
          console.error(
            `${preset} x${n} ${mode}: ${
              i < warmup ? "warm-up" : `rep ${i - warmup + 1}/${reps}`
            }... (cases ${progressText(casesDone, totalCases, benchStart)})`,
          );
          const t0 = performance.now();
          if (mode === "forward") {
            const b = gpu.batch("bench forward");
            model.score(b, inp);
            b.submit();
          } else {
            imitationMicroStep(model, loss, inp, Array(n).fill(0), {
              dropout: true,
              seed: i,
              update: { opt: opt(model), lr: 1e-5 },
            });
          }
          await gpu.sync(`bench ${mode}`);
          if (i >= warmup) times.push(performance.now() - t0);
          // Torch's rep right after ours, so both see the same load.
          if (torch) {
            const ms = await torch.rep(mode).catch(dropTorch);
            if (typeof ms === "number" && i >= warmup) torchTimes.push(ms);
          }
        }
        casesDone++;
        const ms = median(times);
        const flops = mode === "forward" ? fwdFlops : 3 * fwdFlops;
        const gflops = flops / (ms * 1e6);
        const tps = tokens / (ms / 1000);
        const torchMs = torch && torchTimes.length === reps ? median(torchTimes) : null;
        if (torchMs !== null) {
          lines.push({
            bench: "model",
            case: `torch choice ${mode}`,
            preset,
            decisions: n,
            stateLen,
            actions,
            actionLen,
            tokens,
            ms: torchMs,
            decisionsPerS: n / (torchMs / 1000),
            gflop: flops / 1e9,
            gflops: flops / (torchMs * 1e6),
            vsMatmul: flops / (torchMs * 1e6) / matmulGflops,
            reps,
            ...torch!.info,
            stamp,
          });
          results.write(lines.at(-1));
        }
        lines.push({
          bench: "model",
          case: `choice ${mode}`,
          preset,
          decisions: n,
          stateLen,
          actions,
          actionLen,
          tokens,
          ms,
          decisionsPerS: n / (ms / 1000),
          tokensPerS: tps,
          gflop: flops / 1e9,
          gflops,
          vsMatmul: gflops / matmulGflops,
          torchMs,
          vsTorch: torchMs === null ? null : torchMs / ms,
          reps,
          device,
          stamp,
        });
        rows.push([
          preset,
          String(n),
          mode,
          String(tokens),
          ms.toFixed(1),
          (n / (ms / 1000)).toFixed(1),
          tps.toFixed(0),
          (flops / 1e9).toFixed(1),
          gflops.toFixed(1),
          (gflops / matmulGflops).toFixed(2),
          torchMs === null ? "-" : torchMs.toFixed(1),
          torchMs === null ? "-" : (flops / (torchMs * 1e6)).toFixed(1),
          torchMs === null ? "-" : (torchMs / ms).toFixed(2),
        ]);
        results.write(lines.at(-1));
        console.log(rows.at(-1)!.join("\t"));
      }
    }
    made.opt?.destroy();
    loss.destroy();
    model.destroy();
  }
  const head = [
    "preset",
    "dec",
    "mode",
    "tokens",
    "ms",
    "dec/s",
    "tok/s",
    "GFLOP",
    "GFLOP/s",
    "vs matmul",
    "torch ms",
    "torch GFLOP/s",
    "vs torch",
  ];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padStart(width[i])).join("  ");
  console.log(`\n${fmt(head)}\n${rows.map(fmt).join("\n")}`);
  console.log(`matmul 512x768x768 reference: ${matmulGflops.toFixed(1)} GFLOP/s`);
  if (torch) {
    console.log(`vs torch = ours dec/s ÷ torch dec/s; ${torchInfoText(torch.info)}`);
    await torch.close();
  }
  results.close();
  console.log(`wrote ${lines.length} lines to ${v.out}`);
}

if (import.meta.main) await main();
