/**
 * Run folders for the report's tests, written in the schemas of eval:thompson, eval:greedy and
 * the trainers (train/run.ts RunLog): a Thompson comparison of three arms whose per-rollout
 * lines and summary agree, greedy evaluations of two agents over three seeds, a DPO run and an
 * IL run with their configs.
 *
 * @module
 */

import type {
  ExperimentFile,
  GreedyFile,
  ThompsonFile,
  ThompsonRolloutRow,
} from "./report_inputs.ts";

/** Deterministic numbers in [0, 1) (a linear congruential generator). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) : 0;
  return { mean: m, std: Math.sqrt(v) };
}

/** A Thompson comparison: `runs` runs of `rollouts`, arms with success rates 0.9, 0.5, 0. */
export function thompsonFixture(
  runs = 2,
  rollouts = 60,
): { summary: ThompsonFile; rollouts: ThompsonRolloutRow[] } {
  const arms = [
    { label: "oracle", source: "oracle", p: 0.9 },
    { label: "dpo", source: "runs/x/final.safetensors", p: 0.5 },
    { label: "random", source: "random", p: 0 },
  ];
  const lines: ThompsonRolloutRow[] = [];
  const perArmRuns = arms.map(() => [] as ThompsonFile["agents"][number]["perRun"]);
  const runRecords: ThompsonFile["runs"] = [];
  for (let r = 0; r < runs; r++) {
    const rng = lcg(100 + r);
    const a = arms.map(() => 1), b = arms.map(() => 1), pulls = arms.map(() => 0);
    const score = arms.map(() => 0), succ = arms.map(() => 0);
    const played: number[] = [], realised: number[] = [];
    for (let t = 0; t < rollouts; t++) {
      // Greedy on posterior mean with some exploration: enough for realistic-looking lines.
      const k = t < arms.length
        ? t
        : rng() < 0.2
        ? Math.floor(rng() * arms.length)
        : a.map((x, i) => x / (x + b[i])).reduce((bi, v, i, m) => (v > m[bi] ? i : bi), 0);
      const success = rng() < arms[k].p;
      const s = success ? 100 : Math.round(100 * arms[k].p * rng());
      a[k] += success ? 1 : 0;
      b[k] += success ? 0 : 1;
      pulls[k]++;
      score[k] += s;
      succ[k] += success ? 1 : 0;
      played.push(k);
      realised.push(success ? 1 : 0);
      const posteriorMeans: Record<string, number> = {};
      arms.forEach((arm, i) => posteriorMeans[arm.label] = a[i] / (a[i] + b[i]));
      lines.push({
        run: r,
        t,
        agent: arms[k].label,
        goal: Math.floor(rng() * 200),
        score: s,
        success,
        posteriorMeans,
      });
    }
    arms.forEach((_, i) =>
      perArmRuns[i].push({
        pulls: pulls[i],
        meanScore: pulls[i] > 0 ? score[i] / pulls[i] : null,
        successRate: pulls[i] > 0 ? succ[i] / pulls[i] : null,
        posteriorMean: a[i] / (a[i] + b[i]),
        credible: [
          Math.max(0, a[i] / (a[i] + b[i]) - 0.1),
          Math.min(1, a[i] / (a[i] + b[i]) + 0.1),
        ],
      })
    );
    const mu = arms.map((_, i) => (pulls[i] > 0 ? succ[i] / pulls[i] : -Infinity));
    const best = mu.reduce((bi, v, i, m) => (v > m[bi] ? i : bi), 0);
    let acc = 0;
    runRecords.push({
      run: r,
      seed: r,
      pulls: Object.fromEntries(arms.map((arm, i) => [arm.label, pulls[i]])),
      regret: played.map((k) => (acc += mu[best] - mu[k])),
      bestArm: arms[best].label,
    });
    void realised;
  }
  const stat = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? meanStd(v) : { mean: null, std: null };
  };
  const agents = arms.map((arm, i) => {
    const pr = perArmRuns[i];
    const p = stat(pr.map((x) => x.pulls)), s = stat(pr.map((x) => x.meanScore));
    const su = stat(pr.map((x) => x.successRate)), po = stat(pr.map((x) => x.posteriorMean));
    return {
      label: arm.label,
      source: arm.source,
      perRun: pr,
      mean: { pulls: p.mean!, meanScore: s.mean, successRate: su.mean, posteriorMean: po.mean! },
      std: { pulls: p.std!, meanScore: s.std, successRate: su.std, posteriorMean: po.std! },
    };
  });
  return {
    summary: {
      kind: "webshop-thompson",
      config: {
        agents: arms.map(({ label, source }) => ({ label, source })),
        runs,
        rollouts,
        split: "test",
        arm: "success",
        batch: 16,
        seed: 0,
      },
      agents,
      runs: runRecords,
      rollouts: runs * rollouts,
      seconds: 12.5,
      rolloutsPerSecond: (runs * rollouts) / 12.5,
    },
    rollouts: lines,
  };
}

