import { assertClose, assertThrows } from "../testing/assert.ts";
import { gpuTest } from "../testing/gpu.ts";
import { randn } from "../testing/numeric.ts";
import {
  AdamW,
  adamwStep,
  noDecay,
  resolveAdamWConfig,
  warmAdamWKernels,
  zeroGrad,
} from "./adamw.ts";
import { adamwStepCpu } from "./cpu/adamw.ts";
import { GpuError } from "./device.ts";
import { tensor } from "./tensor.ts";

const H = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

gpuTest("adamwStep() first step moves each parameter by lr * sign(g), plus decay", async (gpu) => {
  const n = 1001, lr = 1e-3, wd = 0.1;
  const p0 = randn(n, 1), g = randn(n, 2);
  const param = tensor(gpu, [n], "p", p0), grad = tensor(gpu, [n], "g", g);
  const m = tensor(gpu, [n], "m"), v = tensor(gpu, [n], "v");
  gpu.run("adamw", (b) => adamwStep(b, param, grad, m, v, { ...H, lr, weightDecay: wd, step: 1 }));
  const expected = Float32Array.from(p0, (p, i) => p * (1 - lr * wd) - lr * Math.sign(g[i]));
  assertClose(await param.read(), expected, { atol: 1e-6, rtol: 1e-6 }, "first AdamW step");
});

gpuTest(
  "adamwStep() follows PyTorch's formulas over several steps (float64 reference)",
  async (gpu) => {
    const n = 4099;
    const p64 = Float64Array.from(randn(n, 3)),
      m64 = new Float64Array(n),
      v64 = new Float64Array(n);
    const param = tensor(gpu, [n], "p", p64), grad = tensor(gpu, [n], "g");
    const m = tensor(gpu, [n], "m"), v = tensor(gpu, [n], "v");
    const lrs = [1e-3, 2e-3, 5e-4, 1e-3, 3e-3, 1e-4];
    for (const [k, lr] of lrs.entries()) {
      // Gradients of varying scale, some tiny, so the eps and bias-correction terms matter.
      const g = randn(n, 10 + k, k % 2 ? 1e-3 : 1);
      for (let i = 0; i < n; i += 97) g[i] = 0;
      grad.write(g);
      const h = { beta1: 0.8, beta2: 0.95, eps: 1e-6, lr, weightDecay: 0.05, step: k + 1 };
      gpu.run("adamw", (b) => adamwStep(b, param, grad, m, v, h));
      adamwStepCpu(p64, g, m64, v64, h);
    }
    assertClose(
      await m.read(),
      m64,
      { atol: 3e-7, rtol: 1e-5 },
      "exp_avg after 6 steps (f32 rounding of m ~ 1e-7)",
    );
    assertClose(await v.read(), v64, { atol: 1e-12, rtol: 1e-5 }, "exp_avg_sq after 6 steps");
    assertClose(await param.read(), p64, { atol: 1e-6, rtol: 1e-5 }, "param after 6 steps");
  },
);

Deno.test("noDecay() follows the Hugging Face rule: biases and LayerNorm weights", () => {
  const yes = [
    "bert.embeddings.LayerNorm.weight",
    "bert.embeddings.LayerNorm.bias",
    "bert.encoder.layer.0.attention.output.LayerNorm.weight",
    "bert.encoder.layer.11.output.dense.bias",
    "transformer.h.0.ln_1.weight",
    "transformer.ln_f.weight",
    "decoder.final_ln.weight",
    "encoder.layer_norm.weight",
    "bias",
  ];
  const no = [
    "bert.embeddings.word_embeddings.weight",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.pooler.dense.weight",
    "kiln.weight",
    "linear.biased_weight",
  ];
  for (const n of yes) if (!noDecay(n)) throw new Error(`noDecay('${n}') should be true`);
  for (const n of no) if (noDecay(n)) throw new Error(`noDecay('${n}') should be false`);
});

