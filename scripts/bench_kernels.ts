/**
 * Kernel benchmark: `deno task bench:kernels [--json] [--op name] [--reps N]`.
 *
 * For each case of kernels/_bench/{matmul,nn,train_step}.ts: compile and warm up, then time several
 * submits of `reps` runs each (synced with gpu.sync(); the latency of an empty submit, measured
 * first, is subtracted from each) and report the median ms per run, GFLOP/s
 * or GB/s (memory-bound cases also as a fraction of the copy kernel's GB/s), the CPU reference
 * time at the same shape and the speedup. Each result is appended to runs/bench/kernels.jsonl
 * (or --out) as soon as it is measured, with progress and an estimate of the time left.
 *
 * @module
 */

import { requestGpu } from "../kernels/device.ts";
import type { BenchCase } from "../kernels/_bench/types.ts";
import { cases as matmulCases, type ScaledBenchInstance } from "../kernels/_bench/matmul.ts";
import { intFlag, openJsonLines, parseFlags, progressText, runMain, usageError } from "./_cli.ts";

const USAGE = `usage: deno task bench:kernels [--json] [--op name] [--reps N] [--submits N]
  --json       print one JSON object per case instead of the table
  --op NAME    only cases whose op contains NAME (e.g. matmul, copy, layernorm)
  --reps N     runs per submit (default: enough for ~0.3 s of work per submit, at most 2000)
  --submits N  timed submits per case; the median is reported (default 5)
  --out FILE   results file, appended to as each case is measured
               (default runs/bench/kernels.jsonl; the task may write only under runs/)
  --debug      stack traces on errors
  --help       this text`;