/** A greedy evaluation of one agent over three seeds. */
export function greedyFixture(label: string, source: string, base: number): GreedyFile {
  const seeds = [0, 1, 2];
  const perSeed = seeds.map((seed) => {
    const score = base + 3 * seed, successRate = Math.min(1, (base + 2 * seed) / 200);
    return {
      seed,
      score,
      successRate,
      components: { r_att: 0.5 + seed / 100, r_option: 0.4, r_price: 0.9, r_type: 0.95 },
      meanSteps: 6 + seed / 10,
      categories: {
        beauty: { episodes: 120, score: score - 2, successRate },
        electronics: { episodes: 128, score: score + 2, successRate },
      },
    };
  });
  const s = meanStd(perSeed.map((x) => x.score)), r = meanStd(perSeed.map((x) => x.successRate));
  const m = meanStd(perSeed.map((x) => x.meanSteps));
  return {
    kind: "webshop-greedy",
    agent: { label, source },
    split: "test",
    seeds,
    perSeed,
    mean: { score: s.mean, successRate: r.mean, meanSteps: m.mean },
    std: { score: s.std, successRate: r.std, meanSteps: m.std },
    rolloutsPerSecond: 41.5,
  };
}

/** metrics.jsonl rows of a DPO run as trainDpo logs them (an eval row at the end). */
export function dpoRows(steps = 40): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (let step = 1; step <= steps; step++) {
    const m = 0.05 * step;
    rows.push({
      phase: "dpo",
      step,
      loss: Math.log(1 + Math.exp(-0.1 * m)),
      "rewards/chosen": -0.01 * step,
      "rewards/rejected": -0.06 * step,
      "rewards/margins": m,
      "rewards/accuracies": Math.min(1, 0.5 + step / 80),
      "logps/chosen": -1.5 - step / 20,
      "logps/rejected": -2.3 - step / 10,
      lr: 0.002,
      pairs: 6,
      time_s: 0.8 * step,
    });
  }
  rows.push({
    phase: "dpo",
    step: steps,
    "eval/score": 33.3,
    "eval/success_rate": 0.04,
    time_s: 0.8 * steps + 5,
  });
  return rows;
}

/** metrics.jsonl rows of an IL run (loss, grad_norm, lr; eval rows every 10 updates). */
export function ilRows(steps = 30): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (let step = 1; step <= steps; step++) {
    rows.push({
      phase: "il",
      step,
      loss: 2.5 / Math.sqrt(step),
      grad_norm: 1,
      lr: 4e-3,
      time_s: 1.1 * step,
    });
    if (step % 10 === 0) {
      rows.push({
        phase: "il",
        step,
        "eval/score": step,
        "eval/success_rate": step / 300,
        time_s: 1.1 * step + 1,
      });
    }
  }
  return rows;
}

/** An experiment record: the reference and two trainers over two seeds, one phase skipped. */
export function experimentFixture(): ExperimentFile {
  const agent = (trainer: string, label: string, seed: number, score: number) => ({
    trainer,
    label,
    seed,
    checkpoint: `runs/x/${trainer}-s${seed}/final.safetensors`,
    updates: 150,
    trainSeconds: 120,
    greedy: { episodes: 248, score, successRate: score / 400, meanSteps: 7, seconds: 60 },
  });
  return {
    kind: "webshop-experiment",
    command: "deno task experiment --seeds 2",
    config: { seeds: 2, trainerMinutes: 2 },
    phases: [
      { id: "il", status: "done", command: "deno task experiment (phase il)", seconds: 260 },
      {
        id: "dpo-demos-s0",
        status: "done",
        command: "deno task experiment (phase dpo-demos-s0)",
        seconds: 120,
      },
      {
        id: "ppo-s0",
        status: "skipped",
        reason: "no PPO trainer in this tree",
        command: "deno task experiment (phase ppo-s0)",
      },
    ],
    agents: [
      agent("il", "IL reference", 0, 2),
      agent("dpo-demos", "DPO (demos)", 0, 30),
      agent("dpo-demos", "DPO (demos)", 1, 36),
      agent("dpo-generated", "DPO (generated)", 0, 20),
      agent("dpo-generated", "DPO (generated)", 1, 12),
    ],
  };
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r) + "\n").join("");

/**
 * Writes a run folder `dir` holding experiment.json, `thompson/` (thompson.json and its rollout lines),
 * `greedy-dpo/` and `greedy-il/` (greedy.json) and `dpo/` and `il/` (config.json and
 * metrics.jsonl).
 */
export async function writeReportFixture(dir: string): Promise<void> {
  const th = thompsonFixture();
  for (const d of ["thompson", "greedy-dpo", "greedy-il", "dpo", "il"]) {
    await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  }
  await Deno.writeTextFile(`${dir}/experiment.json`, JSON.stringify(experimentFixture()));
  await Deno.writeTextFile(`${dir}/thompson/thompson.json`, JSON.stringify(th.summary, null, 2));
  await Deno.writeTextFile(`${dir}/thompson/thompson_rollouts.jsonl`, jsonl(th.rollouts));
  await Deno.writeTextFile(
    `${dir}/greedy-dpo/greedy.json`,
    JSON.stringify(greedyFixture("dpo", "runs/x/dpo/final.safetensors", 30)),
  );
  await Deno.writeTextFile(
    `${dir}/greedy-il/greedy.json`,
    JSON.stringify(greedyFixture("il", "runs/x/il/final.safetensors", 5)),
  );
  await Deno.writeTextFile(
    `${dir}/dpo/config.json`,
    JSON.stringify({ trainer: { name: "dpo", config: { beta: 0.1, steps: 40 } } }),
  );
  await Deno.writeTextFile(`${dir}/dpo/metrics.jsonl`, jsonl(dpoRows()));
  await Deno.writeTextFile(
    `${dir}/il/config.json`,
    JSON.stringify({ trainer: { name: "il", config: { lr: 4e-3, maxSteps: 30 } } }),
  );
  await Deno.writeTextFile(`${dir}/il/metrics.jsonl`, jsonl(ilRows()));
}