gpuTest("AdamW decays weights but not biases or LayerNorm, and counts steps", async (gpu) => {
  const mk = (name: string, n: number) => ({
    name,
    param: tensor(gpu, [n], name, new Float32Array(n).fill(2)),
    grad: tensor(gpu, [n], `${name}.grad`),
  });
  const params = [
    mk("layer.dense.weight", 6),
    mk("layer.dense.bias", 3),
    mk("LayerNorm.weight", 5),
  ];
  const opt = new AdamW(gpu, params, { lr: 0.1, weightDecay: 0.5 });
  // Zero gradients: the Adam term is 0 / (0 + eps) = 0, so only decay moves a parameter.
  gpu.run("two steps", (b) => {
    opt.step(b);
    opt.step(b, 0.2);
  });
  if (opt.t !== 2) throw new Error(`t = ${opt.t} after two steps`);
  const decayed = 2 * (1 - 0.1 * 0.5) * (1 - 0.2 * 0.5);
  assertClose(await params[0].param.read(), Array(6).fill(decayed), { atol: 1e-6, rtol: 0 }, "w");
  assertClose(await params[1].param.read(), Array(3).fill(2), { atol: 0, rtol: 0 }, "bias");
  assertClose(await params[2].param.read(), Array(5).fill(2), { atol: 0, rtol: 0 }, "LayerNorm");
  const names = opt.stateTensors().map((s) => s.m.label + "," + s.v.label);
  if (names[1] !== "layer.dense.bias.exp_avg,layer.dense.bias.exp_avg_sq") {
    throw new Error(`state names: ${names}`);
  }
  opt.destroy();
});

gpuTest("AdamW steps match adamwStep() with the same step counts", async (gpu) => {
  const n = 300;
  const g = randn(n, 5), p0 = randn(n, 6);
  const a = { name: "w", param: tensor(gpu, [n], "a", p0), grad: tensor(gpu, [n], "ga", g) };
  const opt = new AdamW(gpu, [a], { lr: 1e-2, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.01 });
  const p64 = Float64Array.from(p0), m64 = new Float64Array(n), v64 = new Float64Array(n);
  for (let k = 1; k <= 3; k++) {
    gpu.run("opt", (b) => opt.step(b));
    adamwStepCpu(p64, g, m64, v64, {
      lr: 1e-2,
      beta1: 0.9,
      beta2: 0.99,
      eps: 1e-8,
      weightDecay: 0.01,
      step: k,
    });
  }
  assertClose(await a.param.read(), p64, { atol: 1e-6, rtol: 1e-5 }, "AdamW class vs reference");
});

gpuTest("zeroGrad() zeros every tensor", async (gpu) => {
  const ts = [tensor(gpu, [7], "a", randn(7, 1)), tensor(gpu, [2, 3], "b", randn(6, 2))];
  gpu.run("zero", (b) => zeroGrad(b, ts));
  for (const t of ts) {
    assertClose(await t.read(), new Float32Array(t.size), { atol: 0, rtol: 0 }, t.label);
  }
});

gpuTest("AdamW rejects bad shapes and hyper-parameters before dispatch", (gpu) => {
  const p = tensor(gpu, [4, 3], "p"), g = tensor(gpu, [3, 4], "g"), m = tensor(gpu, [4, 3], "m");
  const b = gpu.batch("bad");
  const h = { ...H, lr: 1e-3, weightDecay: 0, step: 1 };
  assertThrows(
    () => adamwStep(b, p, g, m, m, h),
    GpuError,
    "adamwStep: grad 'g' has shape [3, 4], expected [4, 3]",
  );
  assertThrows(() => adamwStep(b, p, m, m, m, { ...h, step: 0 }), GpuError, "adamwStep: step = 0");
  assertThrows(
    () => adamwStep(b, p, tensor(gpu, [4, 3], "g2"), m, m, h),
    GpuError,
    "adamwStep: 'm' and 'm' share a buffer",
  );
  assertThrows(() => adamwStep(b, p, m, m, m, { ...h, beta2: 1 }), GpuError, "beta2 = 1");
  assertThrows(() => resolveAdamWConfig({ lr: -1 }), GpuError, "AdamW config: lr = -1");
  assertThrows(
    () => new AdamW(gpu, [{ name: "w", param: p, grad: g }], { lr: 1 }),
    GpuError,
    "AdamW 'w': grad 'g' has shape [3, 4]",
  );
  assertThrows(
    () =>
      new AdamW(gpu, [{ name: "w", param: p, grad: m }, { name: "w", param: m, grad: p }], {
        lr: 1,
      }),
    GpuError,
    "parameter 'w' appears twice",
  );
  b.submit();
});

gpuTest("warmAdamWKernels() compiles the pipeline every step uses", async (gpu) => {
  warmAdamWKernels(gpu);
  const before = gpu.pipelineCount;
  const ts = [3, 4, 5].map((n) => ["p", "g", "m", "v"].map((l) => tensor(gpu, [n], l)));
  gpu.run("steps", (b) => {
    for (const [i, [p, g, m, v]] of ts.entries()) {
      adamwStep(b, p, g, m, v, { ...H, lr: 1e-3, weightDecay: 0, step: i + 1 });
    }
  });
  await gpu.sync();
  if (gpu.pipelineCount !== before) throw new Error("a step compiled a pipeline after warm-up");
});