/** GPU time of one case. */
interface Result {
  op: string;
  shape: string;
  ms: number;
  gflops: number | null;
  gbs: number | null;
  copyRatio: number | null;
  cpuMs: number | null;
  cpuScaled: boolean;
  speedup: number | null;
  reps: number;
  submits: number;
  /** Latency of an empty submit + sync, subtracted from every submit before dividing by reps. */
  syncMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Case lists of the other kernel families; a missing or broken one is skipped with a note. */
async function optionalCases(name: string): Promise<BenchCase[]> {
  const url = new URL(`../kernels/_bench/${name}.ts`, import.meta.url).href;
  try {
    const mod = await import(url) as { cases?: BenchCase[] };
    return mod.cases ?? [];
  } catch (e) {
    console.error(
      `note: skipping kernels/_bench/${name}.ts: ${(e as Error).message.split("\n")[0]}`,
    );
    return [];
  }
}

async function main(): Promise<void> {
  const args = parseFlags("bench:kernels", USAGE, {
    json: { type: "boolean", default: false },
    op: { type: "string" },
    reps: { type: "string" },
    submits: { type: "string" },
    out: { type: "string" },
  });
  if (!args) return;
  const fixedReps = intFlag("bench:kernels", USAGE, "reps", args.reps, undefined, 1, 1_000_000) ??
    null;
  const submits = intFlag("bench:kernels", USAGE, "submits", args.submits, 5, 1, 1000);

  const all = [...matmulCases, ...await optionalCases("nn"), ...await optionalCases("train_step")];
  const selected = all.filter((c) => !args.op || c.op.includes(args.op));
  if (!selected.length) {
    usageError(
      "bench:kernels",
      USAGE,
      `no case matches --op ${args.op}; ops: ${[...new Set(all.map((c) => c.op))].join(", ")}`,
    );
  }

  const gpu = await requestGpu();
  const r = gpu.report;
  const adapter = `${r.description || "(no description)"} vendor=${r.vendor} ` +
    `fallback=${r.isFallback} backend=${r.backend}${gpu.isSoftware ? " (software)" : ""}`;
  console.log(`adapter: ${adapter}`);
  console.log(`${selected.length} cases, ${submits} timed submits each`);
  const syncMs = await syncLatency(gpu);
  console.log(`empty submit + sync: ${syncMs.toFixed(2)} ms (subtracted from each timed submit)`);

  // The copy kernel is the bandwidth reference: measure it first when any case is memory-bound.
  const copyCase = all.find((c) => c.op === "copy");
  let copyGbs: number | null = null;
  const results: Result[] = [];
  const ordered = copyCase && selected.some((c) => c.bytes) && !selected.includes(copyCase)
    ? [copyCase, ...selected]
    : [...selected].sort((a, b) => (a === copyCase ? -1 : b === copyCase ? 1 : 0));
  const header = !args.json;
  const path = args.out ?? "runs/bench/kernels.jsonl";
  // Each result is appended as it is measured: a stopped run keeps the cases it finished.
  const out = openJsonLines(path);
  const stamp = new Date().toISOString();
  const t0 = performance.now();
  let done = 0;
  for (const c of ordered) {
    const res = await timeCase(gpu, c, fixedReps, submits, copyGbs, syncMs);
    if (c === copyCase) {
      copyGbs = res.gbs;
      res.copyRatio = 1;
    }
    if (!selected.includes(c)) continue;
    results.push(res);
    out.write({ time: stamp, adapter, ...res });
    if (args.json) console.log(JSON.stringify(res));
    else {
      console.error(
        `[${progressText(++done, selected.length, t0)}] ${c.op} ${c.shape}: ` +
          `${res.ms.toFixed(3)} ms`,
      );
    }
  }
  out.close();
  if (header) printTable(results);
  if (header && results.some((x) => x.cpuScaled)) {
    console.log("* CPU time measured on a slice of the rows and scaled to the full shape");
  }
  if (header) console.log(`appended ${results.length} results to ${path}`);
  gpu.destroy();
}

type Gpu = Awaited<ReturnType<typeof requestGpu>>;

/**
 * Median time of an empty submit followed by a sync: the fixed cost of every timed submit (about
 * 12 ms on lavapipe), which would otherwise be charged to the runs of fast cases.
 */
async function syncLatency(gpu: Gpu): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    gpu.run("empty submit", () => {});
    await gpu.sync("empty submit");
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function timeCase(
  gpu: Gpu,
  c: BenchCase,
  fixedReps: number | null,
  submits: number,
  copyGbs: number | null,
  syncMs: number,
): Promise<Result> {
  const inst = c.setup(gpu) as ScaledBenchInstance;
  // Warm-up: the first dispatch compiles the pipeline (seconds for big kernels on llvmpipe).
  gpu.run(`${c.op} warm-up`, (b) => inst.run(b));
  await gpu.sync(`${c.op} warm-up`);
  let t0 = performance.now();
  gpu.run(`${c.op} probe`, (b) => inst.run(b));
  await gpu.sync(`${c.op} probe`);
  const once = Math.max(performance.now() - t0 - syncMs, 0.01);
  const reps = fixedReps ?? Math.max(1, Math.min(2000, Math.round(300 / once)));
  const times: number[] = [];
  for (let s = 0; s < submits; s++) {
    t0 = performance.now();
    gpu.run(`${c.op} x${reps}`, (b) => {
      for (let i = 0; i < reps; i++) inst.run(b);
    });
    await gpu.sync(`${c.op} timing`); // sync point: the end of the timed submit
    times.push(Math.max(performance.now() - t0 - syncMs, 0) / reps);
  }
  const ms = median(times);
  // CPU reference: repeat while cheap, once when slow; a sliced reference is scaled up.
  let cpuMs: number | null = null;
  if (inst.cpu) {
    const cpuTimes: number[] = [];
    const start = performance.now();
    while (cpuTimes.length < 3 && performance.now() - start < 1500) {
      t0 = performance.now();
      inst.cpu();
      cpuTimes.push(performance.now() - t0);
    }
    cpuMs = median(cpuTimes) / (inst.cpuFraction ?? 1);
  }
  inst.destroy?.();
  const gflops = c.flops ? c.flops / ms / 1e6 : null;
  const gbs = c.bytes ? c.bytes / ms / 1e6 : null;
  return {
    op: c.op,
    shape: c.shape,
    ms,
    gflops,
    gbs,
    copyRatio: gbs !== null && copyGbs ? gbs / copyGbs : null,
    cpuMs,
    cpuScaled: (inst.cpuFraction ?? 1) !== 1,
    speedup: cpuMs !== null ? cpuMs / ms : null,
    reps,
    submits,
    syncMs,
  };
}

const HEADS = ["op", "shape", "gpu ms", "GFLOP/s", "GB/s", "×copy", "cpu ms", "speedup"];

function cells(x: Result): string[] {
  const f = (v: number | null, d: number) => v === null ? "-" : v.toFixed(d);
  return [
    x.op,
    x.shape,
    f(x.ms, 3),
    f(x.gflops, 2),
    f(x.gbs, 2),
    f(x.copyRatio, 2),
    x.cpuMs === null ? "-" : `${x.cpuMs.toFixed(1)}${x.cpuScaled ? "*" : ""}`,
    x.speedup === null ? "-" : `${x.speedup.toFixed(x.speedup < 1 ? 2 : 1)}x`,
  ];
}

/** The results as a table: text columns left-aligned, numbers right-aligned. */
function printTable(results: Result[]): void {
  const rows = results.map(cells);
  const widths = HEADS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  ");
  console.log(line(HEADS));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
}

if (import.meta.main) await runMain("bench:kernels", main);
